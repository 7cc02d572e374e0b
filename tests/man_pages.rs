//! The C API reference cannot drift from the header: `scripts/docs.sh` makes the HTML
//! reference (Doxygen, every warning an error) and a man page per function (the header's doc
//! comments through scripts/lib/man_pages.py and pandoc). Checked here: every `oauth2cc_*`
//! function the header declares has its page, with the sections of a C library's man page,
//! and `man` renders each without a warning; an undocumented export fails both generators.
//!
//! Needs doxygen, pandoc, python3 and man (`apt-get install doxygen pandoc man-db`); without
//! them the tests print `skipped: <test>: <why>`, and fail under CI, which installs them.

#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::c_harness::{declared_functions, manifest_dir, run_folder};
use support::skip::{runs, skip, Ci};

/// Why the pages cannot be made here, if they cannot.
fn missing_tool() -> Option<String> {
    let missing: Vec<&str> = [
        ("doxygen", "--version"),
        ("pandoc", "--version"),
        ("python3", "--version"),
        ("man", "--version"),
    ]
    .into_iter()
    .filter(|(tool, arg)| !runs(tool, arg))
    .map(|(tool, _)| tool)
    .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} missing (apt-get install doxygen pandoc python3 man-db)",
            missing.join(", ")
        )
    })
}

/// The output of `scripts/docs.sh`, made once per test process; `None` after a skip.
fn docs() -> Option<&'static Path> {
    static DOCS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let made = DOCS.get_or_init(|| {
        if let Some(why) = missing_tool() {
            return Err(why);
        }
        let out = run_folder("doc-c");
        let output = Command::new(manifest_dir().join("scripts/docs.sh"))
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run scripts/docs.sh");
        assert!(
            output.status.success(),
            "scripts/docs.sh failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(out)
    });
    match made {
        Ok(out) => Some(out),
        Err(why) => {
            skip(Ci::Installs, why);
            None
        }
    }
}

fn header() -> String {
    std::fs::read_to_string(manifest_dir().join("include/oauth2cc.h")).expect("read the header")
}

/// `man -l PAGE` at 80 columns, groff's warnings on.
fn render(page: &Path) -> Output {
    Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(page)
        .env("MANWIDTH", "80")
        .env_remove("MAN_KEEP_FORMATTING")
        .env_remove("MANPAGER")
        .env("PAGER", "cat")
        .output()
        .expect("run man")
}

#[test]
fn every_function_of_the_header_has_a_man_page_that_renders_without_warnings() {
    let Some(docs) = docs() else { return };
    let man3 = docs.join("man/man3");
    let declared = declared_functions(&header());
    assert!(declared.len() >= 40, "{declared:?}");
    for name in declared.iter().map(String::as_str).chain(["oauth2cc"]) {
        let page = man3.join(format!("{name}.3"));
        assert!(page.is_file(), "no man page for {name}");
        let output = render(&page);
        let text = String::from_utf8_lossy(&output.stdout);
        let warnings = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "man -l {name}.3 failed: {warnings}"
        );
        assert!(
            warnings.trim().is_empty(),
            "man -l {name}.3 warns:\n{warnings}"
        );
        let sections: &[&str] = if name == "oauth2cc" {
            &["NAME", "SYNOPSIS", "DESCRIPTION", "FUNCTIONS", "SEE ALSO"]
        } else {
            &[
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "RETURN VALUE",
                "THREAD SAFETY",
                "SEE ALSO",
            ]
        };
        for section in sections {
            assert!(
                text.lines().any(|l| l.trim_end() == *section),
                "{name}.3 has no {section} section:\n{text}"
            );
        }
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&format!("NAME {name} - ")),
            "{name}.3: the NAME line does not name it:\n{text}"
        );
        if name != "oauth2cc" {
            assert!(
                text.contains(&format!("{name}(")) && text.contains("#include <oauth2cc.h>"),
                "{name}.3: the synopsis does not declare it:\n{text}"
            );
        }
    }
    // The overview lists every function, and nothing is left over from a removed one.
    let overview = String::from_utf8_lossy(&render(&man3.join("oauth2cc.3")).stdout).into_owned();
    for name in &declared {
        assert!(
            overview.contains(&format!("{name}(3)")),
            "oauth2cc.3 does not list {name}"
        );
    }
    let pages = std::fs::read_dir(&man3)
        .expect("read man3")
        .filter_map(|e| e.ok())
        .count();
    assert_eq!(
        pages,
        declared.len() + 1,
        "pages beside the header's functions"
    );
}

