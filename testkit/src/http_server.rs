//! A scriptable HTTP/1.1 server on the loopback interface, for tests and examples.
//!
//! Each test starts a [`TestServer`] with a handler closure that looks at a parsed
//! [`Request`] and returns an [`Action`]: a well-formed response, or one of many ways
//! to misbehave (no length, chunked, raw bytes, TCP reset, trickling, stalling, an
//! endless or huge body, closing without an answer).
//!
//! * One thread per connection; HTTP/1.1 keep-alive; every request is recorded, with
//!   the id of the TCP connection it came on, so tests can prove connection reuse.
//! * Request heads over [`MAX_HEADER_BYTES`] get `431`, bodies over [`MAX_BODY_BYTES`]
//!   get `413`, malformed requests get `400`; each then closes the connection.
//!   Request bodies may be `Content-Length` or `chunked`; `Expect: 100-continue` is
//!   answered.
//! * The server binds loopback addresses only ([`TestServer::start_on`] refuses others).
//! * Dropping the server stops the accept loop and closes the listener (new connects are
//!   refused); connection threads notice within about 100 ms and close their sockets.
//!   Nothing waits for a handler that is still running.
//!
//! Std-only apart from `base64` (Basic credentials) and, on Unix, `libc` (`SO_LINGER` for
//! resets).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// Largest accepted request head (request line and headers, with the blank line).
/// A bigger head is answered with `431 Request Header Fields Too Large`.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Largest accepted request body; a bigger one is answered with `413 Content Too Large`.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How often blocked reads, writes and sleeps wake up to check for shutdown.
const POLL: Duration = Duration::from_millis(100);

/// A connection with no progress for this long (idle keep-alive, or a peer that neither
/// reads nor writes) is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Upper bound on how long [`Action::InfiniteChunked`] keeps sending.
const INFINITE_LIMIT: Duration = Duration::from_secs(60);

/// Upper bound on how many bytes [`Action::InfiniteChunked`] sends.
const INFINITE_MAX_BYTES: u64 = 1 << 30;

// ---------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------

/// One HTTP request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method, as sent (`"POST"`).
    pub method: String,
    /// The request target: path and query, as sent (`"/api/token?x=1"`).
    pub target: String,
    /// The protocol version, as sent (`"HTTP/1.1"`).
    pub version: String,
    /// Header fields in the order received; names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked if it was sent chunked).
    pub body: Vec<u8>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Which TCP connection carried the request: 1 for the first accepted, 2 for the
    /// next... Two requests with the same id travelled on one kept-alive connection.
    pub conn_id: u64,
}

impl Request {
    /// The value of the first header called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header called `name` (compared case-insensitively), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path part of the target (before any `?`).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query string's pairs, decoded like [`Request::form`]; empty when there is none.
    pub fn query(&self) -> Vec<(String, String)> {
        match self.target.split_once('?') {
            Some((_, query)) => decode_form(query.as_bytes()),
            None => Vec::new(),
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded as `application/x-www-form-urlencoded`: `&`-separated pairs,
    /// split at the first `=` (a pair without `=` has an empty value), `+` read as a
    /// space and `%XX` decoded (a `%` not followed by two hex digits is kept as is).
    /// Empty pairs are skipped. The Content-Type is not checked.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_form(&self.body)
    }

    /// The first value of `name` in [`Request::form`].
    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The client id and secret from an `Authorization: Basic` header: base64-decoded,
    /// split at the first `:`, then each half decoded the way RFC 6749 §2.3.1 encodes it
    /// (`application/x-www-form-urlencoded`: `%XX` decoded and `+` read as a space).
    ///
    /// `None` when there is no Basic header, the base64 is malformed or the decoded text
    /// has no `:`. Use [`Request::basic_auth_raw`] to see the halves undecoded.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let (id, secret) = self.basic_auth_raw()?;
        Some((
            percent_decode(id.as_bytes(), true),
            percent_decode(secret.as_bytes(), true),
        ))
    }

