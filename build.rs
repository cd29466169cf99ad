//! Embeds each migration's down script (`migrations/V<n>__<name>.down.sql`) beside refinery's
//! embedded up scripts, so `crm db migrate undo` needs no files at run time.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("migrations");
    let mut downs: Vec<(u32, String, String)> = Vec::new();
    for entry in fs::read_dir(&dir).expect("the migrations folder is readable") {
        let path = entry.expect("a readable migrations entry").path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let Some(stem) = file.strip_suffix(".down.sql") else {
            continue;
        };
        let (version, name) = stem
            .strip_prefix('V')
            .and_then(|s| s.split_once("__"))
            .unwrap_or_else(|| panic!("down script {file} is not named V<n>__<name>.down.sql"));
        let version: u32 = version
            .parse()
            .unwrap_or_else(|_| panic!("down script {file} has no numeric version"));
        downs.push((version, name.to_string(), path.display().to_string()));
    }
    downs.sort();
    let mut out = String::from("&[\n");
    for (version, name, path) in downs {
        writeln!(out, "    ({version}, {name:?}, include_str!({path:?})),")
            .expect("write to a String");
    }
    out.push_str("]\n");
    let dest =
        Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("down_migrations.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
