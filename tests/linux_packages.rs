//! The Linux tarballs of `scripts/package-linux.sh`: what each holds, the glibc floor of the
//! gnu ones, and that a C program built against each the way its users build gets a token
//! over HTTPS from a loopback endpoint:
//!
//! * x86_64 gnu: `cc` against the tarball's `include/` and `lib/liboauth2cc.so`, run here;
//! * aarch64 gnu: `aarch64-linux-gnu-gcc` (Debian's gcc-aarch64-linux-gnu), run under
//!   `qemu-aarch64 -L /usr/aarch64-linux-gnu` (qemu-user-static);
//! * x86_64 musl: fully static, with Zig's musl toolchain (`zig cc -target x86_64-linux-musl
//!   -static ... lib/liboauth2cc.a -lunwind`, the Zig that package-linux.sh installed into
//!   `target/tools/venv`), run here.
//!
//! Building the three packages takes minutes, so this test does not: it reads them from the
//! folder named by `OAUTH2CC_LINUX_PACKAGES` (`.ci/run` builds them with
//! `scripts/package-linux.sh` and sets it to `target/dist`). Without it every test prints
//! `skipped: ...` and passes; with `CI` set, a missing folder, package or tool fails.
//!
//! ```text
//! scripts/package-linux.sh && OAUTH2CC_LINUX_PACKAGES=target/dist cargo test --test linux_packages
//! ```

#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::c_harness::{manifest_dir, run_folder, run_tool, C_FLAGS};
use support::http_server::{Action, Response, TestServer};
use support::tls::{Pki, TlsFront};
use support::{credentials, oauth_error};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GNU: [&str; 2] = ["x86_64-linux-gnu", "aarch64-linux-gnu"];
const MUSL: &str = "x86_64-linux-musl";
const CLIENT_ID: &str = "package-client";
const CLIENT_SECRET: &str = "package-secret";
/// The newest glibc symbol version a gnu package may need (manylinux2014, RHEL 7).
const GLIBC_FLOOR: (u32, u32) = (2, 17);

/// The unpacked packages' folder, or None (with `skipped: why`) when they are not to be
/// tested here; under CI a reason to skip is a failure.
fn packages() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    // Every test that cannot run says so, not only the first.
    if std::env::var_os("OAUTH2CC_LINUX_PACKAGES").is_none() {
        skip("OAUTH2CC_LINUX_PACKAGES is not set (scripts/package-linux.sh, then set it to target/dist)");
        return None;
    }
    DIR.get_or_init(|| {
        let dist = std::env::var_os("OAUTH2CC_LINUX_PACKAGES")?;
        let dist = std::path::absolute(PathBuf::from(dist)).expect("an absolute path");
        let root = run_folder("linux-packages-test");
        for target in [GNU[0], GNU[1], MUSL] {
            let tarball = dist.join(format!("oauth2cc-{VERSION}-{target}.tar.gz"));
            assert!(tarball.is_file(), "{} is missing", tarball.display());
            // One top folder, named after the tarball.
            let listing = run_tool(Command::new("tar").arg("-tzf").arg(&tarball));
            let top = format!("oauth2cc-{VERSION}-{target}/");
            assert!(
                listing.lines().all(|l| l.starts_with(&top)),
                "{}: not everything under {top}",
                tarball.display()
            );
            run_tool(
                Command::new("tar")
                    .arg("-xzf")
                    .arg(&tarball)
                    .arg("-C")
                    .arg(&root),
            );
        }
        Some(root)
    })
    .as_deref()
}

/// A Linux package test that cannot run: said where `cargo test` shows it (support::skip),
/// and a failure under CI, which builds the packages and installs the tools.
fn skip(why: &str) {
    support::skip::skip(support::skip::Ci::Installs, why);
}

