//! The OpenAPI 3.1 description: document-level text (how to sign, the error shape, limits), the error answers
//! every operation can give, and the spec's assembly from the routers (utoipa-axum collects each route's
//! documentation as it is registered, so no route exists undocumented).

use axum::Router;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use std::sync::Arc;

use crate::api::ErrorBody;
use crate::app::App;
use crate::domain::access::auth::Role;
use crate::domain::access::endpoint::{Method, SIGNED_ENDPOINTS};
use crate::domain::hotkey::Hotkey;

/// The description's text around the table of signed endpoints, which is written from the endpoint table.
const BEFORE_ENDPOINTS: &str = r#"Coordinates a Bittensor data-scraping subnet: every epoch (4 h by default) a random set of US zipcodes whose
expected listings add up to a target, the same assignment and nonce for every miner, S3 access for uploads and
reads, miners' progress reports, and past epochs for validators.

## Signing a request

Signed endpoints carry `hotkey` (SS58), `signature` and `timestamp` (Unix seconds): in the query string for GET,
in the JSON body for POST. The signature is the hotkey's sr25519 signature (substrate signing context) over an
exact commitment string, sent as 128 hex characters with or without `0x`; signatures over the `<Bytes>…</Bytes>`
wrapped string (what some wallets produce) are accepted too.

"#;

const AFTER_ENDPOINTS: &str = r#"Timestamps must be within ±300 s of the server's clock on the zipcode endpoints, and between 300 s before and
60 s after it on the S3 endpoints. A validator is a registered hotkey with a validator permit and at least the
configured stake. In Python: `wallet.hotkey.sign(f"zipcode:assignment:current:{ts}".encode()).hex()`.

## Signing with Epistula v2

Every signed endpoint also accepts the Epistula v2 headers in place of those fields: `Epistula-Version: 2`,
`Epistula-Timestamp` (Unix milliseconds), `Epistula-Uuid` (a fresh UUID for every request), `Epistula-Signed-By`
(the hotkey), `Epistula-Signed-For` (this service's address: `epistula.signedFor` in `/stats`) and
`Epistula-Request-Signature` (`0x` and 128 hex characters), the hotkey's signature over
`{sha256(body) hex}.{uuid}.{timestamp}.{signedFor}` (a GET signs the empty body; the `<Bytes>…</Bytes>` wrapping
is accepted too). The signature covers the whole body and each uuid is accepted once, so a captured request can
neither carry another body nor be sent again (401). The timestamp must lie between 8 s before and 2 s after the
server's clock (`epistula.maxAgeMs` and `maxAheadMs` in `/stats`). An Epistula request needs no `signature` or
`timestamp` field (they are not checked); a `hotkey`, when sent, must be the signer. `/stats` has no `epistula`
object when the service accepts only the legacy signatures.

## Errors and limits

Every error answers `{"statusCode", "message", "error", "detail"}`. Requests are rate limited per client IP
before any signature work and per hotkey after a signature verifies; a 429 carries `Retry-After` and
`X-RateLimit-Limit/Remaining/Reset`. Signed endpoints answer 503 when the metagraph is not loaded or too old to
judge registrations (retry later). Every answer carries an `x-request-id` header."#;

#[derive(OpenApi)]
#[openapi(
    info(title = "zipcoord"),
    tags(
        (name = "assignments", description = "Epochs, assignments and miners' status reports"),
        (name = "s3", description = "Scoped, expiring S3 access for miners' uploads and validators' reads"),
        (name = "health", description = "Health, liveness and readiness for operators and load balancers"),
        (name = "dashboard", description = "The operator dashboard (`/dashboard`) and the public JSON it reads"),
    ),
    components(schemas(ErrorBody)),
)]
struct ApiDoc;

/// The description's introduction: how to sign (with the table of signed endpoints), errors and limits, and
/// the service's address when it accepts Epistula.
fn introduction(service: Option<&Hotkey>) -> String {
    let mut text = String::from(BEFORE_ENDPOINTS);
    text.push_str("| endpoint | commitment | who |\n|---|---|---|\n");
    for endpoint in SIGNED_ENDPOINTS {
        let commitments: Vec<String> = endpoint.commitments.iter().map(|c| format!("`{c}`")).collect();
        text.push_str(&format!(
            "| `{} {}` | {} | {} |\n",
            endpoint.method.as_str(),
            endpoint.path,
            commitments.join(" or "),
            endpoint.audience()
        ));
    }
    text.push('\n');
    text.push_str(AFTER_ENDPOINTS);
    if let Some(service) = service {
        text.push_str(&service_paragraph(service));
    }
    text
}

