//! `include/oauth2cc.h`: current, clean, and the single source of the version.
//!
//! * The committed header equals what cbindgen generates from the sources now (a copy of
//!   the crate is built with `--features generate-header` under `target/header-check/`, so
//!   the committed file is never touched; the target folder there is kept, so only the first
//!   run is slow).
//! * It compiles as C99 and as C++17 with `-Wall -Wextra -Werror -pedantic`, in a program
//!   that uses every type and constant and links every declared function against the
//!   library (which proves the `extern "C"` guards and that nothing declared is missing).
//! * It defines nothing outside the `oauth2cc_` / `OAUTH2CC_` namespaces.
//! * Version: Cargo.toml == the header's `OAUTH2CC_VERSION_*` == `oauth2cc_version()` (from
//!   Rust and from a C program), and `OAUTH2CC_SPOTIFY_TOKEN_URL` == the Rust constant.

#![cfg(target_os = "linux")]

mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use support::c_harness::{self, declared_functions, manifest_dir, run_c_test, run_program};
use support::TempFile;

fn committed_header() -> String {
    std::fs::read_to_string(manifest_dir().join("include/oauth2cc.h")).expect("read the header")
}

/// The value of `#define NAME value` in the header.
fn define<'a>(header: &'a str, name: &str) -> &'a str {
    header
        .lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("#define ")?;
            let (defined, value) = rest.split_once(char::is_whitespace)?;
            (defined == name).then(|| value.trim())
        })
        .unwrap_or_else(|| panic!("the header does not define {name}"))
}

// ---------------------------------------------------------------------------------------
// The committed header is current
// ---------------------------------------------------------------------------------------

/// What cbindgen's build needs, plus the folders that may hold targets the manifest names.
const CRATE_FILES: &[&str] = &["Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml"];
const CRATE_DIRS: &[&str] = &[
    "src",
    "examples",
    "benches",
    "tests",
    "testkit",
    "token-endpoint",
    "cli",
    "capi",
];

/// Makes `to` hold what `from` holds: files written only when their content differs (so
/// cargo's fingerprints see no change where there is none), files `from` lacks removed.
fn sync_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    let mut wanted = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()))
    {
        let entry = entry.expect("directory entry");
        let kind = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        wanted.insert(entry.file_name());
        if kind.is_dir() {
            sync_dir(&entry.path(), &target);
        } else if kind.is_file() {
            sync_file(&entry.path(), &target);
        }
    }
    for entry in std::fs::read_dir(to).expect("read the copy") {
        let entry = entry.expect("directory entry");
        if !wanted.contains(&entry.file_name()) {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

fn sync_file(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    if std::fs::read(to).ok().as_deref() != Some(bytes.as_slice()) {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).expect("create the copy's folder");
        }
        std::fs::write(to, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
    }
}

#[test]
fn committed_header_matches_a_fresh_generation() {
    let work = c_harness::profile_dir()
        .parent()
        .expect("the target folder")
        .join("header-check");
    let copy = work.join("crate");
    for file in CRATE_FILES {
        sync_file(&manifest_dir().join(file), &copy.join(file));
    }
    for dir in CRATE_DIRS {
        let from = manifest_dir().join(dir);
        if from.is_dir() {
            sync_dir(&from, &copy.join(dir));
        }
    }
    // The copy starts without a header, and its build script must run again even when no
    // source changed since the last check: it reruns when cbindgen.toml's mtime changes.
    let generated = copy.join("include/oauth2cc.h");
    let _ = std::fs::remove_file(&generated);
    std::fs::File::options()
        .append(true)
        .open(copy.join("cbindgen.toml"))
        .and_then(|f| f.set_modified(SystemTime::now()))
        .expect("touch the copy's cbindgen.toml");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "--lib", "--quiet", "--features", "generate-header"])
        .arg("--manifest-path")
        .arg(copy.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(work.join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "`cargo check --features generate-header` failed on a copy of the crate in {}:\n{}",
        copy.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let fresh = std::fs::read(&generated)
        .unwrap_or_else(|e| panic!("the build script wrote no {}: {e}", generated.display()));
    let committed = committed_header().into_bytes();
    if fresh != committed {
        let fresh = String::from_utf8_lossy(&fresh);
        let committed = String::from_utf8_lossy(&committed);
        let first = fresh
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| fresh.lines().count().min(committed.lines().count()));
        panic!(
            "include/oauth2cc.h is stale: run `cargo build --features generate-header` and \
             commit the header.\nFirst difference at line {}:\n  committed: {:?}\n  fresh:     {:?}\n\
             (the fresh header is {})",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            fresh.lines().nth(first).unwrap_or("<end of file>"),
            generated.display()
        );
    }
}