fn package(root: &Path, target: &str) -> PathBuf {
    root.join(format!("oauth2cc-{VERSION}-{target}"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn every_package_holds_the_install_layout_and_the_licences() {
    let Some(root) = packages() else { return };
    // scripts/install.sh is the one source of the layout: what it installs under share/
    // (the licences, and the man pages where it installs them) is in every package.
    let installs_man_pages = String::from_utf8(read(&manifest_dir().join("scripts/install.sh")))
        .expect("UTF-8")
        .contains("share/man");
    for target in [GNU[0], GNU[1], MUSL] {
        let dir = package(root, target);
        for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
            let text = read(&manifest_dir().join(licence));
            assert_eq!(read(&dir.join(licence)), text, "{target}: {licence}");
            assert_eq!(
                read(&dir.join("share/doc/oauth2cc").join(licence)),
                text,
                "{target}: share/doc/oauth2cc/{licence}"
            );
        }
        assert_eq!(
            read(&dir.join("README.md")),
            read(&manifest_dir().join("README.md"))
        );
        for header in ["oauth2cc.h", "oauth2cc.hpp", "oauth2cc_curl.h"] {
            assert_eq!(
                read(&dir.join("include").join(header)),
                read(&manifest_dir().join("include").join(header)),
                "{target}: {header}"
            );
        }
        for file in [
            "bin/oauth2cc",
            "lib/liboauth2cc.a",
            "lib/pkgconfig/oauth2cc.pc",
            "lib/pkgconfig/oauth2cc-static.pc",
            "lib/cmake/oauth2cc/oauth2ccConfig.cmake",
            "lib/cmake/oauth2cc/oauth2ccConfigVersion.cmake",
        ] {
            assert!(dir.join(file).is_file(), "{target}: no {file}");
        }
        // Relocatable: the .pc files name no build folder.
        for pc in ["oauth2cc.pc", "oauth2cc-static.pc"] {
            let text = String::from_utf8(read(&dir.join("lib/pkgconfig").join(pc))).unwrap();
            assert!(
                text.lines().any(|l| l == "prefix=${pcfiledir}/../.."),
                "{target}: {pc}:\n{text}"
            );
        }
        if installs_man_pages {
            let man3 = dir.join("share/man/man3");
            let pages = std::fs::read_dir(&man3).map_or(0, |d| d.count());
            assert!(
                pages > 0,
                "{target}: install.sh installs man pages, {} has none",
                man3.display()
            );
        }
        let shared = dir.join(format!("lib/liboauth2cc.so.{VERSION}"));
        if target == MUSL {
            assert!(!shared.exists(), "{target}: a shared library");
        } else {
            assert!(
                shared.is_file() && !shared.is_symlink(),
                "{target}: no {}",
                shared.display()
            );
            assert!(
                dir.join("lib/liboauth2cc.so").exists(),
                "{target}: no liboauth2cc.so link"
            );
        }
    }
}

/// The `(major, minor)` of every `GLIBC_x.y` version `objdump -T` lists for `file`.
fn glibc_versions(file: &Path) -> Vec<(u32, u32)> {
    let dump = run_tool(Command::new("objdump").arg("-T").arg(file));
    let mut versions: Vec<(u32, u32)> = dump
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|word| {
            let (major, minor) = word.strip_prefix("GLIBC_")?.split_once('.')?;
            let minor = minor.split('.').next()?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
}

/// The ELF machine field (e_machine) of `file`.
fn elf_machine(file: &Path) -> u16 {
    let head = read(file);
    assert_eq!(&head[..4], b"\x7fELF", "{}", file.display());
    u16::from_le_bytes([head[18], head[19]])
}

#[test]
fn gnu_packages_need_glibc_2_17_at_most_and_are_built_for_their_machine() {
    let Some(root) = packages() else { return };
    for (target, machine) in [(GNU[0], 0x3E), (GNU[1], 0xB7)] {
        let dir = package(root, target);
        for file in [
            format!("lib/liboauth2cc.so.{VERSION}"),
            "bin/oauth2cc".into(),
        ] {
            let path = dir.join(&file);
            assert_eq!(elf_machine(&path), machine, "{target}: {file}");
            let versions = glibc_versions(&path);
            assert!(
                !versions.is_empty(),
                "{target}: {file} needs no glibc version?"
            );
            let newest = *versions.last().unwrap();
            assert!(
                newest <= GLIBC_FLOOR,
                "{target}: {file} needs GLIBC_{}.{} (all: {versions:?})",
                newest.0,
                newest.1
            );
            eprintln!("{target}: {file}: {versions:?}");
        }
    }
}

/// A loopback HTTPS token endpoint (a TLS front for a plain one) that gives `token` to our
/// client, and the CA file that trusts it.
struct Endpoint {
    _server: TestServer,
    front: TlsFront,
    pki: Pki,
}

impl Endpoint {
    fn start(token: &'static str) -> Endpoint {
        let server = TestServer::start(move |request| {
            if request.path() != "/api/token" {
                return Action::Respond(Response::new(404));
            }
            if credentials(request) != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
                return oauth_error(400, "invalid_client", "Invalid client");
            }
            let body =
                format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#);
            Action::Respond(Response::json(200, &body))
        });
        let pki = Pki::new("oauth2cc-linux-packages");
        let front = TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
        Endpoint {
            _server: server,
            front,
            pki,
        }
    }

    /// Runs `command` (examples/client_credentials.c, built) against this endpoint and checks
    /// it printed the token.
    fn assert_gets_token(&self, command: &mut Command, token: &str) {
        let output = command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("OAUTH2CC_CLIENT_ID", CLIENT_ID)
            .env("OAUTH2CC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OAUTH2CC_TOKEN_URL", self.front.url("/api/token"))
            .env("SSL_CERT_FILE", self.pki.ca_file())
            .output()
            .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{command:?}: {}\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            stdout,
            format!(
                "Authorization(access_token='{token}', token_type='Bearer', expires_in=3600, \
                 scope=None, refresh_token=None)\n"
            )
        );
    }
}

fn example() -> PathBuf {
    manifest_dir().join("examples/client_credentials.c")
}

/// The first of `tools` that runs (`tool --version`); else skipped, or a failure under CI.
fn find_tool(tools: &[&'static str], install: &str) -> Option<&'static str> {
    let found = tools.iter().copied().find(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        skip(&format!("{} is missing ({install})", tools.join(" or ")));
    }
    found
}

/// Builds examples/client_credentials.c with `compiler` against the package's shared
/// library, the way its users link it.
fn build_against_shared(compiler: &str, package: &Path, exe: &Path) {
    let lib = package.join("lib");
    run_tool(
        Command::new(compiler)
            .args(C_FLAGS)
            .arg("-I")
            .arg(package.join("include"))
            .arg("-o")
            .arg(exe)
            .arg(example())
            .arg("-L")
            .arg(&lib)
            .arg("-loauth2cc")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-pthread"),
    );
}

#[test]
fn x86_64_gnu_program_gets_a_token_over_https() {
    let Some(root) = packages() else { return };
    let dir = package(root, GNU[0]);
    let exe = root.join("client_x86_64_gnu");
    build_against_shared("cc", &dir, &exe);
    Endpoint::start("tok-x86_64-gnu").assert_gets_token(&mut Command::new(&exe), "tok-x86_64-gnu");
}

#[test]
fn aarch64_program_gets_a_token_over_https_under_qemu() {
    let Some(root) = packages() else { return };
    let install = "apt-get install gcc-aarch64-linux-gnu qemu-user-static";
    let Some(gcc) = find_tool(&["aarch64-linux-gnu-gcc"], install) else {
        return;
    };
    // Debian 12 names the static qemu qemu-aarch64-static; later ones may call it qemu-aarch64.
    let Some(qemu) = find_tool(&["qemu-aarch64-static", "qemu-aarch64"], install) else {
        return;
    };
    let dir = package(root, GNU[1]);
    let exe = root.join("client_aarch64_gnu");
    build_against_shared(gcc, &dir, &exe);
    assert_eq!(elf_machine(&exe), 0xB7);
    let endpoint = Endpoint::start("tok-aarch64");
    endpoint.assert_gets_token(
        Command::new(qemu)
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(&exe),
        "tok-aarch64",
    );
    // The tool too: this version, on aarch64.
    let version = run_tool(
        Command::new(qemu)
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(dir.join("bin/oauth2cc"))
            .arg("--version"),
    );
    assert_eq!(version, format!("oauth2cc {VERSION}\n"));
}

/// Zig, as package-linux.sh installed it: `target/tools/venv/bin/python -m ziglang`.
fn zig() -> Option<Command> {
    let python = manifest_dir().join("target/tools/venv/bin/python");
    let target_python = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("tools/venv/bin/python"))
        .filter(|p| p.is_file());
    let python = target_python.unwrap_or(python);
    if !python.is_file() {
        skip(&format!(
            "no Zig: {} is missing (scripts/package-linux.sh installs it)",
            python.display()
        ));
        return None;
    }
    let mut command = Command::new(python);
    command.args(["-m", "ziglang"]);
    Some(command)
}

/// No program interpreter and no dynamic section: a fully static executable.
fn assert_static(exe: &Path) {
    let headers = run_tool(Command::new("readelf").args(["-l", "-d"]).arg(exe));
    assert!(
        !headers.contains("INTERP") && headers.contains("There is no dynamic section"),
        "{} is not static:\n{headers}",
        exe.display()
    );
}

#[test]
fn static_musl_program_gets_a_token_over_https() {
    let Some(root) = packages() else { return };
    let Some(mut zig) = zig() else { return };
    let dir = package(root, MUSL);
    let exe = root.join("client_musl_static");
    // What the musl package's README line says: the archive, then libunwind.
    run_tool(
        zig.args(["cc", "-target", "x86_64-linux-musl", "-static"])
            .args(C_FLAGS)
            .arg("-I")
            .arg(dir.join("include"))
            .arg("-o")
            .arg(&exe)
            .arg(example())
            .arg(dir.join("lib/liboauth2cc.a"))
            .arg("-lunwind"),
    );
    assert_static(&exe);
    Endpoint::start("tok-musl").assert_gets_token(&mut Command::new(&exe), "tok-musl");
    // The tool is static too, and runs anywhere.
    let tool = dir.join("bin/oauth2cc");
    assert_static(&tool);
    assert_eq!(
        run_tool(Command::new(&tool).arg("--version")),
        format!("oauth2cc {VERSION}\n")
    );
}
