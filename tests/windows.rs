//! The Windows package, checked from Linux: `scripts/package-windows.sh` cross-builds it
//! (mingw-w64), then this test reads its export table, version resource and imports with
//! mingw-w64's binutils, and builds C and C++ consumers against nothing but the unzipped
//! package (its import libraries, its static library, its pkg-config file, its CMake
//! package) and runs them under Wine against a loopback token endpoint.
//!
//! The C test programs of tests/c run under Wine too, from `.ci/run`:
//! `OAUTH2CC_C_TEST_WINDOWS=<unzipped package> cargo test --test c_api`.
//!
//! Needs: `rustup target add x86_64-pc-windows-gnu`; Debian packages gcc-mingw-w64-x86-64
//! g++-mingw-w64-x86-64 wine64 zip unzip pkg-config cmake. Without them each test prints
//! `skipped: <test>: <why>` (support::skip) and passes, unless `CI` is set: then a missing
//! tool fails them.

#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use harness::{
    cmake_configure, declared_functions, manifest_dir, run_folder, run_program, run_tool,
    wine_path, Outcome,
};
use support::c_harness as harness;
use support::http_server::{Action, Response, TestServer};
use support::skip::{skip, Ci};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TARGET: &str = "x86_64-pc-windows-gnu";
const CLIENT_ID: &str = "windows-client";
const CLIENT_SECRET: &str = "windows-secret";
/// What examples/client_credentials.c prints for the token the endpoint below issues.
const SEED_LINE: &str = "Authorization(access_token='tok-windows', token_type='Bearer', \
                         expires_in=3600, scope=None, refresh_token=None)\n";
/// The stripped DLL must stay under this (the issue's budget; BENCHMARKS.md).
const MAX_DLL_BYTES: u64 = 3_500_000;

/// Every file of the zip.
const PACKAGE_FILES: &[&str] = &[
    "LICENSE-APACHE",
    "LICENSE-MIT",
    "README-windows.txt",
    "bin/oauth2cc.dll",
    "bin/oauth2cc.exe",
    "include/oauth2cc.h",
    "include/oauth2cc.hpp",
    "include/oauth2cc_curl.h",
    "lib/cmake/oauth2cc/oauth2ccConfig.cmake",
    "lib/cmake/oauth2cc/oauth2ccConfigVersion.cmake",
    "lib/liboauth2cc.a",
    "lib/liboauth2cc.a.txt",
    "lib/liboauth2cc.dll.a",
    "lib/oauth2cc.def",
    "lib/oauth2cc.lib",
    "lib/pkgconfig/oauth2cc.pc",
];

/// What a Windows 10 installation ships (lower case). Nothing else may be imported.
const SYSTEM_DLLS: &[&str] = &[
    "advapi32.dll",
    "api-ms-win-core-synch-l1-2-0.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "crypt32.dll",
    "kernel32.dll",
    "msvcrt.dll",
    "ntdll.dll",
    "userenv.dll",
    "ws2_32.dll",
];

const TOOLS: &[&str] = &[
    "x86_64-w64-mingw32-gcc",
    "x86_64-w64-mingw32-g++",
    "x86_64-w64-mingw32-objdump",
    "x86_64-w64-mingw32-windres",
    "x86_64-w64-mingw32-dlltool",
    "x86_64-w64-mingw32-strip",
    "wine",
    "wineboot",
    "zip",
    "unzip",
    "pkg-config",
    "cmake",
];

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// Why these tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        return Some(format!("missing {}", missing.join(", ")));
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == TARGET)
        })
        .unwrap_or(false);
    (!installed).then(|| format!("the Rust target is missing (rustup target add {TARGET})"))
}

/// The unzipped package, made once per test process; `None` when the tools are missing,
/// after the calling test said `skipped: <test>: <why>` (under CI a missing tool fails it).
fn package() -> Option<&'static Path> {
    static PACKAGE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let made = PACKAGE.get_or_init(|| {
        if let Some(reason) = missing_prerequisite() {
            return Err(reason);
        }
        Ok(make_package())
    });
    match made {
        Ok(package) => Some(package),
        Err(reason) => {
            skip(
                Ci::Installs,
                &format!("the Windows package cannot be built: {reason}"),
            );
            None
        }
    }
}

