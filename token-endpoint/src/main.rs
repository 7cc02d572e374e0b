//! A local stand-in for Spotify's token endpoint (`https://accounts.spotify.com/api/token`),
//! for offline development and for scripts that test programs using oauth2cc.
//!
//! ```text
//! cargo run --release -p oauth2cc-token-endpoint -- [--addr 127.0.0.1:8787]
//!     [--client-id ID --client-secret SECRET] [--expires-in 3600] [--port-file PATH]
//! ```
//!
//! It answers `POST /api/token` with the client credentials grant the way Spotify does:
//! HTTP Basic client authentication (or `client_id`/`client_secret` in the form body),
//! `grant_type=client_credentials`, a JSON token on success and Spotify's JSON errors
//! (with Spotify's texts and status codes) otherwise. Point a config's token URL at the
//! printed address: http:// is accepted for loopback hosts.
//!
//! The credentials default to `oauth2cc-demo-client` / `oauth2cc-demo-secret`;
//! `OAUTH2CC_DEMO_CLIENT_ID` and `OAUTH2CC_DEMO_CLIENT_SECRET` override the defaults, and
//! the command-line options override both. It binds loopback addresses only. With
//! `--addr 127.0.0.1:0` and `--port-file PATH` a script gets a free port and reads it from
//! PATH (written before the "listening" line is printed). One line per request goes to
//! stderr; it never contains the secret or a token.
//!
//! A workspace crate of its own with no dependency beyond std, `base64` and `serde_json`
//! (which the library already builds), so `examples/run_demo.sh` compiles nothing else.

mod http;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::{Request, Response, Server};

const USAGE: &str = "\
usage: token_endpoint [--addr HOST:PORT] [--client-id ID] [--client-secret SECRET]
                      [--expires-in SECONDS] [--port-file PATH]

  --addr          loopback address to listen on (default 127.0.0.1:8787; port 0 = any free)
  --client-id     accepted client id (default $OAUTH2CC_DEMO_CLIENT_ID or oauth2cc-demo-client)
  --client-secret accepted client secret (default $OAUTH2CC_DEMO_CLIENT_SECRET or
                  oauth2cc-demo-secret)
  --expires-in    expires_in of issued tokens, in seconds (default 3600)
  --port-file     write the bound port number to this file once listening";

const DEFAULT_ADDR: &str = "127.0.0.1:8787";
const DEFAULT_CLIENT_ID: &str = "oauth2cc-demo-client";
const DEFAULT_CLIENT_SECRET: &str = "oauth2cc-demo-secret";

struct Settings {
    addr: String,
    client_id: String,
    client_secret: String,
    expires_in: u64,
    port_file: Option<PathBuf>,
}

/// Parses the command line; `Ok(None)` for `--help`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Settings>, String> {
    let mut settings = Settings {
        addr: DEFAULT_ADDR.to_owned(),
        client_id: std::env::var("OAUTH2CC_DEMO_CLIENT_ID")
            .unwrap_or_else(|_| DEFAULT_CLIENT_ID.to_owned()),
        client_secret: std::env::var("OAUTH2CC_DEMO_CLIENT_SECRET")
            .unwrap_or_else(|_| DEFAULT_CLIENT_SECRET.to_owned()),
        expires_in: 3600,
        port_file: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        // Both `--name value` and `--name=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--addr" => settings.addr = value()?,
            "--client-id" => settings.client_id = value()?,
            "--client-secret" => settings.client_secret = value()?,
            "--expires-in" => {
                let text = value()?;
                settings.expires_in = text
                    .parse()
                    .map_err(|_| format!("--expires-in: not a number of seconds: {text:?}"))?;
            }
            "--port-file" => settings.port_file = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if settings.client_id.is_empty() || settings.client_secret.is_empty() {
        return Err("the client id and secret must not be empty".to_owned());
    }
    Ok(Some(settings))
}

/// What the request handler needs.
struct Endpoint {
    client_id: String,
    client_secret: String,
    expires_in: u64,
    /// Counts issued tokens; makes every token distinct.
    issued: AtomicU64,
    /// Differs from run to run, so tokens from two runs differ too.
    run_key: u64,
}

impl Endpoint {
    fn handle(&self, request: &Request) -> Response {
        let response = self.answer(request);
        // Method and path only: the query, the headers and the body may hold secrets.
        // Ignore failures: a closed stderr must not make the handler panic.
        let _ = writeln!(
            std::io::stderr(),
            "{} {} {} -> {}",
            request.peer,
            request.method.escape_debug(),
            request.path().escape_debug(),
            response.status
        );
        response
    }

