//! The OpenAPI description: the served spec matches the committed `openapi/openapi.json`, documents exactly the
//! routes the server answers, and Swagger UI is served from the binary.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::TestApp;

/// Every route the server answers besides the docs themselves.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/zipcode-assignments/stats"),
    ("get", "/api/v1/zipcode-assignments/current"),
    ("get", "/api/v1/zipcode-assignments/epoch/{epochId}"),
    ("get", "/api/v1/zipcode-assignments/desirability"),
    ("get", "/api/v1/zipcode-assignments/epoch/{epochId}/desirability"),
    ("get", "/api/v1/zipcode-assignments/epoch/{epochId}/results"),
    ("get", "/api/v1/zipcode-assignments/epoch/{epochId}/inputs"),
    ("get", "/api/v1/zipcode-assignments/epoch/{epochId}/proof"),
    ("post", "/api/v1/zipcode-assignments/status"),
    ("post", "/get-folder-access"),
    ("post", "/get-miner-specific-access"),
    ("post", "/get-validator-access"),
    ("post", "/api/v1/s3-access/validator-upload"),
    ("get", "/healthcheck"),
    ("get", "/health"),
    ("get", "/livez"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/dashboard"),
    ("get", "/dashboard/dashboard.js"),
    ("get", "/dashboard/dashboard.css"),
    ("get", "/api/v1/dashboard/overview"),
    ("get", "/api/v1/dashboard/map"),
    ("get", "/api/v1/dashboard/epoch/{epochId}/map"),
];

fn committed_spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json is committed")).unwrap()
}

fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            found.insert((method.clone(), path.clone()));
        }
    }
    found
}

#[tokio::test]
async fn the_served_spec_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let (status, mut served) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!((200, served.clone()), app.get("/docs-json").await);
    // A server that accepts Epistula names its own address at the end of the description; the rest is the same.
    let service = format!(
        "\n\nThis service's address, the `Epistula-Signed-For` of every Epistula request: `{}`.",
        crate::helpers::service_key().hotkey()
    );
    let description = served["info"]["description"].as_str().unwrap().to_string();
    let general = description.strip_suffix(&service).expect("the description ends with the service's address");
    served["info"]["description"] = Value::String(general.to_string());
    assert!(
        served == committed_spec(),
        "openapi/openapi.json is out of date: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_answers() {
    let app = TestApp::spawn().await;
    let (_, spec) = app.get("/openapi.json").await;
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(operations(&spec), expected);

    let http = reqwest::Client::new();
    for (method, path) in ROUTES {
        let url = format!("{}{}", app.base_url, path.replace("{epochId}", "2025-10-01T16-00-00"));
        let request = if *method == "get" { http.get(&url) } else { http.post(&url).body("{}") };
        let response = request.header("Content-Type", "application/json").send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status != 405 && body["message"] != "Route not found", "{method} {path}: {status} {body}");
        let operation = &spec["paths"][path][method];
        assert!(operation["responses"][status.to_string()].is_object(), "{method} {path}: {status} is undocumented");
        for error in ["400", "429", "431", "503"] {
            assert_eq!(
                operation["responses"][error]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .map(|r| r.ends_with("ErrorBody") || r.ends_with("ReadinessResponse")),
                Some(true),
                "{method} {path} {error}"
            );
        }
    }
    let (status, _) = app.get("/api/v1/undocumented").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_spec_explains_signing_and_gives_real_examples() {
    let spec = committed_spec();
    let intro = spec["info"]["description"].as_str().unwrap();
    for commitment in [
        "zipcode:assignment:current:{timestamp}",
        "zipcode:validation:{epochId}:{timestamp}",
        "zipcode:status:{epochId}:{timestamp}",
        "s3:data:access:{coldkey}:{hotkey}:{timestamp}",
        "s3:validator:miner:{miner_hotkey}:{timestamp}",
        "s3:validator:access:{timestamp}",
        "s3:validator:upload:{timestamp}",
    ] {
        assert!(intro.contains(commitment), "{commitment}");
    }
    let current = &spec["paths"]["/api/v1/zipcode-assignments/current"]["get"];
    let hotkey = current["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "hotkey").unwrap();
    assert_eq!(hotkey["required"], true);
    let example: zipcoord::domain::hotkey::Hotkey = hotkey["example"].as_str().unwrap().parse().expect("a valid SS58");
    assert_eq!(example.to_string(), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    let epoch = &spec["paths"]["/api/v1/zipcode-assignments/epoch/{epochId}"]["get"]["parameters"][0];
    assert_eq!(epoch["name"], "epochId");
    let example: zipcoord::domain::epoch::EpochId =
        epoch["example"].as_str().unwrap().parse().expect("a valid epoch id");
    assert_eq!(example.to_string(), "2025-10-01T16-00-00");
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/docs/", app.base_url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "the page loads nothing from the internet: {html}");
    let initializer = http.get(format!("{}/docs/swagger-initializer.js", app.base_url)).send().await.unwrap();
    assert_eq!(initializer.status(), 200);
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
}
