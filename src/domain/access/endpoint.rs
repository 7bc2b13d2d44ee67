//! The signed endpoints of the wire contract, one row each: method, path, the commitment strings a signature
//! may cover, the role the caller needs, its timestamp window, its per-hotkey rate class, and whether it hands
//! out S3 access. The server's `Signed` extractor, the client's calls, the OpenAPI text, the contract document
//! and the tests all read this table, so adding a signed endpoint is one row here and one handler.
//!
//! Templates name their values in braces: `{timestamp}`, `{hotkey}`, `{epochId}`, `{coldkey}`, `{miner_hotkey}`
//! in commitments, `{epochId}` in paths. Values are inserted verbatim and never re-read as templates.

use crate::domain::access::auth::{Role, TimestampWindow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Which per-hotkey budget a request spends once its signature verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// `GET /current`, `GET /desirability` and `GET /epoch/{id}/results`.
    Current,
    /// `GET /epoch/{id}` (and its job list) and `POST /get-miner-specific-access`: a validator's per-miner burst.
    ValidatorBurst,
    /// `POST /status`.
    Status,
    /// The other S3 grants (folder access, validator access, validator upload).
    S3Grant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    /// The commitments a valid signature may cover; clients sign the first, the others are older forms.
    pub commitments: &'static [&'static str],
    pub role: Role,
    pub window: TimestampWindow,
    pub rate: RateClass,
    /// Answers 503 when the service has no S3 store.
    pub needs_s3: bool,
}

pub const CURRENT: Endpoint = Endpoint {
    method: Method::Get,
    path: "/api/v1/zipcode-assignments/current",
    commitments: &["zipcode:assignment:current:{timestamp}"],
    role: Role::Miner,
    window: TimestampWindow::ZIPCODE,
    rate: RateClass::Current,
    needs_s3: false,
};

pub const EPOCH: Endpoint = Endpoint {
    method: Method::Get,
    path: "/api/v1/zipcode-assignments/epoch/{epochId}",
    commitments: &["zipcode:validation:{epochId}:{timestamp}"],
    role: Role::Validator,
    window: TimestampWindow::ZIPCODE,
    rate: RateClass::ValidatorBurst,
    needs_s3: false,
};

/// The current epoch's assignment as a dynamic-desirability job list (a zipcoord addition), for any registered
/// hotkey, on `/current`'s budget.
pub const DESIRABILITY: Endpoint = Endpoint {
    method: Method::Get,
    path: "/api/v1/zipcode-assignments/desirability",
    commitments: &["zipcode:desirability:current:{timestamp}"],
    role: Role::Miner,
    window: TimestampWindow::ZIPCODE,
    rate: RateClass::Current,
    needs_s3: false,
};

/// A started epoch's job list, for validators (a zipcoord addition), on `/epoch/{id}`'s budget.
pub const EPOCH_DESIRABILITY: Endpoint = Endpoint {
    method: Method::Get,
    path: "/api/v1/zipcode-assignments/epoch/{epochId}/desirability",
    commitments: &["zipcode:desirability:{epochId}:{timestamp}"],
    role: Role::Validator,
    window: TimestampWindow::ZIPCODE,
    rate: RateClass::ValidatorBurst,
    needs_s3: false,
};

/// Every validator's published verdicts on an epoch, once its judging window has passed; open to miners too
/// (a zipcoord addition), on `/current`'s budget.
pub const RESULTS: Endpoint = Endpoint {
    method: Method::Get,
    path: "/api/v1/zipcode-assignments/epoch/{epochId}/results",
    commitments: &["zipcode:results:{epochId}:{timestamp}"],
    role: Role::Miner,
    window: TimestampWindow::ZIPCODE,
    rate: RateClass::Current,
    needs_s3: true,
};