// ---------------------------------------------------------------------------------------
// It compiles, cleanly, as C and C++
// ---------------------------------------------------------------------------------------

/// A program, valid as C99 and as C++17, that includes the header twice (include guard),
/// uses every type and constant, and takes the address of every declared function.
fn everything_program(header: &str) -> String {
    let statuses = [
        "OK",
        "INVALID_ARGUMENT",
        "CONFIG",
        "BAD_REQUEST",
        "UNAUTHORIZED",
        "RATE_LIMITED",
        "SERVER_ERROR",
        "HTTP_STATUS",
        "TIMEOUT",
        "NETWORK",
        "TLS",
        "INVALID_RESPONSE",
        "BUFFER_TOO_SMALL",
        "PANIC",
    ];
    let mut program = String::from(
        "#include \"oauth2cc.h\"\n#include \"oauth2cc.h\"\n#include <stdio.h>\n\n\
         typedef void (*any_function)(void);\n\nstatic const any_function exported[] = {\n",
    );
    for function in declared_functions(header) {
        writeln!(program, "    (any_function){function},").unwrap();
    }
    program.push_str("};\n\nstatic const enum oauth2cc_status statuses[] = {\n");
    for status in statuses {
        writeln!(program, "    OAUTH2CC_STATUS_{status},").unwrap();
    }
    program.push_str(
        r#"};

int main(void) {
    oauth2cc_config *config = NULL;
    oauth2cc_client *client = NULL;
    oauth2cc_authorization *auth = NULL;
    oauth2cc_response *response = NULL;
    const struct oauth2cc_config *const_config = config;
    oauth2cc_status status = OAUTH2CC_STATUS_OK;
    oauth2cc_auth_style styles[3] = {OAUTH2CC_AUTH_STYLE_BASIC, OAUTH2CC_AUTH_STYLE_POST_BODY,
                                     OAUTH2CC_AUTH_STYLE_AUTO};
    const char version[] = OAUTH2CC_VERSION_STRING;
    long number = OAUTH2CC_VERSION_NUMBER;
    size_t i;
    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if ((int)statuses[i] != (int)i) return 1;
    }
    for (i = 0; i < sizeof exported / sizeof exported[0]; i++) {
        if (exported[i] == NULL) return 1;
    }
    if (styles[2] != 2u || status != OAUTH2CC_STATUS_OK) return 1;
    if (config || client || auth || response || const_config) return 1;
    printf("%s %s %ld %d.%d.%d %s %u\n", oauth2cc_version(), version, number,
           OAUTH2CC_VERSION_MAJOR, OAUTH2CC_VERSION_MINOR, OAUTH2CC_VERSION_PATCH,
           OAUTH2CC_SPOTIFY_TOKEN_URL, (unsigned)(sizeof exported / sizeof exported[0]));
    return 0;
}
"#,
    );
    program
}

fn compile_and_run(compiler: &str, flags: &[&str], source: &Path, name: &str, functions: usize) {
    let exe = c_harness::build_with(compiler, flags, source, name);
    let outcome = run_program(&exe, &[], &[]);
    assert!(outcome.status.success(), "{}", outcome.report());
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        outcome.stdout,
        format!(
            "{version} {version} {} {version} {} {functions}\n",
            version_number(),
            oauth2cc::SPOTIFY_TOKEN_URL
        ),
        "{}",
        outcome.report()
    );
}

