//! Proxies, with real ones on loopback: tinyproxy (Debian package `tinyproxy`) as the HTTP
//! CONNECT proxy, the same behind a TLS front as an `https://` proxy, and microsocks
//! (package `microsocks`) as the SOCKS5 proxy. Each proxy opens its outgoing connections
//! from an address of its own in 127.0.0.0/8, so the server behind it can tell a proxied
//! connection (127.0.0.3 / 127.0.0.4) from a direct one (127.0.0.1).
//!
//! Both packages are required: a missing one fails the test with the command that installs
//! it (`.ci/run` installs them).

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use oauth2cc::{request_token, Client, Config, Error, ErrorKind};
use support::env::Env;
use support::http_server::*;
use support::tls::{Pki, SilentListener, TlsFront};
use support::{free_port, TempDir};

/// Where tinyproxy's outgoing connections come from.
const TINYPROXY_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// Where microsocks's outgoing connections come from.
const MICROSOCKS_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
const DIRECT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Every proxy variable, removed: each test starts from an environment without a proxy.
fn clean_env() -> Env {
    Env::set(&[
        ("http_proxy", None),
        ("HTTP_PROXY", None),
        ("https_proxy", None),
        ("HTTPS_PROXY", None),
        ("all_proxy", None),
        ("ALL_PROXY", None),
        ("no_proxy", None),
        ("NO_PROXY", None),
        ("SSL_CERT_FILE", None),
        ("SSL_CERT_DIR", None),
    ])
}

fn token_server() -> TestServer {
    support::token_server("proxied-token")
}

fn config(url: &str) -> Config {
    support::config(url, 10_000)
}

/// A config for `url` whose requests go through `proxy`.
fn via(url: &str, proxy: &str) -> Config {
    let mut c = config(url);
    c.set_proxy(Some(proxy)).unwrap();
    c
}

/// Requests a token, expecting `kind` with `fragment` in the message.
fn fails_with(c: &Config, kind: ErrorKind, fragment: &str) -> Error {
    let e = request_token(c).unwrap_err();
    assert_eq!(e.kind(), kind, "{e:?}");
    assert!(e.message().contains(fragment), "{}", e.message());
    e
}

/// Fails the test (never skips it) when `program` is not installed.
fn require(program: &str, package: &str) {
    let found = Command::new(program)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{program} is not installed; these tests need a real proxy: apt-get install -y {package}"
    );
}

/// A child process serving on 127.0.0.1:`port`; killed when dropped.
struct Daemon {
    child: Child,
    port: u16,
    name: &'static str,
}