pub const STATUS: Endpoint = Endpoint {
    method: Method::Post,
    path: "/api/v1/zipcode-assignments/status",
    commitments: &["zipcode:status:{epochId}:{timestamp}", "miner:status:{hotkey}:{epochId}:{timestamp}"],
    role: Role::Miner,
    window: TimestampWindow::ZIPCODE,
    rate: RateClass::Status,
    needs_s3: false,
};

pub const FOLDER_ACCESS: Endpoint = Endpoint {
    method: Method::Post,
    path: "/get-folder-access",
    commitments: &["s3:data:access:{coldkey}:{hotkey}:{timestamp}"],
    role: Role::Miner,
    window: TimestampWindow::S3,
    rate: RateClass::S3Grant,
    needs_s3: true,
};

pub const MINER_ACCESS: Endpoint = Endpoint {
    method: Method::Post,
    path: "/get-miner-specific-access",
    commitments: &["s3:validator:miner:{miner_hotkey}:{timestamp}"],
    role: Role::Validator,
    window: TimestampWindow::S3,
    rate: RateClass::ValidatorBurst,
    needs_s3: true,
};

pub const VALIDATOR_ACCESS: Endpoint = Endpoint {
    method: Method::Post,
    path: "/get-validator-access",
    commitments: &["s3:validator:access:{timestamp}"],
    role: Role::Validator,
    window: TimestampWindow::S3,
    rate: RateClass::S3Grant,
    needs_s3: true,
};

pub const VALIDATOR_UPLOAD: Endpoint = Endpoint {
    method: Method::Post,
    path: "/api/v1/s3-access/validator-upload",
    commitments: &["s3:validator:upload:{timestamp}"],
    role: Role::Validator,
    window: TimestampWindow::S3,
    rate: RateClass::S3Grant,
    needs_s3: true,
};

/// Every signed endpoint, in the contract's order.
pub const SIGNED_ENDPOINTS: [&Endpoint; 10] = [
    &CURRENT,
    &EPOCH,
    &DESIRABILITY,
    &EPOCH_DESIRABILITY,
    &RESULTS,
    &STATUS,
    &FOLDER_ACCESS,
    &MINER_ACCESS,
    &VALIDATOR_ACCESS,
    &VALIDATOR_UPLOAD,
];

/// The values a commitment or path may name. Builders fill what an endpoint needs; a template naming a value
/// that is not set renders it empty, which no signature covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignedValues<'a> {
    pub timestamp: i64,
    pub hotkey: &'a str,
    pub epoch_id: Option<&'a str>,
    pub coldkey: Option<&'a str>,
    pub miner_hotkey: Option<&'a str>,
}

impl<'a> SignedValues<'a> {
    pub fn new(hotkey: &'a str, timestamp: i64) -> Self {
        SignedValues { timestamp, hotkey, ..SignedValues::default() }
    }

    /// Values at `timestamp`, the signer's hotkey to be filled in by whoever signs.
    pub fn at(timestamp: i64) -> Self {
        SignedValues { timestamp, ..SignedValues::default() }
    }

    pub fn epoch(self, epoch_id: &'a str) -> Self {
        SignedValues { epoch_id: Some(epoch_id), ..self }
    }

    pub fn coldkey(self, coldkey: &'a str) -> Self {
        SignedValues { coldkey: Some(coldkey), ..self }
    }

    pub fn miner_hotkey(self, miner_hotkey: &'a str) -> Self {
        SignedValues { miner_hotkey: Some(miner_hotkey), ..self }
    }

    fn lookup(&self, name: &str, out: &mut String) -> bool {
        match name {
            "timestamp" => out.push_str(&self.timestamp.to_string()),
            "hotkey" => out.push_str(self.hotkey),
            "epochId" => out.push_str(self.epoch_id.unwrap_or_default()),
            "coldkey" => out.push_str(self.coldkey.unwrap_or_default()),
            "miner_hotkey" => out.push_str(self.miner_hotkey.unwrap_or_default()),
            _ => return false,
        }
        true
    }
}

