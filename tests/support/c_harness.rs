//! Builds C (and C++) programs against `include/oauth2cc.h` and the shared library cargo
//! built, the way a user would, and runs them: `support::c_harness` in the C, C++, Python,
//! README, header and install tests.
//!
//! * The library is `liboauth2cc.so` in the profile directory of the running test
//!   (`target/<profile>/`, found from the test executable's path). `cargo test` builds it
//!   (the crate is also a cdylib); when it is missing, `cargo build --lib` is run once.
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
//!
//! Programs run with a clean slate: every `OAUTH2CC_*`, `SPOTIFY_*` and proxy variable of
//! the parent environment is removed, then the test's own variables are set.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The flags every C test program is compiled with.
pub const C_FLAGS: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];

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

/// `include/`.
pub fn include_dir() -> PathBuf {
    manifest_dir().join("include")
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
        let variant: String = if flags.is_empty() {
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
        // `cargo test` builds the cdylib as a dependency of the test targets into `deps/`;
        // `target/<profile>/liboauth2cc.so` is only refreshed by `cargo build`, so it can be
        // stale while the tests run: prefer the one in `deps/`.
        let fresh = profile_dir().join("deps").join("liboauth2cc.so");
        let library = if fresh.exists() {
            fresh
        } else {
            profile_dir().join("liboauth2cc.so")
        };
        if !library.exists() {
            build_shared_library(&library);
        }
        let dir = c_tests_root().join(format!("{}-lib", profile_name()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let soname = soname(&library);
        for name in ["liboauth2cc.so", soname.as_str()] {
            replace_symlink(&library, &dir.join(name));
        }
        dir
    })
}

/// `cargo test` builds the cdylib next to the test executables; if something else built the
/// tests (or the file was removed), build it now rather than fail obscurely.
fn build_shared_library(library: &Path) {
    eprintln!(
        "{} is missing: `cargo test` normally builds it (the crate is also a cdylib); \
         running `cargo build --lib` for it",
        library.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(manifest_dir())
        .args(["build", "--lib", "--target-dir"])
        .arg(profile_dir().parent().expect("target dir"));
    if profile_name() == "release" {
        command.arg("--release");
    }
    let status = command.status().expect("run cargo build");
    assert!(
        status.success() && library.exists(),
        "`cargo build --lib` did not produce {}; build the library and run the tests again",
        library.display()
    );
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
        .arg(source)
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

/// The C compiler (`$CC`, default `cc`).
pub fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// The C++ compiler (`$CXX`, default `c++`).
pub fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned())
}

/// Compiles a C program with [`C_FLAGS`].
pub fn build_c(source: &Path, name: &str) -> PathBuf {
    build_with(&cc(), C_FLAGS, source, name)
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
    name.starts_with("OAUTH2CC_") || name.starts_with("SPOTIFY_") || PROXY_VARS.contains(&name)
}

/// Runs `exe args...` (behind the wrapper, if any) with `env` on top of the scrubbed
/// environment. Kills it and panics if it runs past the timeout.
pub fn run_program(exe: &Path, args: &[&str], env: &[(&str, String)]) -> Outcome {
    let mut argv: Vec<OsString> = wrapper().into_iter().map(OsString::from).collect();
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
pub fn run_c_test(name: &str, env: &[(&str, String)]) -> Outcome {
    let source = manifest_dir().join("tests/c").join(format!("{name}.c"));
    let exe = build_c(&source, name);
    let outcome = run_program(&exe, &[], env);
    assert!(
        outcome.status.success(),
        "C test {name} failed\n{}",
        outcome.report()
    );
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