/// The description's last paragraph on a server that accepts Epistula.
fn service_paragraph(service: &Hotkey) -> String {
    format!("\n\nThis service's address, the `Epistula-Signed-For` of every Epistula request: `{service}`.")
}

/// The API's routes and the description they build together, naming `service` (the address Epistula requests
/// are signed for) when there is one.
pub fn documented_routes(service: Option<&Hotkey>) -> (Router<Arc<App>>, utoipa::openapi::OpenApi) {
    let (routes, mut spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(super::assignments::router())
        .merge(super::desirability::router())
        .merge(super::verification::router())
        .merge(super::s3_access::router())
        .merge(super::health::router())
        .merge(super::metrics::router())
        .merge(super::dashboard::router())
        .split_for_parts();
    spec.info.description = Some(introduction(service));
    describe_signed_operations(&mut spec);
    add_common_errors(&mut spec);
    (routes, spec)
}

/// The API description as `zipcoord openapi` prints it: what every server serves at `/openapi.json`, less the
/// address of its own service key.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes(None).1
}

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
}

/// Describes each signed operation from its row in the endpoint table: what its signature covers, and what it
/// can refuse: a bad signature or an unregistered hotkey (401), a validator's missing permit or stake (403), an
/// oversized body (413).
fn describe_signed_operations(spec: &mut utoipa::openapi::OpenApi) {
    for endpoint in SIGNED_ENDPOINTS {
        let item = spec.paths.paths.get_mut(endpoint.path).expect("every signed endpoint is routed");
        let operation = match endpoint.method {
            Method::Get => item.get.as_mut(),
            Method::Post => item.post.as_mut(),
        }
        .expect("the route answers the endpoint's method");
        let mut covers = format!("`{}`", endpoint.commitments[0]);
        for older in &endpoint.commitments[1..] {
            covers.push_str(&format!(" (or the older `{older}`)"));
        }
        let signed = format!(
            "Signed by {}: `signature` is the hotkey's signature over {covers}, or the request carries Epistula \
             v2 headers.",
            endpoint.audience()
        );
        operation.description = Some(match operation.description.take() {
            Some(text) if !text.is_empty() => format!("{signed}\n\n{text}"),
            _ => signed,
        });
        let mut errors = vec![(
            "401",
            "Bad signature, unregistered hotkey, or an Epistula request that is stale, reused or not for this service",
        )];
        if endpoint.role == Role::Validator {
            errors.push(("403", "No validator permit, or stake below the minimum"));
        }
        if endpoint.method == Method::Post {
            errors.push(("413", "Body too large"));
        }
        for (status, description) in errors {
            operation.responses.responses.insert(status.to_string(), error_response(description).build().into());
        }
    }
}

/// Adds the errors any operation can answer, whatever its handler: malformed input, rate limits, oversized
/// headers, and service unavailability (metagraph, S3 store, time limit).
fn add_common_errors(spec: &mut utoipa::openapi::OpenApi) {
    let error = error_response;
    let header = |description: &str| HeaderBuilder::new().description(Some(description)).build();
    let common = [
        ("400", error("Malformed input or a timestamp outside the window").build()),
        (
            "429",
            error("Rate limited")
                .header("Retry-After", header("Seconds until a retry can succeed"))
                .header("X-RateLimit-Limit", header("Requests allowed per window"))
                .header("X-RateLimit-Remaining", header("Requests left in the window"))
                .header("X-RateLimit-Reset", header("Seconds until the window resets"))
                .build(),
        ),
        ("431", error("Request headers too large").build()),
        ("503", error("Metagraph not loaded or stale, S3 store not configured, or the request timed out").build()),
    ];
    for item in spec.paths.paths.values_mut() {
        let operations: [&mut Option<Operation>; 4] = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &common {
                operation.responses.responses.entry(status.to_string()).or_insert_with(|| response.clone().into());
            }
        }
    }
}