    fn answer(&self, request: &Request) -> Response {
        if request.path() != "/api/token" {
            return Response::json(404, r#"{"error":{"status":404,"message":"Not found"}}"#);
        }
        if request.method != "POST" {
            return Response::json(
                405,
                r#"{"error":{"status":405,"message":"Method not allowed"}}"#,
            )
            .with_header("Allow", "POST");
        }

        let grant_type_missing = || {
            Response::json(
                400,
                r#"{"error":"unsupported_grant_type","error_description":"grant_type parameter is missing"}"#,
            )
        };
        let is_form = request.header("content-type").is_some_and(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        if !is_form {
            return grant_type_missing();
        }
        let form = request.form();
        let field = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        match field("grant_type") {
            None | Some("") => return grant_type_missing(),
            Some("client_credentials") => {}
            Some(_) => {
                return Response::json(
                    400,
                    r#"{"error":"unsupported_grant_type","error_description":"grant_type must be client_credentials, authorization_code or refresh_token"}"#,
                )
            }
        }

        let invalid_client = || {
            Response::json(
                400,
                r#"{"error":"invalid_client","error_description":"Invalid client"}"#,
            )
        };
        let uses_basic = request.header("authorization").is_some_and(|value| {
            value
                .trim_start()
                .get(..6)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic "))
        });
        let (id, secret) = if uses_basic {
            match request.basic_auth() {
                Some(credentials) => credentials,
                None => return Response::json(400, r#"{"error":"invalid_client"}"#),
            }
        } else {
            match (field("client_id"), field("client_secret")) {
                (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
                _ => return invalid_client(),
            }
        };
        // Compare both, without stopping at the first difference.
        let id_ok = same_bytes(id.as_bytes(), self.client_id.as_bytes());
        let secret_ok = same_bytes(secret.as_bytes(), self.client_secret.as_bytes());
        if !(id_ok & secret_ok) {
            return invalid_client();
        }

        let scope = match field("scope") {
            Some(scope) if !scope.is_empty() => format!(
                r#","scope":{}"#,
                serde_json::to_string(scope).expect("a string serialises")
            ),
            _ => String::new(),
        };
        let body = format!(
            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":{}{scope}}}"#,
            self.new_token(),
            self.expires_in
        );
        Response::json(200, &body)
            .with_header("Cache-Control", "no-store")
            .with_header("Pragma", "no-cache")
    }

    /// A random-looking token of 64 base64url characters. The first 8 of its 48 bytes are
    /// a bijective mix of a counter, so tokens from one run never repeat; the rest mix in
    /// the clock. Not cryptographically random: this is a development stand-in.
    fn new_token(&self) -> String {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let mut state = mix64(nanos_since_epoch() ^ self.run_key.rotate_left(17) ^ n);
        let mut bytes = Vec::with_capacity(48);
        bytes.extend_from_slice(&mix64(n ^ self.run_key).to_le_bytes());
        for _ in 0..5 {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            bytes.extend_from_slice(&mix64(state).to_le_bytes());
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// The SplitMix64 finaliser: a bijection on `u64` that scatters its input's bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn nanos_since_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Byte equality whose running time does not depend on where the inputs differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes `port` to `path` through a temporary file and a rename, so a reader polling
/// for the file never sees it half-written.
fn write_port_file(path: &PathBuf, port: u16) -> std::io::Result<()> {
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&tmp, port.to_string())?;
    std::fs::rename(&tmp, path)
}

fn main() -> ExitCode {
    let settings = match parse_args(std::env::args().skip(1)) {
        Ok(Some(settings)) => settings,
        Ok(None) => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("token_endpoint: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let endpoint = Endpoint {
        client_id: settings.client_id,
        client_secret: settings.client_secret,
        expires_in: settings.expires_in,
        issued: AtomicU64::new(0),
        run_key: mix64(nanos_since_epoch() ^ u64::from(std::process::id()) << 32),
    };
    let server = match Server::bind(&settings.addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("token_endpoint: cannot listen on {}: {e}", settings.addr);
            return ExitCode::FAILURE;
        }
    };

    if let Some(path) = &settings.port_file {
        if let Err(e) = write_port_file(path, server.port()) {
            eprintln!("token_endpoint: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    // Ignore failures: serving must not depend on anyone reading stdout.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "token endpoint listening on {}",
        server.url("/api/token")
    );
    let _ = stdout.flush();
    server.run(move |request| endpoint.handle(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint {
            client_id: "id".into(),
            client_secret: "secret".into(),
            expires_in: 60,
            issued: AtomicU64::new(0),
            run_key: 7,
        }
    }

    fn post(body: &str, authorization: Option<&str>) -> Request {
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        if let Some(value) = authorization {
            headers.push(("authorization".to_owned(), value.to_owned()));
        }
        Request {
            peer: "127.0.0.1:1".parse().unwrap(),
            method: "POST".into(),
            target: "/api/token".into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    #[test]
    fn answers_as_spotify_does() {
        let e = endpoint();
        let ok = e.answer(&post(
            "grant_type=client_credentials&scope=a+b",
            Some(&basic("id", "secret")),
        ));
        assert_eq!(ok.status, 200);
        let ok = e.answer(&post(
            "grant_type=client_credentials&client_id=id&client_secret=secret",
            None,
        ));
        assert_eq!(ok.status, 200);
        let wrong = e.answer(&post(
            "grant_type=client_credentials",
            Some(&basic("id", "nope")),
        ));
        assert_eq!(wrong.status, 400);
        let no_grant = e.answer(&post("scope=x", Some(&basic("id", "secret"))));
        assert_eq!(no_grant.status, 400);
        let mut get = post("", None);
        get.method = "GET".into();
        assert_eq!(e.answer(&get).status, 405);
        let mut elsewhere = post("", None);
        elsewhere.target = "/other".into();
        assert_eq!(e.answer(&elsewhere).status, 404);
    }

    #[test]
    fn tokens_never_repeat() {
        let e = endpoint();
        let a = e.new_token();
        let b = e.new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn command_line() {
        let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        let s = args(&[
            "--addr=127.0.0.1:0",
            "--expires-in",
            "5",
            "--client-id",
            "c",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (s.addr.as_str(), s.expires_in, s.client_id.as_str()),
            ("127.0.0.1:0", 5, "c")
        );
        assert!(args(&["--help"]).unwrap().is_none());
        assert!(args(&["--expires-in", "x"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }
}
