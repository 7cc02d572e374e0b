//! The installed layout, used the ways C and C++ users use an installed library.
//!
//! `scripts/install.sh` (a release build) installs into prefixes under
//! `target/install-test/run-<pid>/`: a plain `--prefix` install, a static-only one
//! (`--library-type staticlib`), one staged with `DESTDIR` for packaging, and one with a
//! multiarch `--libdir`. Then `examples/client_credentials.c` is built with
//! `pkg-config --cflags --libs oauth2cc` (shared) and `pkg-config --static` (static), and a
//! CMake project (`tests/install/CMakeLists.txt`) builds the C and C++ examples with
//! `find_package(oauth2cc)`, against the staged tree moved nowhere (the package is
//! relocatable). Every program gets a token from a loopback server started here.
//!
//! Needs `pkg-config`, `cmake`, `readelf` and `nm` (Debian: pkg-config cmake binutils).
//! The first test to run pays for the release build (`target/<host triple>/release`; nothing
//! when it is fresh).

#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::c_harness::{
    self, cc, cmake_configure, manifest_dir, run_folder, run_program, run_tool, Outcome,
};
use support::{credentials_env, token_server, CLIENT_ID, CLIENT_SECRET};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const SEED_LINE: &str = "Authorization(access_token='tok-installed', token_type='Bearer', \
                         expires_in=3600, scope=None, refresh_token=None)\n";

/// `liboauth2cc.so.0.MINOR` for 0.x, `liboauth2cc.so.MAJOR` from 1.0 (build.rs, README).
fn soname() -> String {
    let mut parts = VERSION.split('.');
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    if major == "0" {
        format!("liboauth2cc.so.0.{minor}")
    } else {
        format!("liboauth2cc.so.{major}")
    }
}

/// The prefixes `scripts/install.sh` installed into, once per test process.
struct Installs {
    /// `--prefix <root>/usr`: shared and static libraries.
    full: PathBuf,
    /// `--prefix <root>/static --library-type staticlib`.
    static_only: PathBuf,
    /// `DESTDIR=<root>/stage --prefix /opt/oauth2cc`: the staged tree is `<root>/stage/opt/oauth2cc`.
    staged: PathBuf,
    /// `--destdir <root>/multiarch --prefix /usr --libdir lib/x86_64-linux-gnu --library-type cdylib`.
    multiarch: PathBuf,
    root: PathBuf,
}

fn installs() -> &'static Installs {
    static INSTALLS: OnceLock<Installs> = OnceLock::new();
    INSTALLS.get_or_init(|| {
        let root = run_folder("install-test");

        let full = root.join("usr");
        install(&["--prefix", path_str(&full)], &[]);
        let static_only = root.join("static");
        install(
            &[
                "--prefix",
                path_str(&static_only),
                "--library-type",
                "staticlib",
            ],
            &[],
        );
        let stage = root.join("stage");
        install(
            &["--prefix", "/opt/oauth2cc"],
            &[("DESTDIR", path_str(&stage))],
        );
        let multiarch = root.join("multiarch");
        install(
            &[
                "--destdir",
                path_str(&multiarch),
                "--prefix=/usr",
                "--libdir",
                "lib/x86_64-linux-gnu",
                "--library-type=cdylib",
                "--without-cli",
            ],
            &[],
        );
        Installs {
            full,
            static_only,
            staged: stage.join("opt/oauth2cc"),
            multiarch: multiarch.join("usr"),
            root,
        }
    })
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn script() -> PathBuf {
    manifest_dir().join("scripts/install.sh")
}

fn run_script(args: &[&str], env: &[(&str, &str)]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new("bash")
        .arg(script())
        .args(args)
        .env("CARGO", cargo)
        .env_remove("DESTDIR")
        .envs(env.iter().copied())
        .output()
        .expect("run bash scripts/install.sh")
}

