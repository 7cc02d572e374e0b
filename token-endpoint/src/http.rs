//! Just enough HTTP/1.1 for a token endpoint, on std alone: one thread per connection,
//! keep-alive, `Content-Length` request bodies (a chunked body is answered `411`), request
//! heads up to 64 KiB and bodies up to 1 MiB. Loopback addresses only.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed request.
pub struct Request {
    /// The client's address.
    pub peer: SocketAddr,
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// `(name, value)` pairs, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        self.body
            .split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let mut parts = pair.splitn(2, |&b| b == b'=');
                let key = form_decode(parts.next().unwrap_or(b""));
                let value = form_decode(parts.next().unwrap_or(b""));
                (key, value)
            })
            .collect()
    }

    /// The `Authorization: Basic` credentials, each form-decoded as RFC 6749 §2.3.1 asks.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let value = self.header("authorization")?.trim();
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        Some((form_decode(id.as_bytes()), form_decode(secret.as_bytes())))
    }
}

/// Percent-decoding with `+` as a space; an invalid escape is kept as it is.
fn form_decode(data: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let escaped = match data.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(hi, lo)| hi << 4 | lo),
            _ => None,
        };
        match (escaped, data[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response: status, headers, body.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn write_to(&self, out: &mut impl Write, keep_alive: bool) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        if !keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "",
    }
}

/// A bound listener.
pub struct Server {
    listener: TcpListener,
}

impl Server {
    /// Binds `addr`, which must resolve to loopback addresses only.
    pub fn bind(addr: &str) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only loopback addresses are allowed",
            ));
        }
        Ok(Server {
            listener: TcpListener::bind(&addrs[..])?,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        match self.listener.local_addr() {
            Ok(SocketAddr::V6(a)) => format!("http://[{}]:{}{path}", a.ip(), a.port()),
            Ok(a) => format!("http://{a}{path}"),
            Err(_) => format!("http://127.0.0.1{path}"),
        }
    }

    /// Serves connections until the process ends, one thread each.
    pub fn run<F>(self, handler: F) -> !
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let handler = Arc::clone(&handler);
                    std::thread::spawn(move || {
                        let _ = serve_connection(stream, peer, &*handler);
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

/// What reading a request gave.
enum Read_ {
    Request(Request),
    /// The peer closed the connection between requests.
    Closed,
    /// A request we answer with this status and then close.
    Refuse(u16),
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    handler: &dyn Fn(&Request) -> Response,
) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        match read_request(&mut reader, peer)? {
            Read_::Closed => return Ok(()),
            Read_::Refuse(status) => {
                let body = format!(r#"{{"error":{{"status":{status}}}}}"#);
                return Response::json(status, &body).write_to(&mut writer, false);
            }
            Read_::Request(request) => {
                let keep_alive = !request
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                handler(&request).write_to(&mut writer, keep_alive)?;
                if !keep_alive {
                    return Ok(());
                }
            }
        }
    }
}

fn read_request(reader: &mut impl BufRead, peer: SocketAddr) -> io::Result<Read_> {
    let mut head = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader
            .take((MAX_HEAD_BYTES + 1 - head.len().min(MAX_HEAD_BYTES)) as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(if head.is_empty() {
                Read_::Closed
            } else {
                Read_::Refuse(400)
            });
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD_BYTES {
            return Ok(Read_::Refuse(431));
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if text.is_empty() {
            if lines.is_empty() {
                continue; // a stray blank line between requests
            }
            break;
        }
        lines.push(text);
    }
    let mut request_line = lines[0].split(' ');
    let (Some(method), Some(target), Some(_version)) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return Ok(Read_::Refuse(400));
    };
    let mut headers = Vec::new();
    for line in &lines[1..] {
        let Some((name, value)) = line.split_once(':') else {
            return Ok(Read_::Refuse(400));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = Request {
        peer,
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Ok(Read_::Refuse(411));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(value) => match value.parse::<usize>() {
            Ok(n) if n <= MAX_BODY_BYTES => n,
            Ok(_) => return Ok(Read_::Refuse(413)),
            Err(_) => return Ok(Read_::Refuse(400)),
        },
    };
    request.body = vec![0; length];
    reader.read_exact(&mut request.body)?;
    Ok(Read_::Request(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_follows_the_form_rules_and_keeps_bad_escapes() {
        assert_eq!(form_decode(b"a+b%20c%2Bd"), "a b c+d");
        assert_eq!(form_decode(b"100%"), "100%");
        assert_eq!(form_decode(b"%zz%4"), "%zz%4");
        assert_eq!(form_decode(b"%C3%A9"), "é");
    }

    #[test]
    fn a_request_over_a_real_socket_gets_its_answer_and_keeps_the_connection() {
        let server = Server::bind("127.0.0.1:0").expect("bind");
        let url = server.url("/x");
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/x"));
        let port = server.port();
        std::thread::spawn(move || {
            server.run(|request: &Request| {
                let (id, secret) = request.basic_auth().unwrap_or_default();
                let form = request.form();
                let body = format!(
                    "{} {} {id} {secret} {form:?}",
                    request.method,
                    request.path()
                );
                Response::json(200, &body)
            })
        });
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // "id:se cret" with the space form-encoded as RFC 6749 asks.
        let request = "POST /api/token?q=1 HTTP/1.1\r\nHost: x\r\n\
                       Authorization: Basic aWQ6c2UrY3JldA==\r\n\
                       Content-Length: 13\r\n\r\ngrant_type=cc";
        for _ in 0..2 {
            stream.write_all(request.as_bytes()).expect("write");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut status = String::new();
            reader.read_line(&mut status).expect("status line");
            assert_eq!(status, "HTTP/1.1 200 OK\r\n");
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("header");
                if line == "\r\n" {
                    break;
                }
                assert_ne!(line.to_ascii_lowercase(), "connection: close\r\n");
                if let Some(n) = line.strip_prefix("Content-Length: ") {
                    length = n.trim().parse().expect("a length");
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            assert_eq!(
                String::from_utf8(body).unwrap(),
                r#"POST /api/token id se cret [("grant_type", "cc")]"#
            );
        }
    }

    #[test]
    fn only_loopback_addresses_are_served() {
        assert!(Server::bind("0.0.0.0:0").is_err());
        assert!(Server::bind("[::1]:0").map_or(true, |s| s.url("/").starts_with("http://[::1]:")));
    }
}
