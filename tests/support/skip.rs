//! Saying that a test did not run, where `cargo test` shows it.
//!
//! libtest captures what a passing test prints with `println!`/`eprintln!`, so a test that
//! returned early because a tool was missing used to read `ok` with no word of why. [`skip`]
//! writes `skipped: <test>: <why>` straight to the process's stderr (the capture only covers
//! the print macros), so the line shows between the test results, and appends it to the file
//! named by `OAUTH2CC_SKIP_LOG` (set by `scripts/test.sh`, which prints the file at the end).
//!
//! Under CI (`CI` set to anything but `""`, `0` or `false`), a skip of something CI installs
//! ([`Ci::Installs`]) fails the test instead: in CI every test must really run.

use std::io::Write;

/// Whether `.ci/run` installs what the test is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ci {
    /// CI installs it: under CI the skip is a failure.
    Installs,
    /// Not a tool CI provides (a platform limit, a run mode): the skip is reported only.
    DoesNotInstall,
}

/// Whether this is a CI run.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The test running on this thread, as `crate::test_name`.
fn test_name() -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("?");
    format!("{}::{name}", env!("CARGO_CRATE_NAME"))
}

/// Reports that the calling test does not run (or does not run in full) because of `why`;
/// the caller returns right after. Fails the test instead under CI when `ci` is
/// [`Ci::Installs`].
pub fn skip(ci: Ci, why: &str) {
    let line = format!("skipped: {}: {why}", test_name());
    assert!(
        !(ci == Ci::Installs && under_ci()),
        "CI is set, so this must run: {line}"
    );
    // Straight to the stream, past libtest's capture; one write so lines do not interleave.
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
    if let Some(log) = std::env::var_os("OAUTH2CC_SKIP_LOG") {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            let _ = writeln!(
                std::io::stderr().lock(),
                "cannot append to OAUTH2CC_SKIP_LOG {}: {e}",
                std::path::Path::new(&log).display()
            );
        }
    }
}

/// Whether `program` runs with `arg` (e.g. `--version`) and exits 0.
pub fn runs(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