/// Runs `scripts/package-windows.sh` and unzips its zip into a run folder.
fn make_package() -> PathBuf {
    let output = Command::new(manifest_dir().join("scripts/package-windows.sh"))
        .output()
        .expect("run scripts/package-windows.sh");
    assert!(
        output.status.success(),
        "scripts/package-windows.sh failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let zip = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert_eq!(
        zip.file_name().and_then(|n| n.to_str()),
        Some(format!("oauth2cc-{VERSION}-{TARGET}.zip").as_str())
    );
    let root = run_folder("windows-test");
    let unzipped = root.join("package");
    std::fs::create_dir_all(&unzipped).expect("create the test folder");
    run_tool(
        Command::new("unzip")
            .arg("-q")
            .arg(&zip)
            .arg("-d")
            .arg(&unzipped),
    );
    unzipped
}

fn objdump(dll: &Path) -> String {
    run_tool(
        Command::new("x86_64-w64-mingw32-objdump")
            .arg("-p")
            .arg(dll),
    )
}

/// The names in the export table of `objdump -p`.
fn exports(dump: &str) -> BTreeSet<String> {
    dump.lines()
        .skip_while(|l| !l.starts_with("[Ordinal/Name Pointer] Table"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.rsplit(']').next().map(|n| n.trim().to_owned()))
        .collect()
}

/// A fresh folder for one consumer.
fn work_dir(name: &str) -> PathBuf {
    let dir = package()
        .expect("the package")
        .parent()
        .expect("the run folder")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a work folder");
    dir
}

/// `dir/bcryptprimitives.dll`: Wine 8's missing `ProcessPrng` (tests only, see harness.rs).
fn add_stand_in(dir: &Path) {
    harness::build_process_prng_stand_in(dir);
}

fn endpoint() -> TestServer {
    TestServer::start(|request| {
        if request.path() != "/api/token"
            || request.basic_auth() != Some((CLIENT_ID.into(), CLIENT_SECRET.into()))
        {
            return Action::Respond(Response::json(400, r#"{"error":"invalid_client"}"#));
        }
        Action::Respond(Response::json(
            200,
            r#"{"access_token":"tok-windows","token_type":"bearer","expires_in":3600}"#,
        ))
    })
}

/// `dir/config.json`: the credentials [`endpoint`] accepts and its token URL.
fn write_config(dir: &Path, server: &TestServer) -> PathBuf {
    let config = dir.join("config.json");
    let json = serde_json::json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_url": server.url("/api/token"),
    });
    std::fs::write(&config, json.to_string()).expect("write the config");
    config
}

/// Runs a consumer (examples/client_credentials.c or .cpp) under Wine and checks it printed
/// the token; the JSON config file it reads is named by a Windows path.
fn assert_gets_a_token(exe: &Path) -> Outcome {
    let server = endpoint();
    let dir = exe.parent().expect("the program's folder");
    let config = write_config(dir, &server);
    add_stand_in(dir);
    let outcome = run_program(exe, &[&wine_path(&config)], &[]);
    assert!(outcome.status.success(), "{}", outcome.report());
    assert_eq!(outcome.stdout, SEED_LINE, "{}", outcome.report());
    assert_eq!(server.requests().len(), 1, "{}", outcome.report());
    outcome
}

/// [`assert_gets_a_token`] with the package's DLL copied next to the program.
fn assert_gets_a_token_beside_the_dll(package: &Path, exe: &Path) -> Outcome {
    let dir = exe.parent().expect("the program's folder");
    std::fs::copy(package.join("bin/oauth2cc.dll"), dir.join("oauth2cc.dll")).expect("copy");
    assert_gets_a_token(exe)
}

fn mingw_gcc() -> Command {
    let mut command = Command::new("x86_64-w64-mingw32-gcc");
    command.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]);
    command
}

/// `examples/client_credentials.c` compiled to `exe` against the package's header; the
/// caller adds what it links with.
fn mingw_example(package: &Path, exe: &Path) -> Command {
    let mut command = mingw_gcc();
    command
        .arg("-I")
        .arg(package.join("include"))
        .arg("-o")
        .arg(exe)
        .arg(example("client_credentials.c"));
    command
}

fn example(name: &str) -> PathBuf {
    manifest_dir().join("examples").join(name)
}

