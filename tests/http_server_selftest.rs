//! Self-test of the scriptable test server in `testkit/src/http_server.rs`, driven with
//! plain `std::net::TcpStream` so that it does not depend on the library under test.

mod support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use oauth2cc_testkit::http_server::{Action, Request, Response, TestServer, MAX_HEADER_BYTES};

// ----- a minimal client ---------------------------------------------------------------

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Sizes of the chunks when the body was chunked.
    chunks: Vec<usize>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

fn connect(server: &TestServer) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(stream)
}

fn send(conn: &mut BufReader<TcpStream>, data: &[u8]) {
    conn.get_mut().write_all(data).expect("write request");
}

/// A new connection to `server` on which `data` has been sent.
fn connect_and_send(server: &TestServer, data: &[u8]) -> BufReader<TcpStream> {
    let mut conn = connect(server);
    send(&mut conn, data);
    conn
}

fn read_line(conn: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    conn.read_line(&mut line).expect("read line");
    assert!(line.ends_with("\r\n"), "line not ended by CRLF: {line:?}");
    line.truncate(line.len() - 2);
    line
}

fn read_head(conn: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let status_line = read_line(conn);
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn);
        if line.is_empty() {
            return (status, headers);
        }
        let (k, v) = line.split_once(':').expect("header line");
        headers.push((k.to_owned(), v.trim().to_owned()));
    }
}

/// Reads one response: no body (1xx, 204, 304), `Content-Length`, chunked, or up to EOF.
fn read_reply(conn: &mut BufReader<TcpStream>) -> Reply {
    let (status, headers) = read_head(conn);
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
        chunks: Vec::new(),
    };
    if status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size = usize::from_str_radix(&read_line(conn), 16).expect("chunk size");
            if size == 0 {
                assert_eq!(read_line(conn), "");
                break;
            }
            let mut data = vec![0; size];
            conn.read_exact(&mut data).unwrap();
            reply.body.extend_from_slice(&data);
            reply.chunks.push(size);
            assert_eq!(read_line(conn), "");
        }
    } else if let Some(len) = reply.header("content-length") {
        let mut data = vec![0; len.parse().unwrap()];
        conn.read_exact(&mut data).unwrap();
        reply.body = data;
    } else {
        conn.read_to_end(&mut reply.body).unwrap();
    }
    reply
}

fn assert_eof(conn: &mut BufReader<TcpStream>) {
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).expect("clean EOF");
    assert!(rest.is_empty(), "unexpected bytes: {rest:?}");
}

