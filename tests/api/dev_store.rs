//! `serve --dev` with no S3 settings is the whole service: its embedded store takes the uploads of the grants it
//! signs. Reached the way a new user reaches it, by running the printed examples in a shell.

use std::path::Path;
use std::process::Command;

use crate::process::DevServer;

/// The example commands the server printed (indented, comments left out).
fn example_commands(server: &DevServer) -> Vec<String> {
    let commands: Vec<String> = server
        .banner
        .iter()
        .filter_map(|line| line.strip_prefix("  "))
        .filter(|line| !line.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert!(!commands.is_empty(), "no examples printed:\n{}", server.banner.join("\n"));
    commands
}

/// Runs `commands` in bash in `dir`, stopping at the first failure: (success, stdout, stderr).
fn shell(commands: &[String], dir: &Path) -> (bool, String, String) {
    let script = format!("set -euo pipefail\n{}\n", commands.join("\n"));
    let output = Command::new("bash").arg("-c").arg(&script).current_dir(dir).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn the_printed_examples_upload_to_the_embedded_store_and_a_validator_lists_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("zipcoord.db").display());
    let server = DevServer::spawn_in(dir.path(), &db, &[], &[]);
    let banner = server.banner.join("\n");
    let store_line = server.banner.iter().find(|l| l.starts_with("S3: an embedded store at ")).expect(&banner);
    let store_addr = store_line["S3: an embedded store at http://".len()..].split(' ').next().unwrap().to_string();
    let bucket = dir.path().canonicalize().unwrap().join("zipcoord-dev-s3/zipcoord-dev");
    assert!(store_line.contains(&bucket.display().to_string()), "{store_line}");

    let scratch = tempfile::tempdir().unwrap();
    let commands = example_commands(&server);
    let (ok, stdout, stderr) = shell(&commands, scratch.path());
    assert!(ok, "the examples failed:\n{stdout}\n{stderr}\n{banner}");
    let lines: Vec<&str> = stdout.lines().collect();
    let answered =
        |needle: &str| lines.iter().filter(|l| l.starts_with("{\"success\":true") && l.contains(needle)).count();
    assert_eq!(answered("\"currentTime\""), 1, "/stats: {stdout}");
    assert_eq!(answered("\"zipcodes\":["), 2, "/current and /epoch/{{id}}: {stdout}");
    assert!(lines.contains(&"204"), "the upload is stored (S3's 204): {stdout}");
    let grant: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scratch.path().join("grant.json")).unwrap()).unwrap();
    let folder = grant["folder"].as_str().unwrap().to_string();
    assert!(grant["url"].as_str().unwrap().starts_with(&format!("http://{store_addr}/")), "{grant}");

    // The object is where the validator's listing says, in the bucket folder the banner named.
    let listed: Vec<&str> = stdout.split("<Key>").skip(1).filter_map(|rest| rest.split("</Key>").next()).collect();
    assert_eq!(listed.len(), 1, "{stdout}");
    assert!(listed[0].starts_with(&format!("{folder}epoch=")) && listed[0].contains("/zipcode=10001/"), "{stdout}");
    let uploaded = std::fs::read(scratch.path().join("listing.json")).unwrap();
    assert!(uploaded.len() >= 1024, "the example file meets the minimum object size");
    assert_eq!(std::fs::read(bucket.join(listed[0])).unwrap(), uploaded);

    let log = server.stop();
    assert!(log.contains("embedded S3 store stopped"), "{log}");
    assert!(std::net::TcpStream::connect(&store_addr).is_err(), "the store stops with the server");

    // A second `serve --dev` here keeps the bucket: a fresh validator grant lists the same upload.
    let again = DevServer::spawn_in(dir.path(), &db, &[], &[]);
    let listing = example_commands(&again).into_iter().rev().take(2).rev().collect::<Vec<_>>();
    let (ok, stdout, stderr) = shell(&listing, scratch.path());
    assert!(ok && stdout.contains(&format!("<Key>{}</Key>", listed[0])), "{stdout}\n{stderr}");
    again.stop();
}

#[test]
fn explicit_s3_settings_win_over_the_embedded_store() {
    let partial = DevServer::spawn_on_sqlite(&[("ZIPCOORD_S3_BUCKET", "mine")]);
    let banner = partial.banner.join("\n");
    assert!(
        banner.contains(
            "S3: S3 storage is not configured: set ZIPCOORD_S3_ACCESS_KEY_ID, ZIPCOORD_S3_SECRET_ACCESS_KEY (the S3 \
             endpoints answer 503 until then)."
        ),
        "{banner}"
    );
    assert!(!banner.contains("get-folder-access"), "no S3 example that cannot work: {banner}");
    assert!(!partial.workdir.join("zipcoord-dev-s3").exists(), "no embedded store was started");
    partial.stop();
}

#[test]
fn in_put_mode_the_printed_upload_is_a_presigned_put() {
    let server = DevServer::spawn_on_sqlite(&[("ZIPCOORD_S3_UPLOAD_MODE", "put")]);
    let scratch = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = shell(&example_commands(&server), scratch.path());
    assert!(ok && stdout.lines().any(|l| l == "200"), "the PUT is stored (200):\n{stdout}\n{stderr}");
    assert!(stdout.contains("/zipcode=10001/data_") && stdout.contains("<KeyCount>1</KeyCount>"), "{stdout}");
    server.stop();
}
