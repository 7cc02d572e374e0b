//! The README's examples are programs that compile and work: the C example (and the POST
//! example of docs/requests-and-client.md), the C++ and the Python ones are extracted from
//! the Markdown, built against the header and the library this run built, and run against a
//! loopback endpoint. And the README keeps its shape: short, install first, every docs/ page
//! linked, every relative link resolving, no sizes or version numbers that could go stale.

#![cfg(target_os = "linux")]

mod support;

use std::process::Command;

use support::c_harness::{build_c, build_with, cxx, lib_dir, manifest_dir, run_program};
use support::skip::{skip, Ci};
use support::TempFile;
use support::{credentials_env, token_server, CLIENT_ID, CLIENT_SECRET};

/// Every ```` ```lang ```` block of the Markdown file `path` (relative to the repository), in order.
fn blocks(path: &str, lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(manifest_dir().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.split(&format!("```{lang}\n"))
        .skip(1)
        .map(|block| {
            block
                .split("```")
                .next()
                .expect("the block ends")
                .to_string()
        })
        .collect()
}

/// Every ```c block of README.md, in order.
fn readme_c_blocks() -> Vec<String> {
    blocks("README.md", "c")
}

/// The first ```c block of README.md.
fn readme_c_example() -> String {
    readme_c_blocks().remove(0)
}

/// The ```c block of docs/requests-and-client.md that holds `marker`.
fn client_page_c_block_with(marker: &str) -> String {
    blocks("docs/requests-and-client.md", "c")
        .into_iter()
        .find(|block| block.contains(marker))
        .unwrap_or_else(|| panic!("docs/requests-and-client.md has no ```c block with {marker}"))
}

#[test]
fn the_readme_post_example_sends_json_and_reports_a_failure() {
    let source = TempFile::new("readme_post", "c", client_page_c_block_with("post_json.c"));
    let exe = build_c(source.path(), "readme_post");
    let server = token_server("readme-post-token");
    let env = |secret: &str| credentials_env(CLIENT_ID, secret, server.url("/api/token"));
    let api = server.url("/v1/things");
    let ok = run_program(&exe, &[api.as_str()], &env(CLIENT_SECRET));
    assert!(ok.status.success(), "{}", ok.report());
    assert_eq!(ok.stdout.trim(), r#"200 {"api":true}"#, "{}", ok.report());
    let post = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/v1/things")
        .expect("the API got the POST");
    assert_eq!(post.method, "POST");
    assert_eq!(post.body, br#"{"name":"example","size":3}"#);
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        post.header("authorization"),
        Some("Bearer readme-post-token")
    );

    let refused = run_program(&exe, &[api.as_str()], &env("not-the-secret"));
    assert_eq!(refused.status.code(), Some(1), "{}", refused.report());
    assert!(
        refused.stderr.contains("OAUTH2CC_STATUS_BAD_REQUEST: "),
        "{}",
        refused.report()
    );
    assert!(
        refused.stderr.contains("oauth2cc: token refresh failed"),
        "{}",
        refused.report()
    );
    assert!(
        !refused.stderr.contains("not-the-secret"),
        "{}",
        refused.report()
    );
}

#[test]
fn the_readme_c_example_gets_a_token_and_reports_a_failure() {
    let source = TempFile::new("readme_example", "c", readme_c_example());
    let exe = build_c(source.path(), "readme_example");
    let server = token_server("readme-token");
    let env = |secret: &str| credentials_env(CLIENT_ID, secret, server.url("/api/token"));

    let ok = run_program(&exe, &[], &env(CLIENT_SECRET));
    assert!(ok.status.success(), "{}", ok.report());
    assert_eq!(
        ok.stdout,
        "Bearer readme-token, expires in 3600 s\n",
        "{}",
        ok.report()
    );

    let failed = run_program(&exe, &[], &env("wrong-secret"));
    assert_eq!(failed.status.code(), Some(1), "{}", failed.report());
    assert!(failed.stdout.is_empty(), "{}", failed.report());
    assert!(
        failed
            .stderr
            .starts_with("OAUTH2CC_STATUS_BAD_REQUEST: token endpoint http://127.0.0.1:")
            && failed.stderr.ends_with(
                "answered 400 invalid_client: Invalid client\nserver said invalid_client\n"
            ),
        "{}",
        failed.report()
    );
    assert!(!failed.stderr.contains("wrong-secret"));
}

#[test]
fn the_readme_cpp_example_gets_a_token_and_calls_the_api() {
    let source = TempFile::new("readme_cpp", "cpp", blocks("README.md", "cpp").remove(0));
    let exe = build_with(
        &cxx(),
        &["-std=c++17", "-Wall", "-Wextra", "-Werror"],
        source.path(),
        "readme_cpp",
    );
    let server = token_server("readme-cpp-token");
    let env = |secret: &str| credentials_env(CLIENT_ID, secret, server.url("/api/token"));
    let api = server.url("/v1/me");
    let ok = run_program(&exe, &[api.as_str()], &env(CLIENT_SECRET));
    assert!(ok.status.success(), "{}", ok.report());
    assert_eq!(ok.stdout, "Bearer token\n200\n", "{}", ok.report());
    assert_eq!(
        server.header_sent_to("/v1/me", "authorization"),
        [Some("Bearer readme-cpp-token".to_owned())]
    );
    let failed = run_program(&exe, &[], &env("wrong-secret"));
    assert_eq!(failed.status.code(), Some(1), "{}", failed.report());
    assert!(
        failed
            .stderr
            .starts_with("OAUTH2CC_STATUS_BAD_REQUEST: token endpoint http://127.0.0.1:"),
        "{}",
        failed.report()
    );
}

#[test]
fn the_readme_python_example_gets_a_token_and_calls_the_api() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if !support::skip::runs(&python, "--version") {
        skip(
            Ci::Installs,
            &format!("{python} not found (apt-get install python3)"),
        );
        return;
    }
    let source = TempFile::new(
        "readme_example",
        "py",
        blocks("README.md", "python").remove(0),
    );
    let server = token_server("readme-py-token");
    let api = server.url("/v1/me");
    let mut command = Command::new(&python);
    command
        .arg(source.path())
        .arg(&api)
        .env("PYTHONPATH", manifest_dir().join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OAUTH2CC_LIBRARY", lib_dir().join("liboauth2cc.so"))
        .env_remove("OAUTH2CC_SCOPE");
    for name in oauth2cc::internals::PROXY_VARIABLES {
        command.env_remove(name);
    }
    for (name, value) in credentials_env(CLIENT_ID, CLIENT_SECRET, server.url("/api/token")) {
        command.env(name, value);
    }
    let output = command.output().expect("run the README's Python example");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{report}");
    assert_eq!(
        stdout, "Bearer token, expires in 3600 s\n200 {'api': True}\n",
        "{report}"
    );
}

/// The README's lines.
fn readme() -> String {
    std::fs::read_to_string(manifest_dir().join("README.md")).expect("read README.md")
}

#[test]
fn the_readme_is_short_and_starts_with_installing() {
    let readme = readme();
    let lines: Vec<&str> = readme.lines().collect();
    assert!(lines.len() <= 400, "README.md has {} lines", lines.len());
    let install = lines
        .iter()
        .position(|l| *l == "## Install")
        .expect("a section ## Install");
    assert!(install < 120, "## Install is on line {}", install + 1);
    for needed in [
        "scripts/install.sh",
        "scripts/package-linux.sh",
        "linux-<gnu|musl>.tar.gz",
        "scripts/python-wheel.sh",
        "scripts/package-windows.sh",
        "./examples/run_demo.sh",
        "./scripts/test.sh",
        "man 3 oauth2cc",
    ] {
        assert!(
            readme.contains(needed),
            "README.md does not mention {needed}"
        );
    }
}

#[test]
fn the_readme_links_every_docs_page_and_every_relative_link_resolves() {
    let root = manifest_dir();
    let readme = readme();
    let mut pages: Vec<String> = std::fs::read_dir(root.join("docs"))
        .expect("read docs/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    pages.sort();
    assert!(pages.len() >= 11, "{pages:?}");
    for page in &pages {
        assert!(
            readme.contains(&format!("(docs/{page})")),
            "README.md's table of contents does not link docs/{page}"
        );
    }
    // Every relative link of the README and of the docs/ pages names a file that exists,
    // and a #fragment names a heading of it.
    let mut files = vec!["README.md".to_owned()];
    files.extend(pages.iter().map(|p| format!("docs/{p}")));
    for file in &files {
        let text = std::fs::read_to_string(root.join(file)).expect("read a page");
        let dir = root.join(file).parent().expect("a folder").to_path_buf();
        for link in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            if link.starts_with("http://") || link.starts_with("https://") {
                continue;
            }
            let (path, fragment) = link.split_once('#').unwrap_or((link, ""));
            let target = if path.is_empty() {
                root.join(file)
            } else {
                dir.join(path)
            };
            assert!(target.exists(), "{file}: the link ({link}) leads nowhere");
            if !fragment.is_empty() {
                let target_text = std::fs::read_to_string(&target).expect("read the target");
                assert!(
                    target_text
                        .lines()
                        .any(|l| l.starts_with('#') && anchor(l) == fragment),
                    "{file}: ({link}): no heading with that anchor"
                );
            }
        }
    }
}

/// GitHub's anchor for a Markdown heading line: lower case, spaces to `-`, punctuation
/// other than `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn the_readme_states_no_size_or_version_that_could_go_stale() {
    // Sizes and versions come from the build: the README names `<version>` and links the
    // pages where measured figures say when and how they were measured.
    let readme = readme();
    let words: Vec<&str> = readme.split_whitespace().collect();
    for pair in words.windows(2) {
        let number = pair[0].trim_start_matches(['(', '*']);
        let is_number = !number.is_empty()
            && number
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',');
        let unit = pair[1].trim_end_matches([')', ',', '.', ';', '*']);
        assert!(
            !(is_number && ["MB", "KB", "KiB", "MiB", "bytes", "ms", "ns"].contains(&unit)),
            "README.md states a measurement: {} {}",
            pair[0],
            pair[1]
        );
    }
    for word in &words {
        let dotted: Vec<&str> = word
            .trim_matches(|c: char| !c.is_ascii_digit())
            .split('.')
            .collect();
        assert!(
            !(dotted.len() == 3
                && dotted
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))),
            "README.md names a version: {word} (write <version>)"
        );
    }
}
