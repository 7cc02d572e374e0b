//! A minimal Redis client: RESP2 over a `TcpStream`, or over rustls for `rediss://`, with the
//! token endpoint's trust (the config's CA file, else the system's). Only what the shared
//! cache sends: `AUTH`, `SELECT`, `GET`, `SET`, `EVAL`.
//!
//! Deadlines, not timeouts: each command (and the host's lookup, and the connect) has a
//! deadline, the earlier of the caller's and the command's own bound, and every read and
//! write of the socket under it (the TLS handshake's included) waits only for what is left
//! of it. A Redis that trickles its reply a byte at a time cannot stretch a command past its
//! deadline, as a per-read timeout would let it. What is sent (the `AUTH` password among it)
//! is built in memory that is wiped when dropped, and so are the replies' strings.
//!
//! Hand-written rather than the `redis` crate: that crate (1.8, sync, `tls-rustls`) brings
//! `url` with `idna` and the ICU normalizer, `combine`, `socket2` and a second copy of the
//! system-store loading, to send five commands; see the commit that added this file for the
//! measured sizes.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::config::Config;
use crate::redis_url::RedisTarget;

/// The largest bulk string read back (a token entry is a few hundred bytes).
const MAX_BULK: usize = 64 * 1024;
/// The longest status or error line read back.
const MAX_LINE: usize = 4 * 1024;

/// A RESP2 reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Zeroizing<Vec<u8>>>),
    Array(Option<Vec<Reply>>),
}

/// A command in RESP2's request form: an array of bulk strings, in memory wiped when
/// dropped (it may hold the password). Its size is known first: the buffer never grows,
/// so no unwiped copy is left behind by a reallocation.
pub(crate) fn encode_command(args: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let size = 16 + args.iter().map(|a| a.len() + 32).sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    r.take(MAX_LINE as u64).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(invalid("a reply line is cut short or too long"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| invalid("a reply line is not UTF-8"))
}

fn read_len(line: &str) -> io::Result<Option<usize>> {
    match line.parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(n) if (0..=MAX_BULK as i64).contains(&n) => Ok(Some(n as usize)),
        _ => Err(invalid("a reply length is out of range")),
    }
}

/// Reads one reply. Arrays may nest one level (nothing we send gets more).
pub(crate) fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    read_reply_at(r, 0)
}

fn read_reply_at(r: &mut impl BufRead, depth: u32) -> io::Result<Reply> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" => Ok(Reply::Status(rest.to_string())),
        "-" => Ok(Reply::Error(rest.to_string())),
        ":" => rest
            .parse()
            .map(Reply::Int)
            .map_err(|_| invalid("a bad integer reply")),
        "$" => match read_len(rest)? {
            None => Ok(Reply::Bulk(None)),
            Some(n) => {
                let mut data = Zeroizing::new(vec![0; n + 2]);
                r.read_exact(&mut data)?;
                if !data.ends_with(b"\r\n") {
                    return Err(invalid("a bulk reply is not terminated"));
                }
                data.truncate(n);
                Ok(Reply::Bulk(Some(data)))
            }
        },
        "*" if depth < 2 => match read_len(rest)? {
            None => Ok(Reply::Array(None)),
            Some(n) if n <= 64 => (0..n)
                .map(|_| read_reply_at(r, depth + 1))
                .collect::<io::Result<Vec<_>>>()
                .map(|v| Reply::Array(Some(v))),
            Some(_) => Err(invalid("an array reply is too long")),
        },
        _ => Err(invalid("not a RESP2 reply")),
    }
}

/// A TCP socket whose reads and writes end by its deadline: each waits at most what is
/// left of it, whatever the bytes trickle in at.
struct Socket {
    tcp: TcpStream,
    deadline: Instant,
}

impl Socket {
    /// Maps a timed-out read or write (`EAGAIN` on Unix) to the deadline's error.
    fn bounded<T>(&self, result: io::Result<T>) -> io::Result<T> {
        result.map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => time_is_up(),
            _ => e,
        })
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(remaining(self.deadline)?))?;
        let result = self.tcp.read(buf);
        self.bounded(result)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp
            .set_write_timeout(Some(remaining(self.deadline)?))?;
        let result = self.tcp.write(buf);
        self.bounded(result)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The byte stream under a connection.
