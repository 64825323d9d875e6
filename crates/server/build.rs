//! Rebuild when an embedded input changes: `sqlx::migrate!` embeds the migrations and
//! `rust_embed` the built web page (`web/dist`, see `src/api/page.rs`) at compile time, and
//! cargo does not otherwise know they are inputs.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=../../web/dist");
}
