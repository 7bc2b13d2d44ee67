// Embedded migrations (`sqlx::migrate!`) must be rebuilt whenever a migration file changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
