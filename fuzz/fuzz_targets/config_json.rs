//! `Config::from_json_bytes` (the parser behind `Config::from_file`) on arbitrary bytes.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

/// An empty folder for relative `ca_file` / `cache_file` paths (nothing is written to it).
fn base() -> &'static PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("oauth2cc-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz base folder");
        dir
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| oauth2cc_fuzz::check_config_json(data, base()));