/// The body [`echo`] answers a request for `path` on connection `conn_id` with.
fn echoed(path: &str, conn_id: u64) -> String {
    format!(r#"{{"path":"{path}","conn":{conn_id}}}"#)
}

fn echo(request: &Request) -> Action {
    Action::Respond(Response::json(
        200,
        &echoed(request.path(), request.conn_id),
    ))
}

// ----- tests ---------------------------------------------------------------------------

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let server = TestServer::start(echo);
    let mut conn = connect_and_send(&server, b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
    let first = read_reply(&mut conn);
    send(&mut conn, b"GET /two?a=b HTTP/1.1\r\nHost: x\r\n\r\n");
    let second = read_reply(&mut conn);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.body_str(), echoed("/one", 1));
    assert_eq!(second.body_str(), echoed("/two", 1));
    assert_eq!(first.header("connection"), None);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].conn_id, requests[1].conn_id);
    assert_eq!(requests[1].target, "/two?a=b");
    assert_eq!(requests[1].query(), vec![("a".into(), "b".into())]);
    assert_eq!(requests[0].header("HOST"), Some("x"));
    assert_eq!(requests[0].peer, conn.get_ref().local_addr().unwrap());
    assert_eq!(server.connection_count(), 1);

    // A second connection gets a new id.
    let mut other = connect_and_send(&server, b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(read_reply(&mut other).body_str(), echoed("/three", 2));
    assert_eq!(server.connection_count(), 2);
    assert_eq!(server.request_count(), 3);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start(echo);
    let mut conn = connect_and_send(
        &server,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(read_reply(&mut conn).body_str(), echoed("/a", 1));
    assert_eq!(read_reply(&mut conn).body_str(), echoed("/b", 1));
}

#[test]
fn connection_close_is_honoured() {
    let server = TestServer::start(echo);
    let mut conn = connect_and_send(
        &server,
        b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let reply = read_reply(&mut conn);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eof(&mut conn);

    // HTTP/1.0 without keep-alive closes too.
    let mut conn = connect_and_send(&server, b"GET /y HTTP/1.0\r\n\r\n");
    assert_eq!(read_reply(&mut conn).status, 200);
    assert_eof(&mut conn);
}

#[test]
fn form_body_is_decoded() {
    let server = TestServer::start(|_| Action::Respond(Response::new(204)));
    let body = "grant_type=client_credentials&scope=a+b%20c&odd=%41%2b%zz%&flag&&=v&k=x=y";
    let mut conn = connect_and_send(
        &server,
        format!(
            "POST /api/token HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let reply = read_reply(&mut conn);
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("content-length"), None);

    let request = server.last_request().unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.body_str(), body);
    let pairs: Vec<(&str, &str)> = vec![
        ("grant_type", "client_credentials"),
        ("scope", "a b c"),
        ("odd", "A+%zz%"),
        ("flag", ""),
        ("", "v"),
        ("k", "x=y"),
    ];
    let form = request.form();
    let got: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, pairs);
    assert_eq!(request.form_value("scope").as_deref(), Some("a b c"));
    assert_eq!(request.form_value("missing"), None);
}

#[test]
fn basic_auth_is_base64_then_percent_decoded() {
    let server = TestServer::start(|_| Action::Respond(Response::new(200)));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let cases = [
        format!("Basic {}", b64("my%3Aclient:s%2Bcr%20et+x%25:tail")),
        format!("basic   {}", b64("plain:")),
        "Basic !!!not-base64!!!".to_owned(),
        format!("Basic {}", b64("no-colon")),
        "Bearer abc".to_owned(),
    ];
    let mut conn = connect(&server);
    for value in &cases {
        send(
            &mut conn,
            format!("GET / HTTP/1.1\r\nAuthorization: {value}\r\n\r\n").as_bytes(),
        );
        assert_eq!(read_reply(&mut conn).status, 200);
    }
    send(&mut conn, b"GET / HTTP/1.1\r\n\r\n");
    read_reply(&mut conn);

    let requests = server.requests();
    assert_eq!(
        requests[0].basic_auth(),
        Some(("my:client".into(), "s+cr et x%:tail".into()))
    );
    assert_eq!(
        requests[0].basic_auth_raw(),
        Some(("my%3Aclient".into(), "s%2Bcr%20et+x%25:tail".into()))
    );
    assert_eq!(
        requests[1].basic_auth(),
        Some(("plain".into(), String::new()))
    );
    assert_eq!(requests[2].basic_auth(), None);
    assert_eq!(requests[3].basic_auth(), None);
    assert_eq!(requests[4].basic_auth(), None);
    assert_eq!(requests[5].basic_auth(), None);
}

#[test]
fn respond_no_length_closes_after_the_body() {
    let server = TestServer::start(|_| {
        Action::RespondNoLength(Response::json(200, r#"{"access_token":"t"}"#))
    });
    let mut conn = connect_and_send(
        &server,
        b"POST /api/token HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    let reply = read_reply(&mut conn);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-length"), None);
    assert_eq!(reply.header("transfer-encoding"), None);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(reply.body_str(), r#"{"access_token":"t"}"#);
}

#[test]
fn chunked_response_in_several_chunks_keeps_the_connection() {
    let body = r#"{"access_token":"abcdefghijklmnopqrstuvwxyz","token_type":"Bearer"}"#;
    let server = TestServer::start(move |_| Action::Chunked(Response::json(200, body)));
    let mut conn = connect_and_send(&server, b"GET / HTTP/1.1\r\n\r\n");
    let reply = read_reply(&mut conn);
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert_eq!(reply.header("content-length"), None);
    assert_eq!(reply.body_str(), body);
    assert!(reply.chunks.len() >= 2, "chunks: {:?}", reply.chunks);

    send(&mut conn, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(read_reply(&mut conn).body_str(), body);
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn reset_gives_econnreset() {
    let server = TestServer::start(|_| Action::Reset);
    let mut conn = connect_and_send(&server, b"GET / HTTP/1.1\r\n\r\n");
    let mut buf = [0u8; 64];
    let err = conn
        .get_mut()
        .read(&mut buf)
        .expect_err("read should fail with a reset");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn reset_after_sends_bytes_then_resets() {
    let partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"access_".to_vec();
    let expected = partial.clone();
    let server = TestServer::start(move |_| Action::ResetAfter(partial.clone()));
    let mut conn = connect_and_send(&server, b"GET / HTTP/1.1\r\n\r\n");
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    let err = loop {
        match conn.get_mut().read(&mut buf) {
            Ok(0) => panic!("clean EOF instead of a reset"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    assert_eq!(got, expected);
}

#[test]
fn trickle_sends_one_byte_per_interval() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec();
    let expected = bytes.clone();
    let interval = Duration::from_millis(20);
    let server = TestServer::start(move |_| Action::Trickle {
        bytes: bytes.clone(),
        interval,
    });
    let mut conn = connect(&server);
    let started = Instant::now();
    send(&mut conn, b"GET / HTTP/1.1\r\n\r\n");
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.get_mut().read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        reads += 1;
        got.extend_from_slice(&buf[..n]);
    }
    let elapsed = started.elapsed();
    assert_eq!(got, expected);
    let minimum = interval * (expected.len() as u32 - 1);
    assert!(elapsed >= minimum, "{elapsed:?} < {minimum:?}");
    assert!(reads > expected.len() / 2, "only {reads} reads");
}

#[test]
fn raw_and_close() {
    let server = TestServer::start(|request| match request.path() {
        "/raw" => Action::Raw(b"HTTP/1.1 200 OK\r\n\r\nnot framed".to_vec()),
        _ => Action::Close,
    });
    let mut conn = connect_and_send(&server, b"GET /raw HTTP/1.1\r\n\r\n");
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    assert_eq!(all, b"HTTP/1.1 200 OK\r\n\r\nnot framed");

    let mut conn = connect_and_send(&server, b"GET /close HTTP/1.1\r\n\r\n");
    assert_eof(&mut conn);
    assert_eq!(server.request_count(), 2);
}

#[test]
fn stall_sends_nothing_then_closes() {
    let server = TestServer::start(|_| Action::Stall(Duration::from_millis(400)));
    let mut conn = connect(&server);
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    send(&mut conn, b"GET / HTTP/1.1\r\n\r\n");
    let mut buf = [0u8; 16];
    let err = conn
        .get_mut()
        .read(&mut buf)
        .expect_err("nothing to read yet");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    assert!(server.wait_for_requests(1, Duration::from_secs(1)));
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(conn.get_mut().read(&mut buf).unwrap(), 0);
}

#[test]
fn huge_body_with_and_without_length() {
    const SIZE: usize = 3 * 1024 * 1024 + 17;
    let server = TestServer::start(|request| Action::HugeBody {
        content_length: request.path() == "/with",
        size: SIZE,
    });
    let mut conn = connect_and_send(&server, b"GET /with HTTP/1.1\r\n\r\n");
    let reply = read_reply(&mut conn);
    assert_eq!(
        reply.header("content-length"),
        Some(SIZE.to_string().as_str())
    );
    assert_eq!(reply.body.len(), SIZE);
    assert!(reply.body.iter().all(|&b| b == b'a'));
    // With a length the connection stays usable.
    send(&mut conn, b"GET /without HTTP/1.1\r\n\r\n");
    let reply = read_reply(&mut conn);
    assert_eq!(reply.header("content-length"), None);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(reply.body.len(), SIZE);
    assert_eq!(server.connection_count(), 1);

    // A client that gives up early does not upset the server.
    let mut conn = connect_and_send(&server, b"GET /with HTTP/1.1\r\n\r\n");
    let mut buf = [0u8; 1000];
    conn.read_exact(&mut buf).unwrap();
    drop(conn);
    let mut conn = connect_and_send(&server, b"GET /with HTTP/1.1\r\n\r\n");
    assert_eq!(read_reply(&mut conn).body.len(), SIZE);
}

#[test]
fn infinite_chunked_keeps_going_until_the_client_leaves() {
    let server = TestServer::start(|_| Action::InfiniteChunked);
    let mut conn = connect_and_send(&server, b"GET / HTTP/1.1\r\n\r\n");
    let (status, headers) = read_head(&mut conn);
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "Transfer-Encoding" && v == "chunked"));
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while total < 256 * 1024 {
        let n = conn.get_mut().read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended");
        total += n;
    }
    drop(conn);
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn oversized_head_gets_431() {
    let server = TestServer::start(echo);
    let mut conn = connect(&server);
    let big = "a".repeat(MAX_HEADER_BYTES);
    // The server may answer and close before it has read all of this; ignore write errors.
    let _ = conn
        .get_mut()
        .write_all(format!("GET / HTTP/1.1\r\nX-Big: {big}\r\n\r\n").as_bytes());
    let reply = read_reply(&mut conn);
    assert_eq!(reply.status, 431);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(server.request_count(), 0);

    let mut conn = connect_and_send(&server, b"NOT-HTTP\r\n\r\n");
    assert_eq!(read_reply(&mut conn).status, 400);
}

#[test]
fn chunked_request_body_and_expect_continue() {
    let server = TestServer::start(|request| {
        Action::Respond(Response::text(200, "text/plain", request.body.clone()))
    });
    let mut conn = connect_and_send(
        &server,
        b"POST /api/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
          b\r\ngrant_type=\r\n12;ext=1\r\nclient_credentials\r\n0\r\nX-Trailer: 1\r\n\r\n",
    );
    assert_eq!(
        read_reply(&mut conn).body_str(),
        "grant_type=client_credentials"
    );

    send(
        &mut conn,
        b"POST /api/token HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    let (status, _) = read_head(&mut conn);
    assert_eq!(status, 100);
    send(&mut conn, b"hello");
    assert_eq!(read_reply(&mut conn).body_str(), "hello");
}

#[test]
fn head_requests_get_no_body() {
    let server = TestServer::start(|_| Action::Respond(Response::json(200, "{}")));
    let mut conn = connect_and_send(&server, b"HEAD / HTTP/1.1\r\n\r\n");
    let (status, headers) = read_head(&mut conn);
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "Content-Length" && v == "2"));
    send(&mut conn, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(read_reply(&mut conn).body_str(), "{}");
}

#[test]
fn handler_panic_becomes_500() {
    let server = TestServer::start(|_| panic!("intentional panic in a test handler"));
    let mut conn = connect_and_send(&server, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(read_reply(&mut conn).status, 500);
}

#[test]
fn binds_loopback_only_and_formats_urls() {
    let server = TestServer::start(echo);
    assert_eq!(
        server.url("/api/token"),
        format!("http://127.0.0.1:{}/api/token", server.addr().port())
    );
    assert_eq!(
        server.url("x"),
        format!("http://127.0.0.1:{}/x", server.port())
    );

    let err = TestServer::start_on("0.0.0.0:0", echo).expect_err("non-loopback refused");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    match TestServer::start_on("[::1]:0", echo) {
        Ok(v6) => {
            assert_eq!(v6.url("/t"), format!("http://[::1]:{}/t", v6.port()));
            let mut conn = connect_and_send(&v6, b"GET /v6 HTTP/1.1\r\n\r\n");
            assert_eq!(read_reply(&mut conn).status, 200);
        }
        Err(e) => support::skip::skip(
            support::skip::Ci::DoesNotInstall,
            &format!("the IPv6 part: no [::1] listener ({e})"),
        ),
    }
}

#[test]
fn drop_stops_listening_and_closes_idle_connections() {
    let server = TestServer::start(echo);
    let addr = server.addr();
    let mut idle = connect_and_send(&server, b"GET / HTTP/1.1\r\n\r\n");
    read_reply(&mut idle);

    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(3));
    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert!(refused.is_err(), "still accepting after drop");
    // The kept-alive connection is closed by the server shortly after.
    assert_eof(&mut idle);
    let _ = idle.get_ref().shutdown(Shutdown::Both);
}