    /// Like [`Request::basic_auth`] but without percent-decoding the two halves, to check
    /// exactly how a client encoded them.
    pub fn basic_auth_raw(&self) -> Option<(String, String)> {
        let value = self.header("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8_lossy(&decoded);
        let (id, secret) = text.split_once(':')?;
        Some((id.to_owned(), secret.to_owned()))
    }

    /// Whether the client asked to keep the connection open after this request.
    pub fn wants_keep_alive(&self) -> bool {
        let connection = self.header_all("connection");
        if connection.iter().any(|v| has_token(v, "close")) {
            return false;
        }
        if self.version.eq_ignore_ascii_case("HTTP/1.0") {
            return connection.iter().any(|v| has_token(v, "keep-alive"));
        }
        true
    }
}

/// Decodes `application/x-www-form-urlencoded` data (see [`Request::form`]).
pub fn decode_form(data: &[u8]) -> Vec<(String, String)> {
    data.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            (percent_decode(name, true), percent_decode(value, true))
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_as_space`); a `%` not followed by
/// two hex digits is kept literally; invalid UTF-8 in the result is replaced.
pub fn percent_decode(data: &[u8], plus_as_space: bool) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'%' if i + 2 < data.len() => match (hex(data[i + 1]), hex(data[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a comma-separated header value contains `token` (case-insensitively).
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

// ---------------------------------------------------------------------------------------
// Response and Action
// ---------------------------------------------------------------------------------------

/// A response for [`Action::Respond`] and its variants.
///
/// The server adds `Content-Length` (unless the headers already have `Content-Length` or
/// `Transfer-Encoding`, or the status never has a body) and `Connection: close` when it
/// is going to close the connection. Nothing else is added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code; the reason phrase is filled in from a table.
    pub status: u16,
    /// Header fields, written in this order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with no headers and an empty body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response with `Content-Type: application/json` and `body`.
    pub fn json(status: u16, body: &str) -> Response {
        Response::text(status, "application/json", body)
    }

    /// A response with the given `Content-Type` and body.
    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status)
            .with_header("Content-Type", content_type)
            .with_body(body)
    }

    /// Adds a header (after the ones already there).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// The value of the first header called `name` (case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
///
/// Every variant is sent after the whole request (including its body) has been read.
/// "Close" means a graceful close (FIN); "RST" means an abortive close (`SO_LINGER` 0 on
/// Unix; elsewhere a plain close).
#[derive(Clone, Debug)]
pub enum Action {
    /// Send the response with `Content-Length`; keep the connection open unless the
    /// request (or the response's own `Connection` header) said `close`, or the request
    /// was HTTP/1.0 without `keep-alive`.
    Respond(Response),
    /// Send the response without `Content-Length` (the body is delimited by closing the
    /// connection), with `Connection: close`, then close.
    RespondNoLength(Response),
    /// Send the response with `Transfer-Encoding: chunked`, the body split into up to
    /// three chunks sent a few milliseconds apart; keep-alive as for `Respond`.
    Chunked(Response),
    /// Write these bytes as they are, then close.
    Raw(Vec<u8>),
    /// Reset the connection (RST) without sending anything.
    Reset,
    /// Write these bytes (for example a head and half a body), pause 20 ms, then RST.
    ResetAfter(Vec<u8>),
    /// Write `bytes` one byte at a time, `interval` apart, then close; stops early when
    /// the client goes away or the server is dropped.
    Trickle {
        /// Everything to send, head included.
        bytes: Vec<u8>,
        /// The pause between two bytes.
        interval: Duration,
    },
    /// Send nothing; hold the connection open for this long (or until the server is
    /// dropped), then close.
    Stall(Duration),
    /// `200 OK`, `Content-Type: application/json`, `Transfer-Encoding: chunked`, then
    /// 8 KiB chunks of `a` about a millisecond apart, forever: until the client goes
    /// away, 60 s have passed, 1 GiB has been sent or the server is dropped.
    InfiniteChunked,
    /// `200 OK`, `Content-Type: application/json`, then `size` bytes of `a` in 64 KiB
    /// writes. With `content_length` the length is announced (and the connection kept
    /// alive when the whole body went out and the request allows it); without, the body
    /// is delimited by closing the connection. Stops quietly when a write fails.
    HugeBody {
        /// Whether to send `Content-Length: size`.
        content_length: bool,
        /// Body size in bytes.
        size: usize,
    },
    /// Close the connection without answering.
    Close,
}

impl From<Response> for Action {
    fn from(response: Response) -> Action {
        Action::Respond(response)
    }
}

/// The standard reason phrase for `status` (`"Unknown"` for codes not in the table).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        418 => "I'm a teapot",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Whether a response with this status never has a body.
fn status_has_no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Serialises a status line and headers, with the closing blank line.
fn response_head(status: u16, headers: &[(String, String)]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

type Handler = dyn Fn(&Request) -> Action + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<Request>>,
    connections: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running loopback HTTP/1.1 server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("connections", &self.connection_count())
            .field("requests", &self.request_count())
            .finish()
    }
}

impl TestServer {
    /// Starts a server on `127.0.0.1` and a free port. Panics if it cannot bind.
    pub fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&Request) -> Action + Send + Sync + 'static,
    {
        TestServer::start_on("127.0.0.1:0", handler).expect("test server: cannot bind 127.0.0.1:0")
    }

    /// Starts a server on `addr` (`"[::1]:0"`, `"127.0.0.1:8787"`, `"localhost:0"`...).
    /// Every address `addr` resolves to must be a loopback address; otherwise this fails
    /// with `InvalidInput` without binding anything.
    pub fn start_on<F>(addr: &str, handler: F) -> io::Result<TestServer>
    where
        F: Fn(&Request) -> Action + Send + Sync + 'static,
    {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("test server: {addr:?} resolves to no address"),
            ));
        }
        if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("test server: binds loopback addresses only, not {bad}"),
            ));
        }
        let listener = TcpListener::bind(&addrs[..])?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name(format!("test-http-accept-{}", local.port()))
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(TestServer {
            addr: local,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/path` (`http://[::1]:PORT/path` for IPv6); a `/` is put in
    /// front of `path` when it has none.
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://{}{slash}{path}", self.addr)
    }

