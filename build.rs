//! Rebuilds when a migration changes: `embed_migrations!` compiles the SQL files in.
fn main() {
    println!("cargo:rerun-if-changed=schema");
}
