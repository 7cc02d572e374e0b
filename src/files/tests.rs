#[cfg(unix)]
use std::path::Path;
use std::path::PathBuf;
#[cfg(unix)]
use std::sync::mpsc;
#[cfg(unix)]
use std::time::{Duration, Instant};

use oauth2cc_testkit::temp::TempDir;

use super::*;
#[cfg(unix)]
use crate::config::Config;
use crate::ErrorKind;

#[cfg(unix)]
/// What issue 21 asks of a setter given a FIFO: CONFIG, at once.
const AT_ONCE: Duration = Duration::from_millis(100);

fn key_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(name)
}

/// A FIFO named `name` in `dir`, made with mkfifo(3).
#[cfg(unix)]
#[allow(unsafe_code)]
pub(crate) fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    let path = dir.join(name);
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        io::Error::last_os_error()
    );
    path
}

#[cfg(unix)]
/// Runs `call` on a thread and returns its result and how long it took. A call still
/// running after 10 s fails the test, after writers have opened `fifo` (which releases a
/// reader blocked in open(2)) so that the thread can end.
fn timed<T: Send + 'static>(
    fifo: &Path,
    call: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let out = call();
        let _ = tx.send((out, start.elapsed()));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(done) => done,
        Err(_) => {
            let _ = fs::OpenOptions::new().write(true).open(fifo);
            panic!("a read of {} blocked for 10 s", fifo.display());
        }
    }
}

#[cfg(unix)]
fn assert_refused(what: &str, result: Result<()>, path: &Path, reason: &str) {
    let e = result.expect_err(what);
    assert_eq!(e.kind(), ErrorKind::Config, "{what}: {}", e.message());
    let path = path.display().to_string();
    assert!(
        e.message().contains(&path) && e.message().contains(reason),
        "{what}: {}",
        e.message()
    );
}

#[cfg(unix)]
/// A call that hands a path to one of the setters.
type Setter = dyn FnOnce(PathBuf) -> Result<()> + Send;

#[cfg(unix)]
#[test]
fn every_file_setter_refuses_a_fifo_at_once() {
    let dir = TempDir::new("files-fifo");
    let fifo = mkfifo(dir.path(), "fifo.pem");
    let reason = "is a FIFO, not a regular file";
    let cert = key_path("p256.cert.pem");
    let key = key_path("p256.pk8.pem");
    let cases: Vec<(&str, Box<Setter>)> = vec![
        (
            "set_private_key_file",
            Box::new(|p| config().set_private_key_file(p.to_str().unwrap(), None)),
        ),
        (
            "set_client_certificate_file (chain)",
            Box::new(move |p| {
                config().set_client_certificate_file(p.to_str().unwrap(), key.to_str().unwrap())
            }),
        ),
        (
            "set_client_certificate_file (key)",
            Box::new(move |p| {
                config().set_client_certificate_file(cert.to_str().unwrap(), p.to_str().unwrap())
            }),
        ),
        (
            "set_ca_file",
            Box::new(|p| config().set_ca_file(p.to_str().unwrap())),
        ),
        (
            "Config::from_file",
            Box::new(|p| Config::from_file(p).map(drop)),
        ),
    ];
    for (what, call) in cases {
        let path = fifo.clone();
        let (result, took) = timed(&fifo, move || call(path));
        assert_refused(what, result, &fifo, reason);
        assert!(took < AT_ONCE, "{what} took {took:?}");
    }
}

#[cfg(unix)]
fn config() -> Config {
    Config::new("files-client", "files-secret").unwrap()
}