#[test]
fn zip_holds_the_listed_files_and_no_test_stand_in() {
    let Some(package) = package() else { return };
    let zip = package
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("target/")
        .join(format!("dist/oauth2cc-{VERSION}-{TARGET}.zip"));
    let listing = run_tool(Command::new("unzip").arg("-Z1").arg(&zip));
    let files: BTreeSet<&str> = listing.lines().filter(|l| !l.ends_with('/')).collect();
    let expected: BTreeSet<&str> = PACKAGE_FILES.iter().copied().collect();
    assert_eq!(files, expected);
    let readme = std::fs::read_to_string(package.join("README-windows.txt")).expect("README");
    for needed in [
        "MSVC",
        "MinGW",
        "CMake",
        "%LOCALAPPDATA%",
        "Windows 10",
        "oauth2cc.lib",
    ] {
        assert!(readme.contains(needed), "README-windows.txt lacks {needed}");
    }
    assert!(
        !readme.contains("@"),
        "an unsubstituted placeholder:\n{readme}"
    );
    assert_eq!(
        std::fs::read(package.join("include/oauth2cc.h")).expect("header"),
        std::fs::read(manifest_dir().join("include/oauth2cc.h")).expect("header")
    );
}

#[test]
fn dll_exports_exactly_the_header_functions() {
    let Some(package) = package() else { return };
    let header = std::fs::read_to_string(manifest_dir().join("include/oauth2cc.h"))
        .expect("read the header");
    let declared = declared_functions(&header);
    assert!(declared.len() >= 40, "{declared:?}");
    let exported = exports(&objdump(&package.join("bin/oauth2cc.dll")));
    assert_eq!(
        exported, declared,
        "the export table differs from the header"
    );
    // The .def the import libraries were made from says the same.
    let def = std::fs::read_to_string(package.join("lib/oauth2cc.def")).expect("read the .def");
    let in_def: BTreeSet<String> = def
        .lines()
        .skip_while(|l| l.trim() != "EXPORTS")
        .skip(1)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(in_def, declared);
}

#[test]
fn dll_carries_a_version_resource_of_the_crate_version() {
    let Some(package) = package() else { return };
    let rc = run_tool(
        Command::new("x86_64-w64-mingw32-windres")
            .args(["--input-format=coff", "--output-format=rc", "-i"])
            .arg(package.join("bin/oauth2cc.dll")),
    );
    // windres writes "FILEVERSION 0, 1, 0, 0".
    let numbers = format!("{}, 0", VERSION.replace('.', ", "));
    for field in ["FILEVERSION", "PRODUCTVERSION"] {
        assert!(
            rc.contains(&format!("{field} {numbers}\n")),
            "no {field} {numbers} in:\n{rc}"
        );
    }
    assert!(
        rc.contains(&format!("VALUE \"FileVersion\", \"{VERSION}\"")),
        "{rc}"
    );
    assert!(
        rc.contains("VALUE \"OriginalFilename\", \"oauth2cc.dll\""),
        "{rc}"
    );
}

/// The DLLs `file` imports (lower case), after checking that Windows ships each of them.
fn assert_imports_only_system_dlls(file: &Path) -> BTreeSet<String> {
    let imports: BTreeSet<String> = objdump(file)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("DLL Name: "))
        .map(str::to_ascii_lowercase)
        .collect();
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|d| !SYSTEM_DLLS.contains(&d.as_str()))
        .collect();
    assert!(foreign.is_empty(), "{} imports {foreign:?}", file.display());
    imports
}

#[test]
fn dll_needs_only_what_windows_ships_and_stays_small() {
    let Some(package) = package() else { return };
    let dll = package.join("bin/oauth2cc.dll");
    let imports = assert_imports_only_system_dlls(&dll);
    let size = std::fs::metadata(&dll).expect("stat the DLL").len();
    eprintln!("oauth2cc.dll: {size} bytes stripped; imports {imports:?}");
    assert!(size < MAX_DLL_BYTES, "oauth2cc.dll is {size} bytes");
    // Stripped: no symbol table, no debug sections.
    let headers = run_tool(
        Command::new("x86_64-w64-mingw32-objdump")
            .arg("-h")
            .arg(&dll),
    );
    assert!(!headers.contains(".debug_"), "{headers}");
}

