use super::*;
use crate::s3::UploadMode;

/// #34: compose pasted the password into the URL, and a base64 one (`/`, `+`, `=`) failed "invalid port
/// number" in a restart loop. Given apart, any password reaches the database as it is.
#[test]
fn a_database_password_given_apart_may_hold_any_character() {
    use std::str::FromStr;
    let password = "pa/ss+w=rd@host:5432?x#y%20z é";
    let url =
        serve_flags(&["--database-url", "postgres://zipcoord@postgres:5432/zipcoord", "--database-password", password])
            .database
            .url()
            .unwrap();
    sqlx::any::install_default_drivers();
    sqlx::any::AnyConnectOptions::from_str(&url).expect("sqlx reads the URL");
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert_eq!((parsed.host_str(), parsed.port(), parsed.path()), (Some("postgres"), Some(5432), "/zipcoord"));
    let encoded = parsed.password().unwrap().as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < encoded.len() {
        if encoded[i] == b'%' {
            decoded.push(u8::from_str_radix(std::str::from_utf8(&encoded[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            decoded.push(encoded[i]);
            i += 1;
        }
    }
    assert_eq!(String::from_utf8(decoded).unwrap(), password);

    for (url, why) in [
        ("sqlite://zipcoord.db", "not a postgres"),
        ("postgres://zipcoord:old@postgres/zipcoord", "has a password already"),
    ] {
        let error = serve_flags(&["--database-url", url, "--database-password", "secret"]).database.url();
        let text = error.unwrap_err().to_string();
        assert!(text.contains(why) && !text.contains("secret") && !text.contains("old"), "{text}");
    }
}

fn serve_flags(argv: &[&str]) -> ServeArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }
    Serve::try_parse_from(["serve"].iter().chain(argv)).expect("valid flags").args
}

#[test]
fn the_flags_defaults_are_the_settings_defaults() {
    if std::env::vars().any(|(name, _)| name.starts_with("ZIPCOORD_") && name != "ZIPCOORD_TEST_DATABASE_URL") {
        return; // An operator's environment would change the flags' defaults.
    }
    let from_flags = serve_flags(&["--metagraph", "dev"]).settings().unwrap();
    let defaults = Settings::new(defaults::DATABASE_URL, MetagraphSpec::Dev);
    assert_eq!(format!("{from_flags:?}"), format!("{defaults:?}"));
}

#[test]
fn flags_reach_the_settings() {
    let settings = serve_flags(&[
        "--dev",
        "--epoch-seconds",
        "20",
        "--rate-limits",
        "off",
        "--s3-bucket",
        "b",
        "--s3-access-key-id",
        "k",
        "--s3-secret-access-key",
        "s",
        "--s3-upload-mode",
        "put",
    ])
    .settings()
    .unwrap();
    assert_eq!(settings.metagraph, MetagraphSpec::Dev);
    assert_eq!(settings.epochs.clock.length_seconds(), 20);
    assert_eq!(settings.beacon.spec, BeaconSpec::Dev, "--dev signs its own pulses");
    assert_eq!(settings.beacon.grace, Duration::from_secs(60));
    let relays = serve_flags(&["--dev", "--beacon", "drand:http://127.0.0.1:1", "--beacon-grace-seconds", "5"]);
    let beacon = relays.settings().unwrap().beacon;
    assert!(matches!(beacon.spec, BeaconSpec::Drand { ref relays, .. } if relays == &["http://127.0.0.1:1"]));
    assert_eq!(beacon.grace, Duration::from_secs(5));
    let wrong = serve_flags(&["--dev", "--beacon", "moon"]).settings().unwrap_err().to_string();
    assert!(wrong.contains("ZIPCOORD_BEACON"), "{wrong}");
    assert!(!settings.rate_limits.enabled);
    let s3 = settings.s3.unwrap();
    assert_eq!((s3.bucket.as_str(), s3.upload_mode), ("b", UploadMode::Put));
    assert_eq!(s3.endpoint_host, "s3.us-east-1.amazonaws.com");
    let partial = serve_flags(&["--dev", "--s3-bucket", "b"]).settings().unwrap();
    let missing = partial.s3.unwrap_err();
    assert!(missing.contains("ZIPCOORD_S3_ACCESS_KEY_ID") && !missing.contains("ZIPCOORD_S3_BUCKET"), "{missing}");
    // Any store setting, even a lone endpoint, keeps `serve --dev` from starting its embedded store.
    assert!(serve_flags(&["--dev", "--s3-endpoint", "http://127.0.0.1:9"]).s3.names_a_store());
    let tuning_only = serve_flags(&["--dev", "--s3-upload-mode", "put", "--s3-min-object-bytes", "10"]).s3;
    if std::env::vars().all(|(name, _)| !name.starts_with("ZIPCOORD_S3_")) {
        assert!(!tuning_only.names_a_store(), "tuning alone applies to the embedded store");
    }
}

#[test]
fn secrets_are_validated_without_being_echoed() {
    let text: SecretText = "c0ffee".parse().unwrap();
    assert_eq!(format!("{text:?}"), "SecretText([redacted])");
    let error = ServerSecret::from_hex(text.expose()).unwrap_err().to_string();
    assert!(!error.contains("c0ffee"), "{error}");
}

#[test]
fn epoch_minutes_must_divide_a_day() {
    assert_eq!(parse_epoch_minutes("240"), Ok(240));
    assert!(parse_epoch_minutes("7").is_err());
    assert!(parse_epoch_minutes("x").is_err());
}