/// Every kind of file that is not a regular one, through the helper all readers share.
#[cfg(unix)]
#[test]
fn only_regular_files_are_read() {
    let dir = TempDir::new("files-kinds");
    let fifo = mkfifo(dir.path(), "fifo");
    let link = dir.path().join("link-to-fifo");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let socket = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    for (path, reason) in [
        (fifo.as_path(), "is a FIFO, not a regular file"),
        (link.as_path(), "is a FIFO, not a regular file"),
        (socket.as_path(), "is a socket, not a regular file"),
        (dir.path(), "is a directory, not a regular file"),
        (
            Path::new("/dev/null"),
            "is a character device, not a regular file",
        ),
        (
            Path::new("/dev/zero"),
            "is a character device, not a regular file",
        ),
    ] {
        let owned = path.to_path_buf();
        let (result, took) = timed(&fifo, move || {
            read_file(&owned, "key file", MAX_KEY_FILE_BYTES).map(drop)
        });
        assert_refused(&path.display().to_string(), result, path, reason);
        assert!(took < AT_ONCE, "{} took {took:?}", path.display());
    }
    // The cache file's way: a final symlink is refused as such.
    let e = open_regular(&link, Follow::NoSymlinks).unwrap_err();
    assert_eq!(e.to_string(), "is a symbolic link, not a regular file");
    let e = read_file(&dir.path().join("missing"), "CA file", 10).unwrap_err();
    assert!(
        e.message().starts_with("cannot read CA file "),
        "{}",
        e.message()
    );
}

#[test]
fn reads_stop_at_the_cap() {
    let dir = TempDir::new("files-cap");
    let path = dir.write("ten", b"0123456789");
    assert_eq!(&read_file(&path, "file", 10).unwrap()[..], b"0123456789");
    let e = read_file(&path, "config file", 9).unwrap_err();
    assert!(
        e.message().ends_with("ten: larger than 9 bytes"),
        "{}",
        e.message()
    );
    assert_eq!(
        read_file(&dir.write("empty", b""), "file", 9)
            .unwrap()
            .len(),
        0
    );
}

/// The descriptor read from is blocking again (Linux: /proc shows its flags).
#[cfg(target_os = "linux")]
#[test]
fn the_file_is_read_in_blocking_mode() {
    use std::os::fd::AsRawFd as _;
    let dir = TempDir::new("files-flags");
    let path = dir.write("f", b"x");
    let (file, _) = open_regular(&path, Follow::Symlinks).unwrap();
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| i32::from_str_radix(f.trim(), 8).unwrap())
        .unwrap();
    assert_eq!(flags & libc::O_NONBLOCK, 0, "{info}");
    assert_ne!(flags & libc::O_CLOEXEC, 0, "{info}");
}

#[test]
fn certificates_are_read_in_order_and_other_sections_skipped() {
    let dir = TempDir::new("files-pem");
    let cert = fs::read_to_string(key_path("p256.cert.pem")).unwrap();
    let key = fs::read_to_string(key_path("p256.pk8.pem")).unwrap();
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    // A chain of two with the key between them, CRLF line ends on the second.
    let chain = dir.write(
        "chain.pem",
        format!("{cert}{key}{}", cert.replace('\n', "\r\n")),
    );
    let certs = read_certificates(&chain, "client certificate file").unwrap();
    assert_eq!(certs, [der.clone(), der]);
}

/// PEM problems are worded, never rustls-pki-types' Debug text (a list of byte values).
#[test]
fn pem_problems_are_worded() {
    let dir = TempDir::new("files-pem-errors");
    for (name, text, why) in [
        (
            "no-end.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
            "is not valid PEM: a PEM section has no END line",
        ),
        (
            "bad-begin.pem",
            "-----BEGIN CERTIFICATE----\nAAAA\n-----END CERTIFICATE-----\n",
            "is not valid PEM: a PEM BEGIN line is malformed",
        ),
        (
            "bad-base64.pem",
            "-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----\n",
            "is not valid PEM: a PEM section is not valid base64",
        ),
        ("empty.pem", "", "holds no certificate"),
        (
            "key-only.pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "holds no certificate",
        ),
    ] {
        let path = dir.write(name, text);
        let e = load_ca_file(&path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let m = e.message();
        assert!(
            m.starts_with("CA file ") && m.contains(name) && m.ends_with(why),
            "{m}"
        );
        assert!(!m.contains('['), "{m}");
    }
}
