//! Builds C (and C++) programs against `include/oauth2cc.h` and the shared library cargo
//! built, the way a user would, and runs them: `support::c_harness` in the C, C++, Python,
//! README, header and install tests.
//!
//! * The library is `liboauth2cc.so` in the profile directory of the running test
//!   (`target/<profile>/`, found from the test executable's path), built by the `capi/`
//!   package: the harness runs `cargo build -p oauth2cc-capi` once per test process (a no-op
//!   when it is up to date) so that no test runs against a library older than the sources.
//! * The harness makes a directory `target/c-tests/<profile>-lib/` holding `liboauth2cc.so`
//!   (and, should the library carry a SONAME, that name too; cargo builds set none, only
//!   `scripts/install.sh` does) as symlinks to the built library, and links and rpaths the
//!   programs to it.
//! * Programs go to `target/c-tests/<profile>-<variant>/`, one file per program (written
//!   under a temporary name and renamed), so tests running in parallel never share an output.
//!
//! Knobs, read from the environment of `cargo test`:
//! * `OAUTH2CC_C_TEST_WRAPPER`: a command put in front of every program run, split on
//!   whitespace, e.g. `valgrind --leak-check=full --error-exitcode=99
//!   --errors-for-leak-kinds=definite,indirect`.
//! * `OAUTH2CC_C_TEST_CFLAGS`: extra compiler and linker flags, split on whitespace, e.g.
//!   `-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer`
//!   (without `-fno-sanitize-recover`, UBSan reports and carries on). The variant directory is named
//!   after them, so differently built programs do not overwrite each other.
//! * `CC` / `CXX`: the C and C++ compilers (default `cc` and `c++`).
//! * `OAUTH2CC_C_TEST_WINDOWS`: the folder of an unzipped Windows package
//!   (`scripts/package-windows.sh`). Then programs are Windows programs: compiled with
//!   `x86_64-w64-mingw32-gcc` (`$OAUTH2CC_C_TEST_WINDOWS_CC`) against the package's
//!   `include/` and `lib/liboauth2cc.dll.a`, linked `-static` (so they need no MinGW DLL),
//!   written as `<name>.exe` beside the package's `oauth2cc.dll` and a stand-in
//!   `bcryptprimitives.dll` (built from `tests/c/windows/bcryptprimitives.c`: Wine 8 lacks
//!   the `ProcessPrng` Rust's std calls; never packaged), and run with `wine` in the prefix
//!   `target/c-tests/wine-prefix` (made once with `wineboot`; `WINEDEBUG=-all`). Paths
//!   handed to programs go through [`program_path`] (`Z:\...` under Wine). The wrapper and
//!   the extra flags are not used. See `tests/windows.rs`.
//! * `OAUTH2CC_C_TEST_PACKAGE`: the folder of an unpacked Linux tarball
//!   (`scripts/package-linux.sh`). Programs are compiled against its `include/` and linked
//!   to its `lib/liboauth2cc.so` instead of the library cargo built; with a compiler and the
//!   wrapper this runs the tests for another architecture, e.g.
//!   `OAUTH2CC_C_TEST_CC=aarch64-linux-gnu-gcc
//!   OAUTH2CC_C_TEST_WRAPPER="qemu-aarch64 -L /usr/aarch64-linux-gnu"` (`.ci/run`).
//!
//! Programs run with a clean slate: every `OAUTH2CC_*`, `SPOTIFY_*`, proxy and
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` variable of the parent environment is removed, then the test's own variables are set.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The flags every C test program is compiled with.
pub const C_FLAGS: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];

/// The warnings the header checks (tests/header.rs, tests/curl_glue.rs) turn into errors, for
/// C and C++ alike; the language standard comes on top.
pub const STRICT_FLAGS: &[&str] = &[
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-Wshadow",
    "-Wundef",
];

/// How long a program may run before it is killed (much longer under a wrapper).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const WRAPPED_RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Proxy variables removed from a program's environment (loopback tests talk directly):
/// every one the library reads, from the library's own list.
const PROXY_VARS: &[&str] = &oauth2cc::internals::PROXY_VARIABLES;

/// The crate's root folder.
pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `include/` (the package's in package mode).
pub fn include_dir() -> PathBuf {
    match linux_package() {
        Some(package) => package.join("include"),
        None => manifest_dir().join("include"),
    }
}

/// The unpacked Linux package named by `OAUTH2CC_C_TEST_PACKAGE`, if any.
pub fn linux_package() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(std::env::var_os("OAUTH2CC_C_TEST_PACKAGE")?);
        assert!(
            dir.join("lib/liboauth2cc.so").exists() && dir.join("include/oauth2cc.h").is_file(),
            "OAUTH2CC_C_TEST_PACKAGE={} is not an unpacked Linux package with a shared library",
            dir.display()
        );
        Some(std::path::absolute(&dir).expect("an absolute path"))
    })
    .as_deref()
}

/// `target/<profile>/`: where cargo put this test executable's library.
pub fn profile_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/<test>-<hash>
        exe.parent()
            .and_then(Path::parent)
            .expect("the test executable lives in target/<profile>/deps/")
            .to_path_buf()
    })
}

fn profile_name() -> String {
    profile_dir()
        .file_name()
        .map_or_else(|| "profile".into(), |n| n.to_string_lossy().into_owned())
}

/// `target/c-tests/`.
fn c_tests_root() -> PathBuf {
    profile_dir()
        .parent()
        .unwrap_or_else(|| profile_dir())
        .join("c-tests")
}

/// True (with a note on stderr) when the programs are Windows programs: a test of a POSIX
/// facility (fork, FIFOs, signals) then has nothing to run.
pub fn posix_only(what: &str) -> bool {
    let windows = windows_package().is_some();
    if windows {
        super::skip::skip(
            super::skip::Ci::DoesNotInstall,
            &format!("{what}: POSIX only, not run for the Windows package"),
        );
    }
    windows
}

/// The unzipped Windows package named by `OAUTH2CC_C_TEST_WINDOWS`, if any.
pub fn windows_package() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(std::env::var_os("OAUTH2CC_C_TEST_WINDOWS")?);
        assert!(
            dir.join("bin/oauth2cc.dll").is_file(),
            "OAUTH2CC_C_TEST_WINDOWS={} is not an unzipped Windows package (no bin/oauth2cc.dll)",
            dir.display()
        );
        Some(std::path::absolute(&dir).expect("an absolute path"))
    })
    .as_deref()
}

/// The MinGW-w64 C compiler for Windows programs.
pub fn windows_cc() -> String {
    std::env::var("OAUTH2CC_C_TEST_WINDOWS_CC")
        .unwrap_or_else(|_| "x86_64-w64-mingw32-gcc".to_owned())
}

/// A path as the program sees it: as is on Linux; [`wine_path`] when the programs are
/// Windows programs.
pub fn program_path(path: &Path) -> String {
    if windows_package().is_some() {
        wine_path(path)
    } else {
        absolute_utf8(path)
    }
}

/// The Windows path under which a Wine program sees `path` (`Z:` is Wine's drive for `/`).
pub fn wine_path(path: &Path) -> String {
    format!("Z:{}", absolute_utf8(path).replace('/', "\\"))
}

fn absolute_utf8(path: &Path) -> String {
    let absolute = std::path::absolute(path).expect("an absolute path");
    absolute.to_str().expect("a UTF-8 path").to_owned()
}

/// The Wine prefix the Windows programs run in, made once (`wineboot --init`, about 15 s) and
/// reused. It is made under a name of this process's own, then renamed into place, so two
/// test processes never share a half-made prefix (the loser of the race removes its own).
fn wine_prefix() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = c_tests_root().join("wine-prefix");
        if dir.join("system.reg").exists() {
            return dir;
        }
        std::fs::create_dir_all(c_tests_root()).expect("create target/c-tests");
        let fresh = c_tests_root().join(format!("wine-prefix.{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&fresh);
        let started = Instant::now();
        for (program, args) in [("wineboot", &["--init"][..]), ("wineserver", &["-w"][..])] {
            // wineserver -w: wait until the registry is written.
            let output = Command::new(program)
                .args(args)
                .envs(wine_env(&fresh))
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("run {program} (install wine64): {e}"));
            assert!(
                output.status.success(),
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        if std::fs::rename(&fresh, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&fresh);
        }
        assert!(
            dir.join("system.reg").exists(),
            "wineboot made no prefix in {}",
            dir.display()
        );
        eprintln!(
            "made the Wine prefix {} in {:.1?}",
            dir.display(),
            started.elapsed()
        );
        dir
    })
}

/// The environment of a Wine process: its prefix, no debug output, no Mono or Gecko
/// installer.
fn wine_env(prefix: &Path) -> Vec<(&'static str, OsString)> {
    vec![
        ("WINEPREFIX", prefix.as_os_str().to_owned()),
        ("WINEDEBUG", "-all".into()),
        ("WINEDLLOVERRIDES", "mscoree,mshtml=".into()),
    ]
}

/// Copies the package's `oauth2cc.dll` into [`out_dir`] and builds the `ProcessPrng`
/// stand-in there, once.
fn windows_runtime() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let package = windows_package().expect("Windows mode");
        let dll = out_dir().join("oauth2cc.dll");
        let tmp = out_dir().join(format!(".oauth2cc.dll.{}.tmp", std::process::id()));
        std::fs::copy(package.join("bin/oauth2cc.dll"), &tmp).expect("copy oauth2cc.dll");
        std::fs::rename(&tmp, &dll).expect("rename oauth2cc.dll");
        build_process_prng_stand_in(out_dir());
    });
}

/// Builds `dir/bcryptprimitives.dll` from `tests/c/windows/bcryptprimitives.c`.
pub fn build_process_prng_stand_in(dir: &Path) {
    let source = manifest_dir().join("tests/c/windows/bcryptprimitives.c");
    let tmp = dir.join(format!(".bcryptprimitives.{}.tmp", std::process::id()));
    let output = Command::new(windows_cc())
        .args(["-shared", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&tmp)
        .arg(&source)
        .arg("-ladvapi32")
        .output()
        .unwrap_or_else(|e| panic!("run {} (install gcc-mingw-w64-x86-64): {e}", windows_cc()));
    assert!(
        output.status.success(),
        "building the ProcessPrng stand-in failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&tmp, dir.join("bcryptprimitives.dll")).expect("rename bcryptprimitives.dll");
}

fn words(var: &str) -> Vec<String> {
    std::env::var(var)
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Extra flags from `OAUTH2CC_C_TEST_CFLAGS`.
pub fn extra_cflags() -> Vec<String> {
    words("OAUTH2CC_C_TEST_CFLAGS")
}

/// The command from `OAUTH2CC_C_TEST_WRAPPER`, empty when unset.
pub fn wrapper() -> Vec<String> {
    words("OAUTH2CC_C_TEST_WRAPPER")
}

/// Where programs are written: one folder per profile and set of extra flags.
pub fn out_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let flags = extra_cflags().join(" ");
        let variant: String = if windows_package().is_some() {
            "windows".into()
        } else if linux_package().is_some() {
            format!(
                "package-{}",
                cc().replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            )
        } else if flags.is_empty() {
            "default".into()
        } else {
            flags
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect()
        };
        let dir = c_tests_root().join(format!("{}-{variant}", profile_name()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        dir
    })
}

/// The folder holding `liboauth2cc.so` and its SONAME, to link and rpath against.
pub fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(package) = linux_package() {
            return package.join("lib");
        }
        let library = build_shared_library();
        let dir = c_tests_root().join(format!("{}-lib", profile_name()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let soname = soname(&library);
        for name in ["liboauth2cc.so", soname.as_str()] {
            replace_symlink(&library, &dir.join(name));
        }
        dir
    })
}

/// Builds the C libraries (the `capi/` package) in this test's profile and target folder and
/// returns the shared one. `cargo test` builds them only when it tests that package too (a
/// plain `cargo test` does; `cargo test --test c_api` does not), so this runs `cargo build`
/// once per test process: nothing to do, and under a second, when they are up to date; and
/// never a test against a library older than the sources.
fn build_shared_library() -> PathBuf {
    let library = profile_dir().join("liboauth2cc.so");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(manifest_dir())
        .args(["build", "--quiet", "-p", "oauth2cc-capi", "--target-dir"])
        .arg(profile_dir().parent().expect("target dir"));
    if profile_name() == "release" {
        command.arg("--release");
    }
    let status = command.status().expect("run cargo build");
    assert!(
        status.success() && library.exists(),
        "`cargo build -p oauth2cc-capi` did not produce {}",
        library.display()
    );
    library
}

/// The library's SONAME, read with `readelf -d` (binutils, installed with every C compiler).
fn soname(library: &Path) -> String {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(library)
        .output()
        .unwrap_or_else(|e| panic!("run readelf (install binutils): {e}"));
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            let rest = line.split("Library soname: [").nth(1)?;
            Some(rest.split(']').next()?.to_owned())
        })
        .unwrap_or_else(|| "liboauth2cc.so".to_owned())
}

/// Points `link` at `target`, atomically (a symlink under a temporary name, then a rename),
/// so parallel test processes never see a missing or half-made link.
fn replace_symlink(target: &Path, link: &Path) {
    let name = link.file_name().expect("a file name").to_string_lossy();
    let tmp = link.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .unwrap_or_else(|e| panic!("symlink {}: {e}", tmp.display()));
    std::fs::rename(&tmp, link).unwrap_or_else(|e| panic!("rename to {}: {e}", link.display()));
}

/// Compiles and links `source` into `out_dir()/name` with `compiler` and `flags` (plus the
/// extra flags), against the header and the library. Panics with the compiler's output.
pub fn build_with(compiler: &str, flags: &[&str], source: &Path, name: &str) -> PathBuf {
    build_sources(compiler, flags, &[source], name)
}

/// [`build_with`] for a program made of several sources (the first is the program).
fn build_sources(compiler: &str, flags: &[&str], sources: &[&Path], name: &str) -> PathBuf {
    if let Some(package) = windows_package() {
        return build_windows(package, flags, sources[0], name);
    }
    let exe = out_dir().join(name);
    let tmp = out_dir().join(format!(".{name}.{}.tmp", std::process::id()));
    let lib = lib_dir();
    let mut command = Command::new(compiler);
    command
        .args(flags)
        .args(extra_cflags())
        .arg("-I")
        .arg(include_dir())
        .arg("-o")
        .arg(&tmp)
        .args(sources)
        .arg("-L")
        .arg(lib)
        .arg("-loauth2cc")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-pthread");
    run_tool(&mut command);
    assert_sanitizers_linked(&tmp);
    std::fs::rename(&tmp, &exe).unwrap_or_else(|e| panic!("rename to {}: {e}", exe.display()));
    exe
}

/// [`build_with`] for Windows: MinGW-w64, the package's header and import library, `-static`
/// for the C runtime's own libraries (winpthread, libgcc).
fn build_windows(package: &Path, flags: &[&str], source: &Path, name: &str) -> PathBuf {
    windows_runtime();
    let exe = out_dir().join(format!("{name}.exe"));
    let tmp = out_dir().join(format!(".{name}.{}.tmp.exe", std::process::id()));
    let compiler = if flags.iter().any(|f| f.starts_with("-std=c++")) {
        windows_cc().replace("-gcc", "-g++")
    } else {
        windows_cc()
    };
    let mut command = Command::new(&compiler);
    command
        .args(flags)
        .arg("-I")
        .arg(package.join("include"))
        .arg("-o")
        .arg(&tmp)
        .arg(source)
        .arg(package.join("lib/liboauth2cc.dll.a"))
        .args(["-static", "-pthread"]);
    run_tool(&mut command);
    std::fs::rename(&tmp, &exe).unwrap_or_else(|e| panic!("rename to {}: {e}", exe.display()));
    exe
}

/// A fresh folder `target/<name>/run-<pid>` for one test process's big outputs (installs,
/// unzipped packages), after removing the folders of earlier runs whose process is gone
/// (each may hold ~100 MB).
pub fn run_folder(name: &str) -> PathBuf {
    let base = profile_dir()
        .parent()
        .expect("the target folder")
        .join(name);
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = file_name.strip_prefix("run-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    let root = base.join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
    root
}

/// Runs a tool (a compiler, `readelf`, `cmake`...) and returns its stdout; panics with the
/// command, its status, stdout and stderr when it cannot be run or fails.
pub fn run_tool(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?} (is it installed?): {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `cmake -S <project> -B <build>` for `project`, a CMake project in this repository: add
/// the `-D` settings and run it with [`run_tool`].
pub fn cmake_configure(project: &str, build: &Path) -> Command {
    let mut command = Command::new("cmake");
    command
        .arg("-S")
        .arg(manifest_dir().join(project))
        .arg("-B")
        .arg(build);
    command
}

/// When the extra flags ask for ASan or UBSan, checks the program really carries the
/// runtime (its symbols are in the binary or it needs the runtime library), so a sanitizer
/// run cannot pass by silently not sanitizing.
fn assert_sanitizers_linked(exe: &Path) {
    let flags = extra_cflags().join(" ");
    let wanted: Vec<(&str, &str)> = [("address", "__asan_init"), ("undefined", "__ubsan_handle_")]
        .into_iter()
        .filter(|(name, _)| {
            flags.split(['=', ',', ' ']).any(|w| w == *name) && flags.contains("-fsanitize=")
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let output = Command::new("nm")
        .arg("-D")
        .arg("--undefined-only")
        .arg(exe)
        .output()
        .unwrap_or_else(|e| panic!("run nm (install binutils): {e}"));
    let symbols = String::from_utf8_lossy(&output.stdout);
    let needed = Command::new("readelf")
        .arg("-d")
        .arg(exe)
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let needed = String::from_utf8_lossy(&needed);
    for (name, symbol) in wanted {
        let runtime = if name == "address" {
            "libasan"
        } else {
            "libubsan"
        };
        assert!(
            symbols.contains(symbol) || needed.contains(runtime),
            "{} was built with -fsanitize={name} but does not use the {runtime} runtime",
            exe.display()
        );
    }
}

/// The C compiler (`$OAUTH2CC_C_TEST_CC`, else `$CC`, default `cc`; [`windows_cc`] in
/// Windows mode). `OAUTH2CC_C_TEST_CC` is for a cross compiler: `CC` would reach the build
/// scripts of `cargo test`'s own host build (ring's) too.
pub fn cc() -> String {
    if windows_package().is_some() {
        return windows_cc();
    }
    std::env::var("OAUTH2CC_C_TEST_CC")
        .or_else(|_| std::env::var("CC"))
        .unwrap_or_else(|_| "cc".to_owned())
}

/// The C++ compiler (`$CXX`, default `c++`).
pub fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned())
}

/// Compiles a C program with [`C_FLAGS`], and, where [`checks_frees`], with
/// `tests/c/free_check.c`: then the program aborts if the library ever frees a block that is
/// not all zeros.
pub fn build_c(source: &Path, name: &str) -> PathBuf {
    let free_check = manifest_dir().join("tests/c/free_check.c");
    match checks_frees() {
        true => build_sources(&cc(), C_FLAGS, &[source, &free_check], name),
        false => build_sources(&cc(), C_FLAGS, &[source], name),
    }
}

/// Whether C programs are built with `tests/c/free_check.c`: on Linux with glibc, and not
/// under a wrapper (valgrind) or extra flags (sanitizers), which replace `free` themselves.
pub fn checks_frees() -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
        && windows_package().is_none()
        && wrapper().is_empty()
        && extra_cflags().is_empty()
}

/// Names of the functions the header declares: `oauth2cc_x(` at the start of a
/// declaration, after its return type.
pub fn declared_functions(header: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let line = line.trim_start();
        if ["*", "/*", "#", "//", "typedef"]
            .iter()
            .any(|p| line.starts_with(p))
        {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("oauth2cc_") {
            rest = &rest[start..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if rest[end..].starts_with('(') {
                names.insert(rest[..end].to_owned());
            }
            rest = &rest[end..];
        }
    }
    names
}

/// `source` (C) with each comment and each string and character literal replaced by a
/// space (newlines kept), so that what is left is code. Line splices (`\` + newline) are
/// not handled.
pub fn c_code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                out.push(' ');
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push(' ');
                let mut star = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
            }
            '"' | '\'' => {
                let quote = c;
                out.push(' ');
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '\n' => {
                            out.push('\n');
                            break;
                        }
                        _ if c == quote => break,
                        _ => {}
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The names a C source calls: every identifier followed (white space allowed) by `(` in
/// its code, that is outside comments and literals ([`c_code_only`]). Whole identifiers
/// only: `xoauth2cc_free(` is not a call of `oauth2cc_free`.
pub fn called_functions(source: &str) -> BTreeSet<String> {
    let code = c_code_only(source);
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(start) = rest.find(is_ident) {
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        let is_name = !word.starts_with(|c: char| c.is_ascii_digit());
        if is_name && after.trim_start().starts_with('(') {
            names.insert(word.to_owned());
        }
        rest = after;
    }
    names
}

/// What a program did.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    /// The program's own stderr: without the `==PID==` lines valgrind adds under a wrapper.
    pub stderr: String,
    /// Everything written to stderr.
    pub raw_stderr: String,
    pub command: String,
}

impl Outcome {
    /// The command, the exit status and both outputs, for a failure message.
    pub fn report(&self) -> String {
        format!(
            "command: {}\nexit: {}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.command, self.status, self.stdout, self.raw_stderr
        )
    }
}

impl Outcome {
    fn new(status: ExitStatus, stdout: String, raw_stderr: String, command: String) -> Outcome {
        // Windows programs write text-mode "\r\n".
        let (stdout, raw_stderr) = if windows_package().is_some() || command.starts_with("wine ") {
            (
                stdout.replace("\r\n", "\n"),
                raw_stderr.replace("\r\n", "\n"),
            )
        } else {
            (stdout, raw_stderr)
        };
        let stderr = raw_stderr
            .split_inclusive('\n')
            .filter(|line| !is_valgrind_line(line))
            .collect();
        Outcome {
            status,
            stdout,
            stderr,
            raw_stderr,
            command,
        }
    }
}

/// `==1234== ...`: a line of valgrind's report.
fn is_valgrind_line(line: &str) -> bool {
    line.strip_prefix("==")
        .and_then(|rest| rest.split_once("=="))
        .is_some_and(|(pid, _)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

fn is_scrubbed(name: &str) -> bool {
    name.starts_with("OAUTH2CC_")
        || name.starts_with("SPOTIFY_")
        || PROXY_VARS.contains(&name)
        || name == "SSL_CERT_FILE"
        || name == "SSL_CERT_DIR"
}

/// A `.exe`: run with `wine`.
pub fn is_windows_program(exe: &Path) -> bool {
    exe.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("exe"))
}

/// Runs `exe args...` (behind the wrapper, if any; with `wine` if it is a `.exe`) with `env` on top of the scrubbed
/// environment. Kills it and panics if it runs past the timeout.
pub fn run_program(exe: &Path, args: &[&str], env: &[(&str, String)]) -> Outcome {
    run_program_in(None, exe, args, env)
}

/// [`run_program`] with `dir` (when given) as the program's working folder.
pub fn run_program_in(
    dir: Option<&Path>,
    exe: &Path,
    args: &[&str],
    env: &[(&str, String)],
) -> Outcome {
    let windows = is_windows_program(exe);
    let mut argv: Vec<OsString> = if windows {
        vec!["wine".into()]
    } else {
        wrapper().into_iter().map(OsString::from).collect()
    };
    let timeout = if argv.is_empty() {
        RUN_TIMEOUT
    } else {
        WRAPPED_RUN_TIMEOUT
    };
    argv.push(exe.into());
    argv.extend(args.iter().map(OsString::from));
    let command_line = argv
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");

    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_scrubbed) {
            command.env_remove(&name);
        }
    }
    if windows {
        command.envs(wine_env(wine_prefix()));
    }
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("start {command_line}: {e}"));
    let stdout = collect(child.stdout.take().expect("piped stdout"));
    let stderr = collect(child.stderr.take().expect("piped stderr"));

    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the program") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let status = child.wait().expect("wait for the killed program");
            let outcome = Outcome::new(
                status,
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default(),
                command_line,
            );
            panic!("killed after {timeout:?}\n{}", outcome.report());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome::new(
        status,
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
        command_line,
    )
}

/// Reads a pipe to the end on its own thread (so neither pipe can fill up and block).
fn collect(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Builds `tests/c/<name>.c`, runs it with `env`, and asserts that it exited 0 after
/// printing `<name>: all N checks passed`. Returns what it printed.
///
/// Where [`checks_frees`], the program also reports (on stderr, at exit) how many blocks the
/// library freed, each checked to be all zeros; that line is taken out of `stderr` and the
/// count must not be 0 (the check saw the library's frees), except for `version`, which
/// frees nothing.
pub fn run_c_test(name: &str, env: &[(&str, String)]) -> Outcome {
    let source = manifest_dir().join("tests/c").join(format!("{name}.c"));
    let exe = build_c(&source, name);
    let mut env = env.to_vec();
    if checks_frees() {
        env.push(("OAUTH2CC_FREE_CHECK_REPORT", "1".to_owned()));
    }
    let mut outcome = run_program(&exe, &[], &env);
    assert!(
        outcome.status.success(),
        "C test {name} failed\n{}",
        outcome.report()
    );
    if checks_frees() {
        let (reports, rest): (Vec<&str>, Vec<&str>) = outcome
            .stderr
            .lines()
            .partition(|l| l.starts_with("free_check: "));
        let checked: u64 = reports
            .iter()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        assert!(
            !reports.is_empty() && (checked > 0 || name == "version"),
            "C test {name}: tests/c/free_check.c saw no block freed by the library\n{}",
            outcome.report()
        );
        outcome.stderr = rest.iter().map(|l| format!("{l}\n")).collect();
    }
    let done = format!("{name}: all ");
    assert!(
        outcome
            .stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with(&done) && l.ends_with(" checks passed")),
        "C test {name} exited 0 without reporting its checks\n{}",
        outcome.report()
    );
    outcome
}