#[test]
fn c_consumer_linked_with_the_msvc_import_library_gets_a_token() {
    let Some(package) = package() else { return };
    let dir = work_dir("msvc-implib");
    let exe = dir.join("client_credentials.exe");
    run_tool(mingw_example(package, &exe).arg(package.join("lib/oauth2cc.lib")));
    assert_gets_a_token_beside_the_dll(package, &exe);
}

#[test]
fn c_consumer_built_with_pkg_config_gets_a_token() {
    let Some(package) = package() else { return };
    let dir = work_dir("pkg-config");
    let flags = run_tool(
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "oauth2cc"])
            .env("PKG_CONFIG_PATH", package.join("lib/pkgconfig"))
            .env_remove("PKG_CONFIG_LIBDIR")
            .env_remove("PKG_CONFIG_SYSROOT_DIR"),
    );
    assert!(flags.contains("-loauth2cc"), "{flags}");
    let exe = dir.join("client_credentials.exe");
    run_tool(
        mingw_gcc()
            .arg("-o")
            .arg(&exe)
            .arg(example("client_credentials.c"))
            .args(flags.split_whitespace()),
    );
    assert_gets_a_token_beside_the_dll(package, &exe);
}

#[test]
fn c_consumer_linked_statically_gets_a_token_without_the_dll() {
    let Some(package) = package() else { return };
    let dir = work_dir("static");
    let notes = std::fs::read_to_string(package.join("lib/liboauth2cc.a.txt")).expect("notes");
    let libs = notes.lines().last().expect("the libraries line");
    assert!(libs.contains("-lws2_32"), "{notes}");
    let exe = dir.join("client_credentials.exe");
    run_tool(
        mingw_example(package, &exe)
            .arg(package.join("lib/liboauth2cc.a"))
            .args(libs.split_whitespace()),
    );
    assert!(!dir.join("oauth2cc.dll").exists());
    assert_gets_a_token(&exe);
}

#[test]
fn cmake_package_builds_c_and_static_cpp_consumers() {
    let Some(package) = package() else { return };
    let dir = work_dir("cmake");
    let build = dir.join("build");
    run_tool(
        cmake_configure("tests/install", &build)
            .args([
                "-DCMAKE_SYSTEM_NAME=Windows",
                "-DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc",
                "-DCMAKE_CXX_COMPILER=x86_64-w64-mingw32-g++",
                "-DCMAKE_RC_COMPILER=x86_64-w64-mingw32-windres",
                "-DCMAKE_EXE_LINKER_FLAGS=-static",
                "-DCMAKE_BUILD_TYPE=Release",
            ])
            .arg(format!("-DCMAKE_PREFIX_PATH={}", package.display())),
    );
    run_tool(Command::new("cmake").arg("--build").arg(&build));
    // The shared target's IMPORTED_IMPLIB: consumer_c imports oauth2cc.dll.
    let consumer_c = build.join("consumer_c.exe");
    assert!(
        objdump(&consumer_c).contains("DLL Name: oauth2cc.dll"),
        "consumer_c.exe does not import oauth2cc.dll"
    );
    assert_gets_a_token_beside_the_dll(package, &consumer_c);
    let consumer_cpp = build.join("consumer_cpp_static.exe");
    assert!(!objdump(&consumer_cpp).contains("DLL Name: oauth2cc.dll"));
    assert_gets_a_token(&consumer_cpp);
}

#[test]
fn command_line_tool_runs_under_wine_and_needs_only_system_dlls() {
    let Some(package) = package() else { return };
    let exe = package.join("bin/oauth2cc.exe");
    assert_imports_only_system_dlls(&exe);

    let dir = work_dir("cli");
    let copy = dir.join("oauth2cc.exe");
    std::fs::copy(&exe, &copy).expect("copy the tool");
    add_stand_in(&dir);
    let server = endpoint();
    let config = write_config(&dir, &server);
    let outcome = run_program(
        &copy,
        &["--config", &wine_path(&config), "--no-cache", "header"],
        &[],
    );
    assert!(outcome.status.success(), "{}", outcome.report());
    assert_eq!(
        outcome.stdout,
        "Authorization: Bearer tok-windows\n",
        "{}",
        outcome.report()
    );
    assert_eq!(server.requests().len(), 1);
}