fn install(args: &[&str], env: &[(&str, &str)]) {
    let output = run_script(args, env);
    assert!(
        output.status.success(),
        "scripts/install.sh {args:?} {env:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `readelf -d`: the NEEDED entries and the SONAME of an ELF file.
fn dynamic_section(file: &Path) -> (Vec<String>, Option<String>) {
    let text = run_tool(Command::new("readelf").arg("-d").arg(file));
    let bracketed = |line: &str, tag: &str| {
        let rest = line.split(tag).nth(1)?;
        Some(rest.split(']').next()?.to_owned())
    };
    let needed = text
        .lines()
        .filter_map(|l| bracketed(l, "Shared library: ["))
        .collect();
    let soname = text.lines().find_map(|l| bracketed(l, "Library soname: ["));
    (needed, soname)
}

/// Runs a consumer against the server with `LD_LIBRARY_PATH` set to `library_path` (empty:
/// the program must find its libraries by itself) and checks it printed the seed's line.
fn assert_gets_token(exe: &Path, library_path: &str) -> Outcome {
    let server = token_server("tok-installed");
    let mut env = credentials_env(CLIENT_ID, CLIENT_SECRET, server.url("/api/token"));
    env.push(("LD_LIBRARY_PATH", library_path.into()));
    let outcome = run_program(exe, &[], &env);
    assert!(outcome.status.success(), "{}", outcome.report());
    assert_eq!(outcome.stdout, SEED_LINE, "{}", outcome.report());
    assert_eq!(server.request_count(), 1);
    outcome
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    pkg_config_of(prefix, "oauth2cc", args)
}

fn pkg_config_of(prefix: &Path, package: &str, args: &[&str]) -> Vec<String> {
    let out = run_tool(
        Command::new("pkg-config")
            .args(args)
            .arg(package)
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .env_remove("PKG_CONFIG_SYSROOT_DIR"),
    );
    out.split_whitespace().map(str::to_owned).collect()
}

/// Builds `examples/client_credentials.c` with the flags pkg-config gives.
fn build_with_pkg_config(prefix: &Path, static_link: bool, name: &str) -> PathBuf {
    build_with_pkg_config_of(prefix, "oauth2cc", static_link, name)
}

fn build_with_pkg_config_of(
    prefix: &Path,
    package: &str,
    static_link: bool,
    name: &str,
) -> PathBuf {
    let mut query = vec!["--cflags", "--libs"];
    if static_link {
        query.push("--static");
    }
    let flags = pkg_config_of(prefix, package, &query);
    let exe = installs().root.join(name);
    run_tool(
        Command::new(cc())
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
            .arg(&exe)
            .arg(manifest_dir().join("examples/client_credentials.c"))
            .args(&flags),
    );
    exe
}

#[test]
fn install_puts_every_file_where_c_users_look() {
    let installs = installs();
    let lib = installs.full.join("lib");
    let soname = soname();
    let real = format!("liboauth2cc.so.{VERSION}");

    // liboauth2cc.so -> SONAME -> the real file, which carries that SONAME.
    assert_eq!(
        std::fs::read_link(lib.join("liboauth2cc.so")).unwrap(),
        PathBuf::from(&soname)
    );
    assert_eq!(
        std::fs::read_link(lib.join(&soname)).unwrap(),
        PathBuf::from(&real)
    );
    assert!(lib.join(&real).is_file() && !lib.join(&real).is_symlink());
    assert_eq!(dynamic_section(&lib.join(&real)).1, Some(soname.clone()));
    assert!(lib.join("liboauth2cc.a").is_file());

    // The library exports the C API and nothing else.
    let symbols = run_tool(
        Command::new("nm")
            .args(["-D", "--defined-only", "--format=posix"])
            .arg(lib.join(&real)),
    );
    let exported: Vec<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(exported.contains(&"oauth2cc_request_token"), "{exported:?}");
    let foreign: Vec<&&str> = exported
        .iter()
        .filter(|s| !s.starts_with("oauth2cc_"))
        .collect();
    assert!(foreign.is_empty(), "exported beyond the C API: {foreign:?}");

    // Installed stripped: no symbol table (the dynamic one stays).
    let sections = run_tool(Command::new("readelf").arg("-S").arg(lib.join(&real)));
    assert!(!sections.contains(".symtab"), "{sections}");

    // The tool: stripped, runnable, this version.
    let tool = installs.full.join("bin/oauth2cc");
    let sections = run_tool(Command::new("readelf").arg("-S").arg(&tool));
    assert!(!sections.contains(".symtab"), "{sections}");
    assert_eq!(
        run_tool(Command::new(&tool).arg("--version")),
        format!("oauth2cc {VERSION}\n")
    );

    for header in ["oauth2cc.h", "oauth2cc.hpp", "oauth2cc_curl.h"] {
        assert_eq!(
            read(&installs.full.join("include").join(header)),
            read(&manifest_dir().join("include").join(header)),
            "{header}"
        );
    }

    // pkg-config: the version, the flags, and what a static link adds.
    assert_eq!(pkg_config(&installs.full, &["--modversion"]), [VERSION]);
    let prefix = path_str(&installs.full);
    assert_eq!(
        pkg_config(&installs.full, &["--cflags", "--libs"]),
        [
            format!("-I{prefix}/include"),
            format!("-L{prefix}/lib"),
            "-loauth2cc".into()
        ]
    );
    let private = pkg_config(&installs.full, &["--libs", "--static"]);
    assert!(private.len() > 2, "{private:?}");
    assert!(
        private[2..].iter().all(|f| f.starts_with("-l")),
        "{private:?}"
    );
    assert_eq!(
        pkg_config(&installs.full, &["--variable=soname"]).join(" "),
        soname
    );

    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        assert_eq!(
            read(&installs.full.join("share/doc/oauth2cc").join(licence)),
            read(&manifest_dir().join(licence)),
            "{licence}"
        );
    }

    let cmake = lib.join("cmake/oauth2cc");
    assert!(read(&cmake.join("oauth2ccConfig.cmake")).contains("oauth2cc::oauth2cc"));
    assert!(read(&cmake.join("oauth2ccConfigVersion.cmake"))
        .contains(&format!("set(PACKAGE_VERSION \"{VERSION}\")")));
    // Every placeholder was filled in.
    for file in [
        lib.join("pkgconfig/oauth2cc.pc"),
        lib.join("pkgconfig/oauth2cc-static.pc"),
        cmake.join("oauth2ccConfig.cmake"),
        cmake.join("oauth2ccConfigVersion.cmake"),
    ] {
        assert!(
            !read(&file).contains('@'),
            "{} has a placeholder left",
            file.display()
        );
    }
}

#[test]
fn destdir_stages_the_tree_for_the_final_prefix() {
    let installs = installs();
    let staged = &installs.staged;
    assert!(staged.join("include/oauth2cc.h").is_file());
    assert!(staged.join("lib").join(soname()).exists());
    let pc = read(&staged.join("lib/pkgconfig/oauth2cc.pc"));
    assert!(pc.lines().any(|l| l == "prefix=/opt/oauth2cc"), "{pc}");
    assert!(!pc.contains(path_str(&installs.root)), "{pc}");

    // --destdir with a multiarch --libdir and only the shared library.
    let lib = installs.multiarch.join("lib/x86_64-linux-gnu");
    assert!(lib.join("liboauth2cc.so").exists());
    assert!(!lib.join("liboauth2cc.a").exists());
    assert!(installs.multiarch.join("include/oauth2cc.hpp").is_file());
    let pc = read(&lib.join("pkgconfig/oauth2cc.pc"));
    assert!(pc.contains("prefix=/usr\n"), "{pc}");
    assert!(
        pc.contains("libdir=${exec_prefix}/lib/x86_64-linux-gnu\n"),
        "{pc}"
    );
}

#[test]
fn pkg_config_shared_consumer_gets_a_token() {
    let installs = installs();
    let exe = build_with_pkg_config(&installs.full, false, "pkg_config_shared");
    let (needed, _) = dynamic_section(&exe);
    assert!(needed.contains(&soname()), "{needed:?}");
    assert_gets_token(&exe, path_str(&installs.full.join("lib")));
}

#[test]
fn pkg_config_static_consumer_gets_a_token() {
    let installs = installs();
    let exe = build_with_pkg_config(&installs.static_only, true, "pkg_config_static");
    let (needed, _) = dynamic_section(&exe);
    assert!(
        !needed.iter().any(|n| n.starts_with("liboauth2cc")),
        "{needed:?}"
    );
    assert_gets_token(&exe, "");
}

/// With the shared library installed beside the archive, `oauth2cc-static` still links the
/// archive: the program needs no liboauth2cc.so.
#[test]
fn pkg_config_static_package_links_the_archive_beside_the_shared_library() {
    let installs = installs();
    let lib = installs.full.join("lib");
    assert!(lib.join("liboauth2cc.so").exists() && lib.join("liboauth2cc.a").exists());
    let prefix = path_str(&installs.full);
    let libs = pkg_config_of(&installs.full, "oauth2cc-static", &["--libs", "--static"]);
    assert_eq!(libs[0], format!("{prefix}/lib/liboauth2cc.a"), "{libs:?}");
    assert!(!libs.iter().any(|f| f == "-loauth2cc"), "{libs:?}");
    let exe = build_with_pkg_config_of(
        &installs.full,
        "oauth2cc-static",
        true,
        "pkg_config_static_pc",
    );
    let (needed, _) = dynamic_section(&exe);
    assert!(
        !needed.iter().any(|n| n.starts_with("liboauth2cc")),
        "{needed:?}"
    );
    assert_gets_token(&exe, "");
    // Without --static too: the file names the archive.
    assert_eq!(
        pkg_config_of(&installs.full, "oauth2cc-static", &["--libs"]),
        libs
    );
    // The shared-only install has no archive and so no oauth2cc-static.pc; without the tool
    // (--without-cli), no bin/.
    assert!(!installs
        .multiarch
        .join("lib/x86_64-linux-gnu/pkgconfig/oauth2cc-static.pc")
        .exists());
    assert!(!installs.multiarch.join("bin").exists());
}

#[test]
fn cmake_find_package_consumers_get_a_token() {
    let installs = installs();
    let build = installs.root.join("cmake-build");
    let _ = std::fs::remove_dir_all(&build);
    // The staged tree, not at the prefix its files name: the package finds itself.
    run_tool(
        cmake_configure("tests/install", &build)
            .arg(format!(
                "-DCMAKE_PREFIX_PATH={}",
                path_str(&installs.staged)
            ))
            .arg(format!("-DCMAKE_C_COMPILER={}", cc()))
            .arg(format!("-DCMAKE_CXX_COMPILER={}", c_harness::cxx())),
    );
    run_tool(Command::new("cmake").arg("--build").arg(&build));

    let shared = build.join("consumer_c");
    let (needed, _) = dynamic_section(&shared);
    assert!(needed.contains(&soname()), "{needed:?}");
    assert_gets_token(&shared, "");

    let static_cpp = build.join("consumer_cpp_static");
    let (needed, _) = dynamic_section(&static_cpp);
    assert!(
        !needed.iter().any(|n| n.starts_with("liboauth2cc")),
        "{needed:?}"
    );
    assert_gets_token(&static_cpp, "");
}

/// Configures `tests/install/version_check` asking for `want`, with the package found under
/// `prefix` (`CMAKE_PREFIX_PATH`) or in `prefix`'s `package_dir` (`oauth2cc_DIR`); returns
/// whether it was found.
fn cmake_finds(prefix: &Path, package_dir: Option<&str>, want: &str, tag: &str) -> bool {
    let build = installs().root.join(format!("version-check-{tag}"));
    let _ = std::fs::remove_dir_all(&build);
    let location = match package_dir {
        None => format!("-DCMAKE_PREFIX_PATH={}", path_str(prefix)),
        Some(dir) => format!("-Doauth2cc_DIR={}", path_str(&prefix.join(dir))),
    };
    let out = run_tool(
        cmake_configure("tests/install/version_check", &build)
            .arg(location)
            .arg(format!("-DWANT={want}")),
    );
    if out.contains("oauth2cc found=TRUE") {
        let include = path_str(&prefix.join("include")).to_owned();
        assert!(
            out.contains(&format!("version={VERSION} include={include}\n")),
            "{out}"
        );
        true
    } else {
        assert!(out.contains("oauth2cc found=FALSE"), "{out}");
        false
    }
}

#[test]
fn cmake_version_check_follows_the_abi_policy() {
    let installs = installs();
    let mut parts = VERSION.split('.').map(|p| p.parse::<u64>().unwrap());
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    let finds = |want: &str, tag: &str| cmake_finds(&installs.full, None, want, tag);
    assert!(finds("", "any"));
    assert!(finds(VERSION, "exact"));
    assert!(!finds(&format!("{}.0", major + 1), "next-major"));
    if major == 0 {
        // 0.x: every minor release is its own ABI.
        assert!(finds(&format!("0.{minor}"), "same-minor"));
        assert!(!finds(&format!("0.{}", minor + 1), "next-minor"));
        if minor > 0 {
            assert!(!finds(&format!("0.{}", minor - 1), "older-minor"));
        }
    } else {
        assert!(finds(&format!("{major}.0"), "same-major"));
    }
    // The package finds its prefix from a libdir two levels deep as well.
    let multiarch_dir = Some("lib/x86_64-linux-gnu/cmake/oauth2cc");
    assert!(cmake_finds(
        &installs.multiarch,
        multiarch_dir,
        "",
        "multiarch"
    ));
}

#[test]
fn install_script_refuses_bad_arguments_before_building() {
    for (args, message) in [
        (
            &["--prefix", "relative/dir"][..],
            "--prefix must be an absolute path",
        ),
        (
            &["--prefix", "/tmp/x", "--libdir", "/abs"][..],
            "relative to the prefix",
        ),
        (
            &["--prefix", "/tmp/x", "--libdir", "../out"][..],
            "relative to the prefix",
        ),
        (
            &["--prefix", "/tmp/x", "--bindir", "../bin"][..],
            "relative to the prefix",
        ),
        (
            &["--library-type", "rlib"][..],
            "--library-type must be cdylib or staticlib",
        ),
        (
            &["--no-such-option"][..],
            "unknown argument: --no-such-option",
        ),
    ] {
        let output = run_script(args, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("building with"),
            "{args:?} built: {stderr}"
        );
    }
    let help = run_script(&["--help"], &[]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: scripts/install.sh"));
}