    /// Every request received so far, in arrival order. A request is recorded before its
    /// handler runs.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// The path of every request received so far, in arrival order.
    pub fn paths(&self) -> Vec<String> {
        lock(&self.shared.requests)
            .iter()
            .map(|r| r.path().to_owned())
            .collect()
    }

    /// The header `name` of every request to `path` so far, in arrival order: `None` for a
    /// request without it.
    pub fn header_sent_to(&self, path: &str, name: &str) -> Vec<Option<String>> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.path() == path)
            .map(|r| r.header(name).map(str::to_owned))
            .collect()
    }

    /// The most recent request, if any.
    pub fn last_request(&self) -> Option<Request> {
        lock(&self.shared.requests).last().cloned()
    }

    /// How many requests have been received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// How many TCP connections have been accepted so far.
    pub fn connection_count(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests have been received; `false` on timeout.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.request_count() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Blocks the calling thread forever (for programs whose only job is to serve).
    pub fn run_forever(&self) -> ! {
        loop {
            thread::park();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop with a connection of our own; it sees the flag and exits,
        // dropping the listener. If the wake-up connect fails, leave the thread be rather
        // than risk blocking here forever.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok();
        if let Some(handle) = self.accept_thread.take() {
            if woke {
                let _ = handle.join();
            }
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if shared.stopped() {
                    return;
                }
                let conn_id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                let conn_shared = Arc::clone(&shared);
                // If the thread cannot be spawned the closure, and the stream, is dropped.
                let _ = thread::Builder::new()
                    .name(format!("test-http-conn-{conn_id}"))
                    .spawn(move || serve_connection(stream, peer, conn_id, &conn_shared));
            }
            Err(_) if shared.stopped() => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------------------

/// Why reading a request stopped.
enum ReadError {
    /// The peer closed the connection (or an I/O error), or the server is stopping, or
    /// the connection was idle too long: close silently.
    Gone,
    /// Answer with this status and close.
    Reject(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Gone
    }
}

struct Conn<'a> {
    stream: TcpStream,
    shared: &'a Shared,
    buf: Vec<u8>,
    peer: SocketAddr,
    conn_id: u64,
}

fn serve_connection(stream: TcpStream, peer: SocketAddr, conn_id: u64, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(POLL));
    let mut conn = Conn {
        stream,
        shared,
        buf: Vec::new(),
        peer,
        conn_id,
    };
    loop {
        let request = match conn.read_request() {
            Ok(request) => request,
            Err(ReadError::Gone) => return,
            Err(ReadError::Reject(status, message)) => {
                let response = Response::text(status, "text/plain", message);
                let _ = conn.send_response(&response, "GET", true);
                conn.close();
                return;
            }
        };
        lock(&shared.requests).push(request.clone());
        let action = match panic::catch_unwind(AssertUnwindSafe(|| (shared.handler)(&request))) {
            Ok(action) => action,
            Err(_) => Action::RespondNoLength(Response::text(
                500,
                "text/plain",
                "test server: the handler panicked",
            )),
        };
        if !conn.perform(action, &request) {
            return;
        }
    }
}

impl Conn<'_> {
    // ----- reading -----

    /// Reads more bytes into `buf`; `Gone` on EOF, error, shutdown or idle timeout.
    fn fill(&mut self) -> Result<(), ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        let started = Instant::now();
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadError::Gone),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if is_timeout(&e) => {
                    if self.shared.stopped() || started.elapsed() >= IDLE_TIMEOUT {
                        return Err(ReadError::Gone);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ReadError::Gone),
            }
        }
    }

    /// Reads a line ending in CRLF (returned without it); for chunked bodies.
    fn read_line(&mut self) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line = self.buf[..pos].to_vec();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            if self.buf.len() > 8 * 1024 {
                return Err(ReadError::Reject(400, "chunk line too long\n"));
            }
            self.fill()?;
        }
    }

    /// Reads exactly `n` bytes.
    fn read_exact_bytes(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn read_request(&mut self) -> Result<Request, ReadError> {
        // The head, up to the blank line. Empty lines before a request line are ignored
        // (RFC 9112 §2.2).
        let head_end = loop {
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                if pos + 4 > MAX_HEADER_BYTES {
                    return Err(too_large_head());
                }
                break pos;
            }
            if self.buf.len() >= MAX_HEADER_BYTES {
                return Err(too_large_head());
            }
            self.fill()?;
        };
        let head: Vec<u8> = self.buf.drain(..head_end + 4).collect();
        let head = String::from_utf8_lossy(&head[..head_end]).into_owned();
        let mut lines = head.split("\r\n");

        let request_line = lines.next().unwrap_or("");
        let parts: Vec<&str> = request_line.split(' ').collect();
        let [method, target, version] = parts[..] else {
            return Err(ReadError::Reject(400, "malformed request line\n"));
        };
        if method.is_empty()
            || target.is_empty()
            || !version.starts_with("HTTP/1.")
            || !method.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ReadError::Reject(400, "malformed request line\n"));
        }

        let mut headers = Vec::new();
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                return Err(ReadError::Reject(400, "obsolete header line folding\n"));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(ReadError::Reject(400, "malformed header line\n"));
            };
            if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic()) {
                return Err(ReadError::Reject(400, "malformed header name\n"));
            }
            headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
        }

        let mut request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            version: version.to_owned(),
            headers,
            body: Vec::new(),
            peer: self.peer,
            conn_id: self.conn_id,
        };

        let transfer_encoding = request.header_all("transfer-encoding").join(",");
        let chunked = if transfer_encoding.is_empty() {
            false
        } else if transfer_encoding
            .rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        {
            true
        } else {
            return Err(ReadError::Reject(400, "unsupported transfer-encoding\n"));
        };
        let content_length = if chunked {
            0
        } else {
            parse_content_length(&request.header_all("content-length"))?
        };
        if content_length > MAX_BODY_BYTES {
            return Err(ReadError::Reject(413, "request body too large\n"));
        }

        let expects_continue = request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expects_continue
            && (chunked || content_length > 0)
            && !request.version.eq_ignore_ascii_case("HTTP/1.0")
        {
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }

        request.body = if chunked {
            self.read_chunked_body()?
        } else {
            self.read_exact_bytes(content_length)?
        };
        Ok(request)
    }

    fn read_chunked_body(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let line = String::from_utf8_lossy(&line);
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| ReadError::Reject(400, "malformed chunk size\n"))?;
            if size == 0 {
                // Trailer fields, up to the blank line; ignored.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > MAX_BODY_BYTES {
                return Err(ReadError::Reject(413, "request body too large\n"));
            }
            let data = self.read_exact_bytes(size)?;
            body.extend_from_slice(&data);
            if !self.read_line()?.is_empty() {
                return Err(ReadError::Reject(400, "chunk not followed by CRLF\n"));
            }
        }
    }

    // ----- writing -----

    /// Writes all of `data`, waking up to check for shutdown; fails when the peer is gone
    /// or takes nothing for [`IDLE_TIMEOUT`].
    fn send(&mut self, mut data: &[u8]) -> io::Result<()> {
        let mut last_progress = Instant::now();
        while !data.is_empty() {
            match self.stream.write(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    data = &data[n..];
                    last_progress = Instant::now();
                }
                Err(e) if is_timeout(&e) => {
                    if self.shared.stopped() || last_progress.elapsed() >= IDLE_TIMEOUT {
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sleeps for `duration`; `false` if the server was dropped meanwhile.
    fn pause(&self, duration: Duration) -> bool {
        let end = Instant::now() + duration;
        loop {
            if self.shared.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep((end - now).min(POLL));
        }
    }

    /// Sends a framed response (`Content-Length` added unless present); returns whether
    /// the connection may stay open.
    fn send_response(&mut self, response: &Response, method: &str, close: bool) -> bool {
        let close = close
            || response
                .header("connection")
                .is_some_and(|v| has_token(v, "close"));
        let no_body = status_has_no_body(response.status);
        let mut headers = response.headers.clone();
        if !no_body
            && response.header("content-length").is_none()
            && response.header("transfer-encoding").is_none()
        {
            headers.push(("Content-Length".into(), response.body.len().to_string()));
        }
        if close && response.header("connection").is_none() {
            headers.push(("Connection".into(), "close".into()));
        }
        let mut out = response_head(response.status, &headers);
        if !no_body && !method.eq_ignore_ascii_case("HEAD") {
            out.extend_from_slice(&response.body);
        }
        self.send(&out).is_ok() && !close
    }

    /// Carries out `action`; returns whether to read another request on this connection.
    fn perform(&mut self, action: Action, request: &Request) -> bool {
        let keep_alive = request.wants_keep_alive();
        match action {
            Action::Respond(response) => {
                if self.send_response(&response, &request.method, !keep_alive) {
                    return true;
                }
                self.close();
            }
            Action::RespondNoLength(response) => {
                let mut headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("connection"))
                    .cloned()
                    .collect();
                headers.push(("Connection".into(), "close".into()));
                let mut out = response_head(response.status, &headers);
                out.extend_from_slice(&response.body);
                if self.send(&out).is_ok() {
                    self.close();
                }
            }
            Action::Chunked(response) => {
                if self.send_chunked(&response, keep_alive).unwrap_or(false) {
                    return true;
                }
                self.close();
            }
            Action::Raw(bytes) => {
                if self.send(&bytes).is_ok() {
                    self.close();
                }
            }
            Action::Reset => reset(&self.stream),
            Action::ResetAfter(bytes) => {
                let _ = self.send(&bytes);
                let _ = self.stream.flush();
                self.pause(Duration::from_millis(20));
                reset(&self.stream);
            }
            Action::Trickle { bytes, interval } => {
                for (i, byte) in bytes.iter().enumerate() {
                    if i > 0 && !self.pause(interval) {
                        return false;
                    }
                    if self.send(std::slice::from_ref(byte)).is_err() {
                        return false;
                    }
                }
                self.close();
            }
            Action::Stall(duration) => {
                if self.pause(duration) {
                    self.close();
                }
            }
            Action::InfiniteChunked => {
                let _ = self.send_infinite_chunked();
            }
            Action::HugeBody {
                content_length,
                size,
            } => {
                let sent_all = self.send_huge_body(content_length, size).is_ok();
                if sent_all && content_length && keep_alive {
                    return true;
                }
                if sent_all {
                    self.close();
                }
            }
            Action::Close => self.close(),
        }
        false
    }

    fn send_chunked(&mut self, response: &Response, keep_alive: bool) -> io::Result<bool> {
        let close = !keep_alive
            || response
                .header("connection")
                .is_some_and(|v| has_token(v, "close"));
        let mut headers: Vec<(String, String)> = response
            .headers
            .iter()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("content-length")
                    && !k.eq_ignore_ascii_case("transfer-encoding")
            })
            .cloned()
            .collect();
        headers.push(("Transfer-Encoding".into(), "chunked".into()));
        if close && response.header("connection").is_none() {
            headers.push(("Connection".into(), "close".into()));
        }
        self.send(&response_head(response.status, &headers))?;
        let body = &response.body;
        let piece = body.len().div_ceil(3).max(1);
        for chunk in body.chunks(piece) {
            let mut out = format!("{:x}\r\n", chunk.len()).into_bytes();
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
            self.send(&out)?;
            self.pause(Duration::from_millis(5));
        }
        self.send(b"0\r\n\r\n")?;
        Ok(!close)
    }

    fn send_infinite_chunked(&mut self) -> io::Result<()> {
        self.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\n",
        )?;
        let data = vec![b'a'; 8 * 1024];
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(&data);
        chunk.extend_from_slice(b"\r\n");
        let started = Instant::now();
        let mut sent: u64 = 0;
        while started.elapsed() < INFINITE_LIMIT && sent < INFINITE_MAX_BYTES {
            self.send(&chunk)?;
            sent += data.len() as u64;
            if !self.pause(Duration::from_millis(1)) {
                break;
            }
        }
        Ok(())
    }

    fn send_huge_body(&mut self, content_length: bool, size: usize) -> io::Result<()> {
        let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
        if content_length {
            head.push_str(&format!("Content-Length: {size}\r\n"));
        } else {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        self.send(head.as_bytes())?;
        let block = vec![b'a'; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len());
            self.send(&block[..n])?;
            left -= n;
        }
        Ok(())
    }

    /// Graceful close: send FIN, then read and discard what the client still sends for a
    /// moment, so that unread data does not turn the close into a reset that could destroy
    /// the response in flight.
    fn close(&mut self) {
        let _ = self.stream.flush();
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut sink = [0u8; 4096];
        while Instant::now() < deadline && !self.shared.stopped() {
            match self.stream.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

fn too_large_head() -> ReadError {
    ReadError::Reject(431, "request header fields too large\n")
}

/// Parses the `Content-Length` values (a request may repeat the field or list values, but
/// they must all agree); no field means 0.
fn parse_content_length(values: &[&str]) -> Result<usize, ReadError> {
    let mut length = None;
    for value in values.iter().flat_map(|v| v.split(',')) {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReadError::Reject(400, "malformed content-length\n"));
        }
        let n = value
            .parse::<usize>()
            .map_err(|_| ReadError::Reject(413, "request body too large\n"))?;
        if length.is_some_and(|l| l != n) {
            return Err(ReadError::Reject(400, "conflicting content-length\n"));
        }
        length = Some(n);
    }
    Ok(length.unwrap_or(0))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Abortive close: the peer sees a TCP RST (`ECONNRESET`) instead of a FIN.
fn reset(stream: &TcpStream) {
    set_linger_zero(stream);
    // The socket is closed (and the RST sent) when the caller's `TcpStream` is dropped.
}

#[cfg(unix)]
fn set_linger_zero(stream: &TcpStream) {
    use std::os::unix::io::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor belongs to `stream`, which is alive for the whole call, and
    // the option value points to an initialised `linger` of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast::<libc::c_void>(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[cfg(not(unix))]
fn set_linger_zero(stream: &TcpStream) {
    // No portable way without another crate; fall back to an ordinary close.
    let _ = stream.shutdown(Shutdown::Both);
}