#[test]
fn the_html_reference_is_built_warning_free() {
    let Some(docs) = docs() else { return };
    let index = std::fs::read_to_string(docs.join("index.html")).expect("index.html");
    assert!(index.contains("oauth2cc"), "{index}");
    let warnings =
        std::fs::read_to_string(docs.join("doxygen-warnings.txt")).expect("Doxygen's log");
    assert!(warnings.trim().is_empty(), "{warnings}");
    let file_page = std::fs::read_dir(docs)
        .expect("read the HTML folder")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("oauth2cc_8h") && n.ends_with(".html"))
        })
        .expect("the header's HTML page");
    let html = std::fs::read_to_string(file_page).expect("read the header's page");
    for name in declared_functions(&header()) {
        assert!(html.contains(&name), "the HTML reference lacks {name}");
    }
}

/// The header with one more export that has no doc comment.
fn header_with_an_undocumented_export() -> (support::TempDir, PathBuf) {
    let dir = support::TempDir::new("undocumented-export");
    let header = header().replace(
        "#ifdef __cplusplus\n}  // extern \"C\"",
        "void oauth2cc_undocumented_export(void);\n\n#ifdef __cplusplus\n}  // extern \"C\"",
    );
    assert!(header.contains("oauth2cc_undocumented_export"));
    let path = dir.path().join("oauth2cc.h");
    std::fs::write(&path, header).expect("write the header");
    (dir, path)
}

#[test]
fn an_undocumented_export_fails_the_man_pages_and_the_html_reference() {
    if docs().is_none() {
        return;
    }
    let (dir, header) = header_with_an_undocumented_export();
    let man = Command::new("python3")
        .arg(manifest_dir().join("scripts/lib/man_pages.py"))
        .arg(&header)
        .arg(manifest_dir().join("docs/c-api.md"))
        .arg(dir.path().join("md"))
        .arg("0.0.0")
        .output()
        .expect("run man_pages.py");
    assert_eq!(man.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&man.stderr).contains("oauth2cc_undocumented_export"),
        "{}",
        String::from_utf8_lossy(&man.stderr)
    );

    // Doxygen with the project's Doxyfile, the header swapped for this one.
    let doxyfile = std::fs::read_to_string(manifest_dir().join("Doxyfile")).expect("Doxyfile");
    let settings = format!(
        "{doxyfile}\nINPUT = {} docs/api/oauth2cc.dox docs README.md\nOUTPUT_DIRECTORY = {}\n",
        header.display(),
        dir.path().join("html").display()
    );
    let mut child = Command::new("doxygen")
        .arg("-")
        .current_dir(manifest_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run doxygen");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(settings.as_bytes())
        .expect("write the settings");
    let doxygen = child.wait_with_output().expect("doxygen");
    let warnings = String::from_utf8_lossy(&doxygen.stderr);
    assert!(
        !doxygen.status.success(),
        "Doxygen accepted it:\n{warnings}"
    );
    assert!(
        warnings.contains("oauth2cc_undocumented_export") && warnings.contains("not documented"),
        "{warnings}"
    );
}

#[test]
fn scripts_install_sh_installs_the_pages_where_man_finds_them() {
    if docs().is_none() {
        return;
    }
    // The same release build as tests/install.rs's (cached after the first of the two).
    let prefix = run_folder("man-install").join("usr");
    let output = Command::new("bash")
        .arg(manifest_dir().join("scripts/install.sh"))
        .args(["--prefix"])
        .arg(&prefix)
        .args(["--without-cli", "--library-type", "staticlib"])
        .output()
        .expect("run scripts/install.sh");
    assert!(
        output.status.success(),
        "scripts/install.sh failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let man3 = prefix.join("share/man/man3");
    let installed = std::fs::read_dir(&man3)
        .expect("share/man/man3 was installed")
        .filter_map(|e| e.ok())
        .count();
    assert_eq!(installed, declared_functions(&header()).len() + 1);
    // `man 3 NAME` with MANPATH pointing at the prefix finds the installed page.
    let found = Command::new("man")
        .args(["-w", "3", "oauth2cc_client_token"])
        .env("MANPATH", prefix.join("share/man"))
        .output()
        .expect("run man -w");
    assert_eq!(
        String::from_utf8_lossy(&found.stdout).trim(),
        man3.join("oauth2cc_client_token.3").display().to_string(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
}