/// MAJOR * 10000 + MINOR * 100 + PATCH, from Cargo.toml.
fn version_number() -> usize {
    let part = |s: &str| s.parse::<usize>().expect("a version number");
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

#[test]
fn header_compiles_as_c99_and_cpp17_and_links_every_function() {
    let header = committed_header();
    let functions = declared_functions(&header).len();
    assert!(
        functions >= 40,
        "only {functions} functions found in the header"
    );
    let program = everything_program(&header);
    let c_source = TempFile::new("header_everything", "c", &program);
    let cpp_source = TempFile::new("header_everything", "cpp", &program);
    let common = c_harness::STRICT_FLAGS.iter().copied();
    let c_flags: Vec<&str> = ["-std=c99", "-Wstrict-prototypes", "-Wmissing-prototypes"]
        .into_iter()
        .chain(common)
        .collect();
    let cpp_flags: Vec<&str> = ["-std=c++17"]
        .into_iter()
        .chain(c_harness::STRICT_FLAGS.iter().copied())
        .collect();
    compile_and_run(
        &c_harness::cc(),
        &c_flags,
        c_source.path(),
        "header_everything_c99",
        functions,
    );
    compile_and_run(
        &c_harness::cxx(),
        &cpp_flags,
        cpp_source.path(),
        "header_everything_cpp17",
        functions,
    );
}

/// The name a header line defines: a macro, a typedef, an enum or struct tag, an enumerator.
fn defined_name(line: &str) -> Option<&str> {
    let is_ident =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let name = if let Some(rest) = line.strip_prefix("#define ") {
        rest.split(|c: char| c.is_whitespace() || c == '(').next()?
    } else if let Some(rest) = line.strip_prefix("typedef ") {
        let words: Vec<&str> = rest
            .trim_end_matches([';', '{', ' '])
            .split_whitespace()
            .collect();
        if line.ends_with('{') {
            words.get(1).copied()? // typedef enum TAG {
        } else {
            words.last()?.trim_start_matches('*')
        }
    } else if let Some(rest) = line.strip_prefix("} ") {
        rest.trim_end_matches(';') // } NAME;
    } else if line.starts_with(|c: char| c.is_ascii_uppercase()) && line.ends_with(',') {
        line.split(|c: char| c.is_whitespace() || c == '=' || c == ',')
            .next()? // ENUMERATOR = n,
    } else {
        return None;
    };
    is_ident(name).then_some(name)
}

/// Every macro, type, enumerator and function the header declares is in the library's
/// namespace, so including it never clashes with a user's own names.
#[test]
fn header_defines_only_prefixed_names() {
    let header = committed_header();
    let mut foreign = Vec::new();
    for line in header.lines().map(str::trim) {
        if let Some(name) = defined_name(line) {
            if !(name.to_ascii_lowercase().starts_with("oauth2cc_") || name == "OAUTH2CC_H") {
                foreign.push(name.to_owned());
            }
        }
    }
    for function in declared_functions(&header) {
        assert!(function.starts_with("oauth2cc_"), "{function}");
    }
    assert!(
        foreign.is_empty(),
        "include/oauth2cc.h defines names outside oauth2cc_/OAUTH2CC_: {foreign:?} \
         (exclude them in cbindgen.toml [export] or make them non-public)"
    );
}

// ---------------------------------------------------------------------------------------
// One version, everywhere
// ---------------------------------------------------------------------------------------

#[test]
fn version_is_cargo_toml_everywhere() {
    let header = committed_header();
    assert_eq!(
        define(&header, "OAUTH2CC_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        define(&header, "OAUTH2CC_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        define(&header, "OAUTH2CC_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    assert_eq!(
        define(&header, "OAUTH2CC_VERSION_STRING"),
        format!("\"{}\"", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        define(&header, "OAUTH2CC_SPOTIFY_TOKEN_URL"),
        format!("\"{}\"", oauth2cc::SPOTIFY_TOKEN_URL)
    );

    // oauth2cc_version(), called from C through the shared library.
    let outcome = run_c_test("version", &[]);
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        outcome.stdout.starts_with(&format!(
            "library {version}\nheader {version}\nnumber {}\n",
            version_number()
        )),
        "{}",
        outcome.report()
    );
}