enum Stream {
    Plain(Socket),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Socket>>),
}

impl Stream {
    fn socket(&mut self) -> &mut Socket {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &mut s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One connection to Redis, logged in and on its database. Not pooled: the shared cache
/// talks to Redis once per token lifetime, so a connection per refresh costs nothing and
/// leaves nothing to share with a `fork()` child.
pub(crate) struct RedisConnection {
    stream: BufReader<Stream>,
    deadline: Instant,
    op_timeout: Duration,
    /// How to log in to any node (a Redis Cluster's other nodes: the same credentials).
    target: RedisTarget,
    /// The TLS config, for `rediss://` (made once per connection, reused for redirections).
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The node a `MOVED` sent the connection to last, if any.
    moved_to: Option<(String, u16)>,
}

/// The most redirections one command follows (a cluster being resharded answers a few).
const MAX_REDIRECTIONS: usize = 5;

impl RedisConnection {
    /// Connects (to `prefer` first, when given and reachable: the node that owns the key's
    /// slot, learned from an earlier `MOVED`), then `AUTH` and `SELECT` as the target says.
    /// The connect and each command end within `op_timeout`, and none goes past `deadline`.
    pub fn connect(
        target: &RedisTarget,
        config: &Config,
        deadline: Instant,
        op_timeout: Duration,
        prefer: Option<&(String, u16)>,
    ) -> io::Result<RedisConnection> {
        let tls = match target.tls {
            true => Some(tls_config(config)?),
            false => None,
        };
        let (tcp, host) = dial(&target.host, target.port, deadline, op_timeout, prefer)?;
        let mut conn = RedisConnection {
            stream: BufReader::new(wrap(tcp, &host, tls.as_ref(), deadline)?),
            deadline,
            op_timeout,
            target: target.clone(),
            tls,
            moved_to: None,
        };
        conn.log_in()?;
        Ok(conn)
    }

    /// `AUTH` and `SELECT` as the target says.
    fn log_in(&mut self) -> io::Result<()> {
        let target = self.target.clone();
        if let Some(password) = &target.password {
            let password = password.expose().as_bytes();
            let reply = match &target.user {
                Some(user) => self.command_once(&[b"AUTH", user.as_bytes(), password])?,
                None => self.command_once(&[b"AUTH", password])?,
            };
            expect_ok(reply, "AUTH")?;
        }
        if target.db != 0 {
            let db = target.db.to_string();
            expect_ok(self.command_once(&[b"SELECT", db.as_bytes()])?, "SELECT")?;
        }
        Ok(())
    }

    /// Drops this connection for one to `host:port` (a cluster's redirection), logged in.
    fn reconnect(&mut self, host: &str, port: u16) -> io::Result<()> {
        let (tcp, host) = dial(host, port, self.deadline, self.op_timeout, None)?;
        self.stream = BufReader::new(wrap(tcp, &host, self.tls.as_ref(), self.deadline)?);
        self.log_in()
    }

    /// Moves the deadline of the commands still to come (after a token request, which has
    /// a timeout of its own).
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// The node that owns the keys this connection was redirected for, if a `MOVED` said.
    pub fn moved_to(&self) -> Option<&(String, u16)> {
        self.moved_to.as_ref()
    }

    /// Sends one command and reads its reply, following a Redis Cluster's `MOVED` (to the
    /// node that owns the key's slot, remembered) and `ASK` (to a node importing the slot:
    /// `ASKING`, then the command, once) redirections, a few at most. A Redis error reply
    /// is returned as a [`Reply::Error`], not as an `Err`.
    pub fn command(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        for _ in 0..MAX_REDIRECTIONS {
            let reply = self.command_once(args)?;
            let Some((ask, host, port)) = redirection(&reply) else {
                return Ok(reply);
            };
            let host = match host.is_empty() {
                // A node that does not know its own address names only the port.
                true => self.target.host.clone(),
                false => host,
            };
            self.reconnect(&host, port)?;
            if ask {
                expect_ok(self.command_once(&[b"ASKING"])?, "ASKING")?;
                return self.command_once(args);
            }
            self.moved_to = Some((host, port));
        }
        Err(io::Error::other("too many Redis Cluster redirections"))
    }

    /// One command and its reply, all of it by the command's deadline: the connection's, or
    /// `op_timeout` from now if that is earlier.
    fn command_once(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let deadline = self.deadline.min(Instant::now() + self.op_timeout);
        remaining(deadline)?;
        let stream = self.stream.get_mut();
        stream.socket().deadline = deadline;
        stream.write_all(&encode_command(args))?;
        stream.flush()?;
        read_reply(&mut self.stream)
    }
}

/// `MOVED <slot> <host>:<port>` or `ASK <slot> <host>:<port>`: (whether ASK, host, port).
fn redirection(reply: &Reply) -> Option<(bool, String, u16)> {
    let Reply::Error(e) = reply else { return None };
    let mut words = e.split(' ');
    let ask = match words.next()? {
        "MOVED" => false,
        "ASK" => true,
        _ => return None,
    };
    words.next()?.parse::<u16>().ok()?;
    let (host, port) = words.next()?.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((ask, host.to_string(), port.parse().ok()?))
}

/// `tcp`, connected to `host`, under TLS when `tls` is given (the handshake runs within the
/// first command's deadline).
fn wrap(
    tcp: TcpStream,
    host: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    deadline: Instant,
) -> io::Result<Stream> {
    let socket = Socket { tcp, deadline };
    Ok(match tls {
        Some(tls) => {
            let session = rustls::ClientConnection::new(Arc::clone(tls), server_name(host)?)
                .map_err(io::Error::other)?;
            Stream::Tls(Box::new(rustls::StreamOwned::new(session, socket)))
        }
        None => Stream::Plain(socket),
    })
}

/// A TCP connection to `host:port` (to `prefer` first, if given and reachable), each
/// attempt within what is left before `deadline` and within `op_timeout`; and the host it
/// reached.
fn dial(
    host: &str,
    port: u16,
    deadline: Instant,
    op_timeout: Duration,
    prefer: Option<&(String, u16)>,
) -> io::Result<(TcpStream, String)> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let preferred = prefer.into_iter().map(|(h, p)| (h.as_str(), *p));
    for (host, port) in preferred.chain([(host, port)]) {
        let within = remaining(deadline)?.min(op_timeout);
        let addrs = match resolve(host, port, within) {
            Ok(addrs) => addrs,
            Err(e) => {
                last = e;
                continue;
            }
        };
        for addr in addrs {
            let left = remaining(deadline)?.min(op_timeout);
            match TcpStream::connect_timeout(&addr, left) {
                Ok(tcp) => {
                    tcp.set_nodelay(true)?;
                    return Ok((tcp, host.to_string()));
                }
                Err(e) => last = e,
            }
        }
    }
    Err(last)
}

/// `host:port`'s addresses within `within`. An IP literal needs no lookup. A name is looked
/// up on a thread of its own: `getaddrinfo` cannot be interrupted, and a resolver that does
/// not answer must not hold the call past its deadline (the thread is left to finish and
/// end by itself, as ureq's resolver does for the token endpoint).
fn resolve(host: &str, port: u16, within: Duration) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let host = host.to_string();
    lookup_within(within, move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect)
    })
}

