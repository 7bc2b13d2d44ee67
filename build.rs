//! Build steps: embedded migrations must be rebuilt when a migration changes, and the built-in zipcode universe
//! is extracted from the `zipcodes` crate into a compact table (`zipcode\tstate\tcity\tcounty\tlat\tlon`, sorted) so the
//! server never holds the crate's full parsed dataset in memory.

use std::path::PathBuf;

fn clean(field: &str) -> String {
    field.replace(['\t', '\n', '\r'], " ").trim().to_string()
}

/// A latitude or longitude with four decimals (about 10 m), empty when the dataset has none.
fn coordinate(field: &str) -> String {
    field.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v != 0.0).map_or(String::new(), |v| format!("{v:.4}"))
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=build.rs");

    let mut rows: Vec<String> = zipcodes::database()
        .iter()
        .filter(|z| {
            z.active && z.zip_code_type.eq_ignore_ascii_case("STANDARD") && z.country.eq_ignore_ascii_case("US")
        })
        .filter(|z| z.zip_code.len() == 5 && z.zip_code.bytes().all(|b| b.is_ascii_digit()))
        .map(|z| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                z.zip_code,
                clean(&z.state),
                clean(&z.city),
                clean(&z.county),
                coordinate(&z.lat),
                coordinate(&z.long)
            )
        })
        .collect();
    rows.sort();
    rows.dedup_by(|a, b| a[..5] == b[..5]);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("us_zipcodes.tsv");
    std::fs::write(out, rows.join("\n")).expect("OUT_DIR is writable");
}
