//! Build script.
//!
//! Always: publishes the committed header's folder to dependants (`DEP_OAUTH2CC_INCLUDE`).
//! The SONAME is given by `scripts/install.sh` to the libraries it installs, not here: a
//! plain `cargo build` makes a library that programs can link and run from target/ as is.
//!
//! The C libraries' build script (the DLL's version resource) is `capi/build.rs`.
//!
//! With `--features generate-header`: regenerates `include/oauth2cc.h` with cbindgen from the
//! sources and `cbindgen.toml`, writing it only when its content changed. Without the feature
//! (the default: dependants, `cargo publish`, docs.rs) nothing outside OUT_DIR is written.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:include={}", crate_dir.join("include").display());

    #[cfg(feature = "generate-header")]
    generate_header(&crate_dir);
}

#[cfg(feature = "generate-header")]
fn generate_header(crate_dir: &std::path::Path) {
    if env::var_os("DOCS_RS").is_some() {
        return;
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    if let Some(after) = config.after_includes.as_mut() {
        *after = after
            .replace(
                "@MAJOR@",
                &env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default(),
            )
            .replace(
                "@MINOR@",
                &env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default(),
            )
            .replace(
                "@PATCH@",
                &env::var("CARGO_PKG_VERSION_PATCH").unwrap_or_default(),
            )
            .replace("@VERSION@", &version);
    }
    let bindings = match cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        // Let rustc report the syntax error itself.
        Err(cbindgen::Error::ParseSyntaxError { .. }) => return,
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let target = crate_dir.join("include").join("oauth2cc.h");
    if std::fs::read(&target).ok().as_deref() != Some(fresh.as_slice()) {
        std::fs::create_dir_all(target.parent().expect("include dir")).expect("create include/");
        std::fs::write(&target, &fresh).expect("write include/oauth2cc.h");
    }
}