impl Daemon {
    fn spawn(name: &'static str, command: &mut Command, port: u16) -> Daemon {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut daemon = Daemon { child, port, name };
        daemon.wait_until_listening();
        daemon
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited at start: {status}", self.name);
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("{} did not listen on {addr} within 10 s", self.name);
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tinyproxy on a free port, allowing CONNECT to `ports` only, connecting out from
/// 127.0.0.3, logging every request; with `BasicAuth` when `auth` is given.
struct Tinyproxy {
    daemon: Daemon,
    /// Holds the configuration and the log; removed after the daemon has stopped.
    dir: TempDir,
}

impl Tinyproxy {
    fn start(ports: &[u16], auth: Option<(&str, &str)>) -> Tinyproxy {
        require("tinyproxy", "tinyproxy");
        let dir = TempDir::new("tinyproxy");
        let port = free_port();
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nBind {TINYPROXY_SOURCE}\nTimeout 30\n\
             LogFile \"{log}\"\nLogLevel Info\nPidFile \"{pid}\"\nMaxClients 50\n\
             Allow 127.0.0.1\n",
            log = dir.path().join("tinyproxy.log").display(),
            pid = dir.path().join("tinyproxy.pid").display(),
        );
        for p in ports {
            conf.push_str(&format!("ConnectPort {p}\n"));
        }
        if let Some((user, password)) = auth {
            conf.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let daemon = Daemon::spawn(
            "tinyproxy",
            Command::new("tinyproxy")
                .arg("-d")
                .arg("-c")
                .arg(&conf_path),
            port,
        );
        Tinyproxy { daemon, dir }
    }

    fn url(&self) -> String {
        format!("http://{}", self.daemon.addr())
    }

    fn port(&self) -> u16 {
        self.daemon.port
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }

    /// How many CONNECTs to 127.0.0.1:`port` tinyproxy logged (it logs before it answers).
    fn tunnels_to(&self, port: u16) -> usize {
        let request = format!(": CONNECT 127.0.0.1:{port} HTTP/1.1");
        self.log().lines().filter(|l| l.contains(&request)).count()
    }
}

/// microsocks, a SOCKS5 server, on a free port, connecting out from 127.0.0.4.
fn microsocks(auth: Option<(&str, &str)>) -> Daemon {
    require("microsocks", "microsocks");
    let port = free_port();
    let mut command = Command::new("microsocks");
    command
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-b", &MICROSOCKS_SOURCE.to_string()]);
    if let Some((user, password)) = auth {
        command.args(["-u", user, "-P", password]);
    }
    Daemon::spawn("microsocks", &mut command, port)
}

fn peer_of_last_request(server: &TestServer) -> IpAddr {
    server.last_request().expect("a request").peer.ip()
}

/// Requests a token with `c` from `server`; the address the server saw it come from.
fn peer_of_token_request(c: &Config, server: &TestServer) -> IpAddr {
    request_token(c).unwrap();
    peer_of_last_request(server)
}

/// A [`token_server`] and a Tinyproxy that may reach it.
fn server_and_proxy() -> (TestServer, Tinyproxy) {
    let server = token_server();
    let proxy = Tinyproxy::start(&[server.port()], None);
    (server, proxy)
}

#[test]
fn https_proxy_from_the_environment_carries_an_https_token_request() {
    let mut env = clean_env();
    let server = token_server();
    let pki = Pki::new("proxy env CA");
    let front = TlsFront::start(&pki.leaf(&["127.0.0.1"]), server.addr());
    let proxy = Tinyproxy::start(&[front.port()], None);
    env.change(&[("HTTPS_PROXY", Some(&proxy.url()))]);
    let mut c = config(&front.url("/token"));
    c.set_ca_file(pki.ca_file().to_str().unwrap()).unwrap();

    let token = request_token(&c).unwrap();
    assert_eq!(token.access_token().expose(), "proxied-token");
    assert_eq!(proxy.tunnels_to(front.port()), 1, "{}", proxy.log());
    assert_eq!(front.peers().last().unwrap().ip(), TINYPROXY_SOURCE);

    // https_proxy (lower case) is read first, as curl does.
    env.change(&[("https_proxy", Some("http://127.0.0.1:9"))]);
    fails_with(
        &c,
        ErrorKind::Network,
        "proxy http://127.0.0.1:9 refused the connection",
    );
}

#[test]
fn http_proxy_and_all_proxy_carry_a_plain_http_request_but_http_proxy_upper_case_does_not() {
    let mut env = clean_env();
    let (server, proxy) = server_and_proxy();
    let c = config(&server.url("/token"));

    env.change(&[("HTTP_PROXY", Some(&proxy.url()))]);
    assert_eq!(
        peer_of_token_request(&c, &server),
        DIRECT,
        "HTTP_PROXY is ignored"
    );

    env.change(&[("http_proxy", Some(&proxy.url()))]);
    assert_eq!(peer_of_token_request(&c, &server), TINYPROXY_SOURCE);
    assert_eq!(proxy.tunnels_to(server.port()), 1, "{}", proxy.log());

    env.change(&[("http_proxy", None), ("ALL_PROXY", Some(&proxy.url()))]);
    assert_eq!(peer_of_token_request(&c, &server), TINYPROXY_SOURCE);
    assert_eq!(server.request_count(), 3);
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let mut env = clean_env();
    let (server, proxy) = server_and_proxy();
    let c = config(&server.url("/token"));
    env.change(&[("ALL_PROXY", Some(&proxy.url()))]);

    for no_proxy in ["127.0.0.1", "localhost, 127.0.0.0/8", "::1,127.0.0.1", "*"] {
        env.change(&[("NO_PROXY", Some(no_proxy))]);
        assert_eq!(
            peer_of_token_request(&c, &server),
            DIRECT,
            "NO_PROXY={no_proxy}"
        );
    }
    // no_proxy (lower case) wins over NO_PROXY; a name does not cover an address.
    env.change(&[("no_proxy", Some("localhost"))]);
    assert_eq!(peer_of_token_request(&c, &server), TINYPROXY_SOURCE);

    // NO_PROXY applies to the config's proxy as well.
    env.change(&[
        ("no_proxy", None),
        ("ALL_PROXY", None),
        ("NO_PROXY", Some("127.0.0.1")),
    ]);
    request_token(&via(&server.url("/token"), &proxy.url())).unwrap();
    assert_eq!(peer_of_last_request(&server), DIRECT);
    assert_eq!(proxy.tunnels_to(server.port()), 1, "{}", proxy.log());
}

#[test]
fn the_config_proxy_carries_token_requests_and_client_get() {
    let _env = clean_env();
    let (server, proxy) = server_and_proxy();

    let client = Client::new(&via(&server.url("/token"), &proxy.url())).unwrap();
    client.token().unwrap();
    assert_eq!(peer_of_last_request(&server), TINYPROXY_SOURCE);
    let response = client.get(&server.url("/api")).unwrap();
    assert_eq!(response.status, 200);
    let api = server.last_request().unwrap();
    assert_eq!(api.path(), "/api");
    assert_eq!(api.peer.ip(), TINYPROXY_SOURCE);
    assert_eq!(api.header("authorization"), Some("Bearer proxied-token"));
}

#[test]
fn proxy_credentials_are_sent_and_never_shown() {
    let _env = clean_env();
    let server = token_server();
    let proxy = Tinyproxy::start(&[server.port()], Some(("proxyuser", "Pr0xyPassw0rd")));
    let with = |userinfo: &str| {
        via(
            &server.url("/token"),
            &format!("http://{userinfo}127.0.0.1:{}", proxy.port()),
        )
    };

    request_token(&with("proxyuser:Pr0xyPassw0rd@")).unwrap();
    assert_eq!(peer_of_last_request(&server), TINYPROXY_SOURCE);

    let e = fails_with(
        &with("proxyuser:WrongPassw0rd@"),
        ErrorKind::Network,
        &format!(
            "proxy http://127.0.0.1:{} rejected the credentials (401)",
            proxy.port()
        ),
    );
    assert!(!e.message().contains("WrongPassw0rd"), "{}", e.message());
    assert!(!format!("{e:?}").contains("proxyuser:"), "{e:?}");

    fails_with(&with(""), ErrorKind::Network, "requires credentials (407)");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn proxy_failures_are_network_errors_that_name_the_proxy() {
    let _env = clean_env();
    let server = token_server();

    // Nothing listens on the proxy's port.
    let closed = free_port();
    let proxy_url = format!("http://127.0.0.1:{closed}");
    fails_with(
        &via(&server.url("/token"), &proxy_url),
        ErrorKind::Network,
        &format!("proxy {proxy_url} refused the connection"),
    );

    // The proxy will not tunnel to that port.
    let proxy = Tinyproxy::start(&[closed], None);
    fails_with(
        &via(&server.url("/token"), &proxy.url()),
        ErrorKind::Network,
        &format!(
            "proxy {} would not open a tunnel to the server (it answered 403)",
            proxy.url()
        ),
    );
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_proxy_that_never_answers_is_bounded_by_the_connect_timeout() {
    let _env = clean_env();
    let silent = SilentListener::start(Duration::from_secs(3));
    let proxy_url = format!("http://{}", silent.addr());
    let mut c = via("https://127.0.0.1:9/token", &proxy_url);
    c.set_connect_timeout_ms(400).unwrap();
    let started = Instant::now();
    fails_with(
        &c,
        ErrorKind::Timeout,
        &format!(
            "connecting to 127.0.0.1 through proxy {proxy_url} took longer than the 400 ms connect timeout"
        ),
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn an_https_proxy_is_reached_over_tls() {
    let _env = clean_env();
    let (server, proxy) = server_and_proxy();
    let pki = Pki::new("https proxy CA");
    let tls_proxy = TlsFront::start(&pki.leaf(&["127.0.0.1"]), proxy.daemon.addr());
    let through = |front: &TlsFront| {
        let mut c = via(
            &server.url("/token"),
            &format!("https://127.0.0.1:{}", front.port()),
        );
        c.set_ca_file(pki.ca_file().to_str().unwrap()).unwrap();
        c
    };

    request_token(&through(&tls_proxy)).unwrap();
    assert_eq!(tls_proxy.handshakes(), 1);
    assert_eq!(peer_of_last_request(&server), TINYPROXY_SOURCE);

    // A proxy whose certificate is not trusted is a TLS error that names it.
    let other = Pki::new("untrusted proxy CA");
    let bad_proxy = TlsFront::start(&other.leaf(&["127.0.0.1"]), proxy.daemon.addr());
    fails_with(
        &through(&bad_proxy),
        ErrorKind::Tls,
        &format!(
            "or proxy https://127.0.0.1:{} is not trusted",
            bad_proxy.port()
        ),
    );
}

#[test]
fn socks5_proxies_with_and_without_credentials() {
    let _env = clean_env();
    let server = token_server();
    let url = server.url("/token");

    let open = microsocks(None);
    request_token(&via(&url, &format!("socks5://{}", open.addr()))).unwrap();
    assert_eq!(peer_of_last_request(&server), MICROSOCKS_SOURCE);

    let guarded = microsocks(Some(("sockuser", "S0cksPassw0rd")));
    request_token(&via(
        &url,
        &format!("socks5://sockuser:S0cksPassw0rd@{}", guarded.addr()),
    ))
    .unwrap();
    assert_eq!(server.request_count(), 2);

    let e = fails_with(
        &via(
            &url,
            &format!("socks5://sockuser:Wr0ngPassw0rd@{}", guarded.addr()),
        ),
        ErrorKind::Network,
        &format!("via proxy socks5://{}: ", guarded.addr()),
    );
    assert!(!e.message().contains("Wr0ngPassw0rd"), "{}", e.message());
    assert_eq!(server.request_count(), 2);
}

#[test]
fn a_malformed_proxy_is_a_config_error_without_the_password() {
    let mut env = clean_env();
    let mut c = config("http://127.0.0.1:9/token");
    let e = c
        .set_proxy(Some("ftp://user:SecretPw@proxy.example"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(!e.message().contains("SecretPw"), "{}", e.message());
    // A port that is not a 16-bit number would silently become the scheme's default.
    for bad_port in [
        "http://user:SecretPw@127.0.0.1:notaport",
        "http://127.0.0.1:99999",
        "socks5://[::1]:-1/",
    ] {
        let e = c.set_proxy(Some(bad_port)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{bad_port}");
        assert!(!e.message().contains("SecretPw"), "{}", e.message());
    }
    c.set_proxy(Some("http://user:SecretPw@127.0.0.1:3128"))
        .unwrap();
    c.set_proxy(Some("socks5://[::1]:1080")).unwrap();
    c.set_proxy(None).unwrap();

    env.change(&[("http_proxy", Some("gopher://user:SecretPw@x"))]);
    let e = fails_with(
        &c,
        ErrorKind::Config,
        "environment variable http_proxy is not a valid proxy URL",
    );
    assert!(!e.message().contains("SecretPw"), "{}", e.message());
}