/// Runs `lookup` on a new thread and waits for its answer at most `within`.
fn lookup_within<F>(within: Duration, lookup: F) -> io::Result<Vec<SocketAddr>>
where
    F: FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static,
{
    let (answer, answered) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("oauth2cc-redis-lookup".into())
        .spawn(move || {
            // The receiver is gone when the caller stopped waiting: nobody wants the answer.
            let _ = answer.send(lookup());
        })?;
    match answered.recv_timeout(within) {
        Ok(addrs) => addrs,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "looking up the Redis host took longer than the shared cache's time",
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::other(
            "the Redis host's lookup ended without an answer",
        )),
    }
}

fn expect_ok(reply: Reply, what: &str) -> io::Result<()> {
    match reply {
        Reply::Status(s) if s == "OK" => Ok(()),
        // The server's error text names the problem (WRONGPASS, NOAUTH...), never our input.
        Reply::Error(e) => Err(io::Error::other(format!("{what}: {e}"))),
        _ => Err(invalid("an unexpected reply")),
    }
}

/// The time left before `deadline`, or a timeout error when none is.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(time_is_up());
    }
    Ok(left)
}

fn time_is_up() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the shared cache's time is up")
}

fn server_name(host: &str) -> io::Result<rustls::pki_types::ServerName<'static>> {
    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(io::Error::other)
}