/// `template` with each `{name}` replaced by its value; unknown names stay as written.
pub fn render(template: &str, values: &SignedValues<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if values.lookup(&after[..close], &mut out) => rest = &after[close + 1..],
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Endpoint {
    /// The commitment clients sign.
    pub fn commitment(&self, values: &SignedValues<'_>) -> String {
        render(self.commitments[0], values)
    }

    /// Every commitment a valid signature may cover.
    pub fn accepted_commitments(&self, values: &SignedValues<'_>) -> Vec<String> {
        self.commitments.iter().map(|template| render(template, values)).collect()
    }

    /// The request path with its `{epochId}` filled in.
    pub fn path_for(&self, values: &SignedValues<'_>) -> String {
        render(self.path, values)
    }

    /// Who may call it, in the contract's words.
    pub fn audience(&self) -> &'static str {
        match self.role {
            Role::Miner => "registered hotkeys",
            Role::Validator => "validators",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const EPOCH_ID: &str = "2025-10-01T16-00-00";

    #[test]
    fn commitments_match_the_contract() {
        let at = SignedValues::new(ALICE, 5);
        let cases = [
            (&CURRENT, at, "zipcode:assignment:current:5".to_string()),
            (&EPOCH, at.epoch(EPOCH_ID), "zipcode:validation:2025-10-01T16-00-00:5".into()),
            (&STATUS, at.epoch(EPOCH_ID), "zipcode:status:2025-10-01T16-00-00:5".into()),
            (&FOLDER_ACCESS, at.coldkey("ck"), format!("s3:data:access:ck:{ALICE}:5")),
            (&MINER_ACCESS, at.miner_hotkey("m"), "s3:validator:miner:m:5".into()),
            (&VALIDATOR_ACCESS, at, "s3:validator:access:5".into()),
            (&VALIDATOR_UPLOAD, at, "s3:validator:upload:5".into()),
        ];
        for (endpoint, values, expected) in cases {
            assert_eq!(endpoint.commitment(&values), expected, "{}", endpoint.path);
        }
        assert_eq!(
            STATUS.accepted_commitments(&at.epoch(EPOCH_ID))[1],
            format!("miner:status:{ALICE}:2025-10-01T16-00-00:5")
        );
        assert_eq!(EPOCH.path_for(&at.epoch(EPOCH_ID)), "/api/v1/zipcode-assignments/epoch/2025-10-01T16-00-00");
    }

    #[test]
    fn every_template_names_only_known_values() {
        let values = SignedValues::new("h", 1).epoch("e").coldkey("c").miner_hotkey("m");
        for endpoint in SIGNED_ENDPOINTS {
            for template in endpoint.commitments.iter().chain([&endpoint.path]) {
                assert!(!render(template, &values).contains('{'), "{template}");
            }
        }
    }

    /// `docs/wire-contract.md` names every signed endpoint with its method, path and exact commitments.
    #[test]
    fn the_contract_document_lists_every_row() {
        let contract = include_str!("../../../docs/wire-contract.md");
        for endpoint in SIGNED_ENDPOINTS {
            let row = contract
                .lines()
                .find(|line| line.starts_with(&format!("| {} `{}` |", endpoint.method.as_str(), endpoint.path)))
                .unwrap_or_else(|| panic!("no row for {} {}", endpoint.method.as_str(), endpoint.path));
            for commitment in endpoint.commitments {
                assert!(row.contains(&format!("`{commitment}`")), "{row} lacks {commitment}");
            }
            let documented = row.matches("`").count() / 2 - 1;
            assert_eq!(documented, endpoint.commitments.len(), "{row}");
        }
    }

    #[test]
    fn values_are_inserted_verbatim() {
        let values = SignedValues::new("h", 7).coldkey("{timestamp}");
        assert_eq!(FOLDER_ACCESS.commitment(&values), "s3:data:access:{timestamp}:h:7");
        assert_eq!(render("a{b}c{", &values), "a{b}c{");
    }
}