/// A rustls client config trusting what the token endpoint trusts.
fn tls_config(config: &Config) -> io::Result<Arc<rustls::ClientConfig>> {
    let trust = super::trust::config_trust(config)
        .map_err(|e| io::Error::other(e.message().to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The token endpoint's verifier: the same roots and rules (a self-signed certificate
    // given as the CA file included).
    let verifier =
        super::trust::verifier(&trust.roots, provider.clone()).map_err(io::Error::other)?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_that_does_not_answer_ends_at_its_bound() {
        let started = Instant::now();
        let stalled = lookup_within(Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(Vec::new())
        });
        let error = stalled.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
        // The bound is 100 ms; the lookup would take 5 s.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let addr: SocketAddr = "127.0.0.1:6379".parse().unwrap();
        let answered = lookup_within(Duration::from_secs(5), move || Ok(vec![addr]));
        assert_eq!(answered.unwrap(), vec![addr]);
        let failed = lookup_within(Duration::from_secs(5), || Err(io::Error::other("NXDOMAIN")));
        assert_eq!(failed.unwrap_err().to_string(), "NXDOMAIN");
    }

    #[test]
    fn literals_are_not_looked_up_and_names_are() {
        // A zero bound: a lookup thread could never answer in time.
        assert_eq!(
            resolve("::1", 7000, Duration::ZERO).unwrap(),
            vec!["[::1]:7000".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("127.0.0.1", 7000, Duration::ZERO).unwrap(),
            vec!["127.0.0.1:7000".parse::<SocketAddr>().unwrap()]
        );
        let localhost = resolve("localhost", 7000, Duration::from_secs(5)).unwrap();
        assert!(
            localhost
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 7000),
            "{localhost:?}"
        );
        assert!(!localhost.is_empty());
    }

    #[test]
    fn commands_and_replies() {
        assert_eq!(
            *encode_command(&[b"GET", b"k"]),
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()
        );
        let read = |bytes: &[u8]| read_reply(&mut io::Cursor::new(bytes.to_vec()));
        assert_eq!(read(b"+OK\r\n").unwrap(), Reply::Status("OK".into()));
        assert_eq!(read(b"-ERR no\r\n").unwrap(), Reply::Error("ERR no".into()));
        assert_eq!(read(b":42\r\n").unwrap(), Reply::Int(42));
        assert_eq!(read(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(
            read(b"$2\r\nab\r\n").unwrap(),
            Reply::Bulk(Some(Zeroizing::new(b"ab".to_vec())))
        );
        assert_eq!(
            read(b"*2\r\n:1\r\n$0\r\n\r\n").unwrap(),
            Reply::Array(Some(vec![
                Reply::Int(1),
                Reply::Bulk(Some(Zeroizing::new(vec![])))
            ]))
        );
        let moved = |e: &str| redirection(&Reply::Error(e.into()));
        assert_eq!(
            moved("MOVED 3999 127.0.0.1:6381"),
            Some((false, "127.0.0.1".into(), 6381))
        );
        assert_eq!(moved("ASK 1 ::1:7000"), Some((true, "::1".into(), 7000)));
        assert_eq!(moved("MOVED 1 :7000"), Some((false, String::new(), 7000)));
        for not in ["ERR x", "MOVED", "MOVED x h:1", "ASK 1 h", "MOVED 1 h:port"] {
            assert_eq!(moved(not), None, "{not}");
        }
        assert_eq!(redirection(&Reply::Status("MOVED 1 h:1".into())), None);
        for bad in [
            &b"$5\r\nab\r\n"[..],
            b"$99999999\r\n",
            b"?\r\n",
            b"+OK",
            b":x\r\n",
            b"*1\r\n*1\r\n*1\r\n:1\r\n",
            b"$2\r\nabcd",
        ] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
    }
}
