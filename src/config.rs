//! Configuration: who we are (client id and secret), where the token endpoint is, and how to
//! reach it. Built in code, from a JSON file, or from the environment. Every setter validates.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::auth::AuthStyle;
use crate::auth::ClientAuth;
use crate::error::{Error, Result};
use crate::files::{read_file, MAX_CONFIG_FILE_BYTES};
use crate::hooks::Logger;
use crate::redis_url::RedisTarget;
use crate::secret::{Secret, Text};
use crate::url_rules::{check_url, parse_proxy_url};

/// Spotify's accounts service token endpoint: what `oauth2cc_authenticate` (the Python pytify
/// client's one call) uses; a config has no token URL until one is set.
pub const SPOTIFY_TOKEN_URL: &str = "https://accounts.spotify.com/api/token";
/// Default whole-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default connection set-up timeout (TCP, proxy, TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of seconds before expiry at which a cached token counts as expired.
pub const DEFAULT_EXPIRY_LEEWAY: u32 = 60;
/// Default shortest time between two token requests of a client while the server keeps
/// issuing tokens that expire at once (`expires_in: 0`).
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Default shortest time between two refreshes that an API's 401 causes.
pub const DEFAULT_UNAUTHORIZED_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Default cap on an API response body read by [`crate::Client::get`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Parameter names the library manages itself; `add_param` refuses them.
pub const MANAGED_PARAMS: [&str; 6] = [
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "client_assertion",
    "client_assertion_type",
];

/// How an environment variable's text becomes the value of its JSON key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VarKind {
    /// As it is (strings and paths).
    Text,
    /// A whole number.
    Number,
    /// `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`.
    Bool,
    /// Form-encoded pairs, `audience=x&resource=y`.
    Params,
}

/// Every key of the JSON configuration file, and how its environment variable,
/// `OAUTH2CC_<KEY>` (upper case), is read: one table for both, checked against the file's
/// keys by a test.
const ENV_KEYS: &[(&str, VarKind)] = &[
    ("client_id", VarKind::Text),
    ("client_secret", VarKind::Text),
    ("token_url", VarKind::Text),
    ("scope", VarKind::Text),
    ("auth_style", VarKind::Text),
    ("params", VarKind::Params),
    ("timeout_ms", VarKind::Number),
    ("connect_timeout_ms", VarKind::Number),
    ("user_agent", VarKind::Text),
    ("ca_file", VarKind::Text),
    ("proxy", VarKind::Text),
    ("expiry_leeway", VarKind::Number),
    ("max_retries", VarKind::Number),
    ("retry_max_wait_ms", VarKind::Number),
    ("cache_file", VarKind::Text),
    ("shared_cache", VarKind::Text),
    ("min_refresh_interval_ms", VarKind::Number),
    ("unauthorized_refresh_interval_ms", VarKind::Number),
    ("background_refresh", VarKind::Bool),
    ("max_response_bytes", VarKind::Number),
    ("private_key_file", VarKind::Text),
    ("private_key_pem", VarKind::Text),
    ("private_key_id", VarKind::Text),
    ("jwt_algorithm", VarKind::Text),
    ("jwt_audience", VarKind::Text),
    ("client_certificate_file", VarKind::Text),
    ("client_certificate_key_file", VarKind::Text),
    ("issuer", VarKind::Text),
    ("jwt_bearer", VarKind::Bool),
    ("jwt_bearer_subject", VarKind::Text),
    ("client_assertion_file", VarKind::Text),
    ("dpop", VarKind::Bool),
    ("dpop_key_file", VarKind::Text),
];

/// The environment variable of a JSON key: `timeout_ms` -> `OAUTH2CC_TIMEOUT_MS`.
pub fn env_var_name(key: &str) -> String {
    format!("OAUTH2CC_{}", key.to_ascii_uppercase())
}

/// Every environment variable [`Config::from_env`] reads, in the file's key order.
pub fn env_var_names() -> Vec<String> {
    ENV_KEYS.iter().map(|(key, _)| env_var_name(key)).collect()
}

/// Retry policy for the token request: on 429, 5xx, network errors and timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying (the default).
    pub max_retries: u32,
    /// The longest single wait, including a server's Retry-After.
    pub max_wait: Duration,
}

/// Everything needed to request a token. Cheap to clone; secrets are wiped when dropped and
/// redacted from `Debug`.
///
/// Not `PartialEq`, deliberately: nothing compares whole configurations, and what they are
/// growing to hold (a log callback with its userdata, key material) has no meaningful
/// equality. What identifies the token a config gets is the cache key (see `cache_file`).
#[derive(Clone)]
pub struct Config {
    pub(crate) client_id: Secret,
    pub(crate) auth: ClientAuth,
    /// None until set: credentials never go to a default third party.
    pub(crate) token_url: Option<Text>,
    pub(crate) scope: Option<Text>,
    pub(crate) params: Vec<(Text, Text)>,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) user_agent: Option<Text>,
    pub(crate) expiry_leeway: u32,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) proxy: Option<Secret>,
    pub(crate) retry: RetryPolicy,
    pub(crate) cache_file: Option<PathBuf>,
    pub(crate) shared_cache: Option<RedisTarget>,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) unauthorized_refresh_interval: Duration,
    pub(crate) log: Option<Logger>,
    pub(crate) background_refresh: bool,
    pub(crate) max_response_bytes: usize,
    pub(crate) issuer: Option<Text>,
    /// DPoP (RFC 9449): the key clients prove possession of; `None`: off.
    pub(crate) dpop: Option<crate::dpop::DpopKey>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("client_id", &self.client_id.expose())
            .field("auth", &self.auth)
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .field("params", &self.params)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("expiry_leeway", &self.expiry_leeway)
            .field("ca_file", &self.ca_file)
            .field("proxy", &self.proxy.as_ref().map(|_| "[redacted]"))
            .field("retry", &self.retry)
            .field("cache_file", &self.cache_file)
            .field(
                "shared_cache",
                &self.shared_cache.as_ref().map(RedisTarget::describe),
            )
            .field("min_refresh_interval", &self.min_refresh_interval)
            .field(
                "unauthorized_refresh_interval",
                &self.unauthorized_refresh_interval,
            )
            .field("log", &self.log)
            .field("background_refresh", &self.background_refresh)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("issuer", &self.issuer)
            .field("dpop", &self.dpop)
            .finish()
    }
}

fn text(value: &str, what: &str) -> Result<Text> {
    Text::new(value).ok_or_else(|| Error::invalid_argument(format!("{what} contains a NUL byte")))
}

/// Longest client id, client secret or user agent accepted: they travel in request headers,
/// which servers (and our HTTP stack) cap well below a megabyte.
pub const MAX_HEADER_FIELD_BYTES: usize = 16 * 1024;

fn non_empty_secret(value: &str, what: &str) -> Result<Secret> {
    if value.is_empty() {
        return Err(Error::invalid_argument(format!("{what} is empty")));
    }
    if value.len() > MAX_HEADER_FIELD_BYTES {
        return Err(Error::invalid_argument(format!(
            "{what} is longer than {MAX_HEADER_FIELD_BYTES} bytes"
        )));
    }
    Secret::new(value).ok_or_else(|| Error::invalid_argument(format!("{what} contains a NUL byte")))
}

fn millis(ms: u32, what: &str) -> Result<Duration> {
    if ms == 0 {
        return Err(Error::invalid_argument(format!(
            "{what} must be at least 1 ms"
        )));
    }
    Ok(Duration::from_millis(u64::from(ms)))
}

impl Config {
    /// Spotify's accounts service with every default: [`Config::new`] with the token URL set
    /// to [`SPOTIFY_TOKEN_URL`].
    pub fn spotify(client_id: &str, client_secret: &str) -> Result<Config> {
        let mut config = Config::new(client_id, client_secret)?;
        config.set_token_url(SPOTIFY_TOKEN_URL)?;
        Ok(config)
    }

    /// A configuration with every default and no token URL: set one with
    /// [`Config::set_token_url`] before requesting a token (a request without one is
    /// CONFIG; credentials never go to a default third party). The id and the secret must
    /// be non-empty.
    pub fn new(client_id: &str, client_secret: &str) -> Result<Config> {
        Config::with_optional_secret(client_id, Some(client_secret))
    }

    /// [`Config::new`] for a client that may have no secret: one that authenticates with a
    /// private key ([`Config::set_private_key_file`]) or a client certificate.
    pub fn with_optional_secret(client_id: &str, client_secret: Option<&str>) -> Result<Config> {
        Ok(Config {
            client_id: non_empty_secret(client_id, "client_id")?,
            auth: ClientAuth::new(
                client_secret
                    .map(|s| non_empty_secret(s, "client_secret"))
                    .transpose()?,
            ),
            token_url: None,
            scope: None,
            params: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: None,
            expiry_leeway: DEFAULT_EXPIRY_LEEWAY,
            ca_file: None,
            proxy: None,
            retry: RetryPolicy::default(),
            cache_file: None,
            shared_cache: None,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            unauthorized_refresh_interval: DEFAULT_UNAUTHORIZED_REFRESH_INTERVAL,
            log: None,
            background_refresh: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            issuer: None,
            dpop: None,
        })
    }

    /// Reads a JSON configuration file. Keys: `client_id`, `client_secret` (required),
    /// `token_url`, `scope`, `auth_style` (`"basic"`, `"post_body"`, `"auto"`,
    /// `"private_key_jwt"`, `"client_secret_jwt"`, `"tls_client"`), `params`
    /// (object of strings), `timeout_ms`, `connect_timeout_ms`, `user_agent`, `ca_file`,
    /// `proxy`, `expiry_leeway`, `max_retries`, `retry_max_wait_ms`, `cache_file`,
    /// `max_response_bytes`, `private_key_file`, `private_key_pem`, `private_key_id`,
    /// `jwt_algorithm`, `jwt_audience`, `shared_cache`, `jwt_bearer`, `jwt_bearer_subject`,
    /// `client_assertion_file`, `dpop`, `dpop_key_file`. `client_secret` may be left out when
    /// a private key, a certificate or an assertion file is given. A Google service-account
    /// key file (`"type": "service_account"`) is read as the JWT bearer grant. An unknown key is an error naming it. A relative `ca_file` or
    /// `cache_file` is taken relative to the configuration file's folder.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let bytes = read_file(path, "config file", MAX_CONFIG_FILE_BYTES)?;
        Config::from_json_bytes(&bytes, path.parent().unwrap_or(Path::new("")))
            .map_err(|e| e.context(&format!("config file {}: ", path.display())))
    }

    /// [`Config::from_file`] on bytes already read: the same keys and checks, with a relative
    /// `ca_file` or `cache_file` taken relative to `base`. Messages do not name a file.
    pub fn from_json_bytes(bytes: &[u8], base: &Path) -> Result<Config> {
        if crate::jwt_bearer::is_service_account(bytes) {
            return Config::from_service_account(bytes);
        }
        let file: ConfigFile =
            serde_json::from_slice(bytes).map_err(|e| Error::config(json_error_message(&e)))?;
        file.into_config(base)
    }

    /// Reads the configuration from the environment: one `OAUTH2CC_<KEY>` variable per key
    /// of the JSON file ([`env_var_names`]), read as that key: `OAUTH2CC_CLIENT_ID`,
    /// `OAUTH2CC_CLIENT_SECRET` (required unless a private key or client certificate is
    /// named), `OAUTH2CC_TOKEN_URL`, `OAUTH2CC_TIMEOUT_MS`, `OAUTH2CC_BACKGROUND_REFRESH`
    /// (`true`/`false`), `OAUTH2CC_PARAMS` (form-encoded, `audience=x&resource=y`), and so on.
    /// An empty variable counts as unset; relative paths are relative to the working folder.
    pub fn from_env() -> Result<Config> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] over any source of variables (testable without touching the
    /// process environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut fields = serde_json::Map::new();
        for (key, kind) in ENV_KEYS {
            let name = env_var_name(key);
            let Some(raw) = var(&name).map(zeroize::Zeroizing::new) else {
                continue;
            };
            if raw.is_empty() {
                continue;
            }
            fields.insert((*key).to_string(), env_value(&name, *kind, raw)?);
        }
        if !fields.contains_key("client_id") {
            if let Some(azure) = crate::assertion_file::azure_workload_identity(&var)? {
                for (key, value) in azure {
                    // An OAUTH2CC_ variable set beside them wins (OAUTH2CC_TOKEN_URL).
                    fields.entry(key).or_insert(value);
                }
            } else if let Some(path) =
                var("GOOGLE_APPLICATION_CREDENTIALS").filter(|p| !p.is_empty())
            {
                let mut c = Config::from_file(&path)
                    .map_err(|e| e.context("GOOGLE_APPLICATION_CREDENTIALS: "))?;
                c.set_scope(var("OAUTH2CC_SCOPE").as_deref())?;
                return Ok(c);
            } else {
                return Err(Error::config(
                    "environment variable OAUTH2CC_CLIENT_ID is not set (nor AZURE_CLIENT_ID, \
                     AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE, nor \
                     GOOGLE_APPLICATION_CREDENTIALS)",
                ));
            }
        }
        let keyed = [
            "private_key_file",
            "private_key_pem",
            "client_certificate_file",
            "client_assertion_file",
        ]
        .iter()
        .any(|k| fields.contains_key(*k));
        if !fields.contains_key("client_secret") && !keyed {
            return Err(Error::config(
                "environment variable OAUTH2CC_CLIENT_SECRET is not set (nor a private key \
                 or client certificate file)",
            ));
        }
        // A failure names the variables that were read (the values may be secrets), and
        // speaks of variables where the file's messages speak of keys.
        let read: Vec<String> = fields.keys().map(|k| env_var_name(k)).collect();
        let context = format!("from the environment ({}): ", read.join(", "));
        let in_env = |e: Error| e.map_message(keys_as_variables).context(&context);
        // Moved, not copied, into the file's fields (the secrets into wiped strings).
        let file: ConfigFile = serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| in_env(Error::config(json_error_message(&e))))?;
        file.into_config(Path::new("")).map_err(in_env)
    }

    /// The token endpoint. `https://`, or `http://` to a loopback host only.
    pub fn set_token_url(&mut self, url: &str) -> Result<()> {
        check_url(url, "token_url")?;
        self.token_url = Some(text(url, "token_url")?);
        Ok(())
    }

    /// Space-separated scopes; `None` or an empty string clears.
    pub fn set_scope(&mut self, scope: Option<&str>) -> Result<()> {
        self.scope = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(text(s, "scope")?),
            None => None,
        };
        Ok(())
    }

    /// How the client authenticates to the token endpoint (default [`AuthStyle::Basic`]).
    pub fn set_auth_style(&mut self, style: AuthStyle) {
        self.auth.set_style(style);
    }

    /// Adds a form parameter sent with every token request (`audience`, `resource`, ...).
    /// The same name may be added more than once (RFC 8707 allows several `resource`s).
    /// `grant_type`, `client_id`, `client_secret` and `scope` are refused.
    pub fn add_param(&mut self, name: &str, value: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::invalid_argument("parameter name is empty"));
        }
        if name
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(Error::invalid_argument(format!(
                "parameter name {name:?} contains whitespace or a control character"
            )));
        }
        // Compared as a lenient server would: `GRANT_TYPE` must not smuggle a second one.
        if MANAGED_PARAMS.iter().any(|m| m.eq_ignore_ascii_case(name)) {
            return Err(Error::invalid_argument(format!(
                "parameter {name} is managed by the library and cannot be overridden"
            )));
        }
        self.params.push((
            text(name, "parameter name")?,
            text(value, "parameter value")?,
        ));
        Ok(())
    }

    /// Whole-request timeout, at least 1 ms (default 30 s).
    pub fn set_timeout_ms(&mut self, ms: u32) -> Result<()> {
        self.timeout = millis(ms, "timeout")?;
        Ok(())
    }

    /// Connection set-up timeout, at least 1 ms (default 10 s): TCP connect, proxy handshake
    /// and TLS handshake together.
    pub fn set_connect_timeout_ms(&mut self, ms: u32) -> Result<()> {
        self.connect_timeout = millis(ms, "connect timeout")?;
        Ok(())
    }

    /// A PEM file of CA certificates trusted for this configuration *instead of* the default
    /// roots (the system's; see [`crate::transport`]). Read and checked here, and again when a
    /// transport is made from the config; a missing or unusable file is CONFIG naming it.
    pub fn set_ca_file(&mut self, path: &str) -> Result<()> {
        if path.is_empty() {
            return Err(Error::invalid_argument("ca_file is empty"));
        }
        crate::files::load_ca_file(Path::new(path))?;
        self.ca_file = Some(PathBuf::from(path));
        Ok(())
    }

    /// A proxy (`http://`, `https://`, `socks5://`, `socks5h://`, optional `user:password@`).
    /// `None` goes back to the environment's proxy, read as curl reads it (`https_proxy`,
    /// `HTTPS_PROXY`, `http_proxy`, `all_proxy`, `ALL_PROXY`). `NO_PROXY` applies either way.
    pub fn set_proxy(&mut self, proxy: Option<&str>) -> Result<()> {
        self.proxy = match proxy.filter(|p| !p.is_empty()) {
            Some(p) => {
                parse_proxy_url(p, "proxy")?;
                Some(
                    Secret::new(p)
                        .ok_or_else(|| Error::invalid_argument("proxy contains a NUL byte"))?,
                )
            }
            None => None,
        };
        Ok(())
    }

    /// `User-Agent` sent with every request (default `oauth2cc/<version>`).
    pub fn set_user_agent(&mut self, user_agent: &str) -> Result<()> {
        if user_agent.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(Error::invalid_argument(
                "user_agent contains a control character",
            ));
        }
        if user_agent.len() > MAX_HEADER_FIELD_BYTES {
            return Err(Error::invalid_argument(format!(
                "user_agent is longer than {MAX_HEADER_FIELD_BYTES} bytes"
            )));
        }
        self.user_agent = Some(text(user_agent, "user_agent")?);
        Ok(())
    }

    /// Seconds before expiry at which a client replaces its token (default 60), capped at half
    /// the token's lifetime.
    pub fn set_expiry_leeway(&mut self, seconds: u32) {
        self.expiry_leeway = seconds;
    }

    /// Retries on 429, 5xx, network errors and timeouts (default none).
    pub fn set_retries(&mut self, max_retries: u32, max_wait_ms: u32) {
        self.retry = RetryPolicy {
            max_retries,
            max_wait: Duration::from_millis(u64::from(max_wait_ms)),
        };
    }

    /// A file in which a [`crate::Client`] keeps its token between processes.
    pub fn set_cache_file(&mut self, path: Option<&str>) -> Result<()> {
        self.cache_file = path.filter(|p| !p.is_empty()).map(PathBuf::from);
        Ok(())
    }

    /// A Redis (or Valkey) server that the clients of every process share their token
    /// through, with one refresher in the fleet: `redis://[user:password@]host[:port][/db]`,
    /// or `rediss://...` for TLS (checked against the token endpoint's trust: the CA file,
    /// else the system's). `None` or `""` turns it off. A bad URL is CONFIG; Redis being
    /// unreachable later never fails a request (the client then fetches directly). See
    /// README "Running many processes".
    pub fn set_shared_cache(&mut self, url: Option<&str>) -> Result<()> {
        self.shared_cache = match url.filter(|u| !u.is_empty()) {
            Some(url) => Some(RedisTarget::parse(url)?),
            None => None,
        };
        Ok(())
    }

    /// The shortest time a client keeps a token before asking for another (default 1 s;
    /// 0 turns the floor off): a server that issues tokens expiring at once
    /// (`expires_in: 0`) gets at most one request per interval from each client, not one per
    /// call. The token is handed out meanwhile.
    pub fn set_min_refresh_interval_ms(&mut self, ms: u32) {
        self.min_refresh_interval = Duration::from_millis(u64::from(ms));
    }

    /// The shortest time between two refreshes caused by an API answering 401 (default
    /// 5 s; 0: every 401 refreshes). The first 401 always refreshes and resends; a 401 within
    /// the interval after that refresh is returned to the caller as it is, so an API that
    /// always answers 401 cannot turn a client into a token-endpoint flood.
    pub fn set_unauthorized_refresh_interval_ms(&mut self, ms: u32) {
        self.unauthorized_refresh_interval = Duration::from_millis(u64::from(ms));
    }

    /// Where clients and requests made with this config log, and up to which level; `None`
    /// logs nowhere unless `OAUTH2CC_LOG` (`error`, `warn`, `info`, `debug`) asks for stderr.
    /// Lines never hold a secret.
    pub fn set_log(&mut self, log: Option<Logger>) {
        self.log = log;
    }

    /// Whether a client refreshes its token in the background before it is due, so callers
    /// never wait after the first token (default off: a library does not start threads
    /// unasked). One thread per process serves every such client; dropping a client's last
    /// handle waits for its refresh in flight (see `client::background`).
    pub fn set_background_refresh(&mut self, enabled: bool) {
        self.background_refresh = enabled;
    }

    /// The largest API response body [`crate::Client::get`] reads (default 16 MiB).
    pub fn set_max_response_bytes(&mut self, bytes: usize) -> Result<()> {
        if bytes == 0 {
            return Err(Error::invalid_argument(
                "max_response_bytes must be at least 1",
            ));
        }
        self.max_response_bytes = bytes;
        Ok(())
    }

    // --- Key-based client authentication (private_key_jwt, client_secret_jwt) ---

    /// The private key that signs client assertions (private_key_jwt), from a PEM file:
    /// PKCS#8 (RSA, P-256, P-384, Ed25519), PKCS#1 RSA or SEC1 EC, not encrypted. `key_id`
    /// goes in the assertion's `kid` header. Without an explicit auth style, a config with a
    /// key uses [`AuthStyle::PrivateKeyJwt`]. Unreadable, encrypted, not a key, an RSA key
    /// under 2048 bits, or not fitting the algorithm set: CONFIG naming the file, never the key.
    pub fn set_private_key_file(&mut self, path: &str, key_id: Option<&str>) -> Result<()> {
        if path.is_empty() {
            return Err(Error::invalid_argument("private key path is empty"));
        }
        let key = crate::jwt::PrivateKey::from_file(Path::new(path), key_id)?;
        self.auth.set_private_key(key)
    }

    /// [`Config::set_private_key_file`] with the PEM text itself.
    pub fn set_private_key_pem(&mut self, pem: &str, key_id: Option<&str>) -> Result<()> {
        let key =
            crate::jwt::PrivateKey::from_pem(pem.as_bytes(), "the PEM private key".into(), key_id)?;
        self.auth.set_private_key(key)
    }

    /// The assertion's algorithm: `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`,
    /// `ES256`, `ES384`, `EdDSA` (or `HS256` for client_secret_jwt). `None`: the key's
    /// (RSA: RS256, P-256: ES256, P-384: ES384, Ed25519: EdDSA). An unknown name is
    /// INVALID_ARGUMENT; one that does not fit the key is CONFIG.
    pub fn set_jwt_algorithm(&mut self, alg: Option<&str>) -> Result<()> {
        let alg = match alg.filter(|a| !a.is_empty()) {
            Some(name) => Some(crate::jwt::JwtAlgorithm::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = crate::jwt::JwtAlgorithm::ALL
                    .iter()
                    .map(|a| a.name())
                    .collect();
                let shown = if name.len() <= 32 { name } else { "given" };
                Error::invalid_argument(format!(
                    "jwt algorithm {shown:?} is not one of {}",
                    names.join(", ")
                ))
            })?),
            None => None,
        };
        self.auth.set_jwt_algorithm(alg)
    }

    /// The assertion's `aud`. `None` (the default): the URL the request is sent to (the token
    /// endpoint, or its mutual-TLS alias). Some servers want the issuer instead.
    pub fn set_jwt_audience(&mut self, audience: Option<&str>) -> Result<()> {
        let audience = match audience.filter(|a| !a.is_empty()) {
            Some(a) => Some(text(a, "jwt audience")?),
            None => None,
        };
        self.auth.set_jwt_audience(audience);
        Ok(())
    }

    // --- The JWT bearer grant and client assertions from a file (issue 23) ---

    /// Uses the JWT bearer grant (RFC 7523 §2.1) instead of client credentials:
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an `assertion` signed
    /// with the private key at each request: `iss` = client id, `sub` = `subject` (the client
    /// id when `None` or empty), `aud` = the JWT audience when set, else the token URL, `iat`,
    /// `exp` (60 s later), a fresh `jti`, `kid` = the key's id. The scope travels in the form,
    /// but for a Google service account's key file, whose `scope` claim this keeps (a subject
    /// set here is then Google's domain-wide delegation). No client authentication is added
    /// unless a client secret, an assertion file or an explicit auth style asks for it. A
    /// request without a private key is CONFIG.
    pub fn set_jwt_bearer(&mut self, subject: Option<&str>) -> Result<()> {
        let subject = match subject.filter(|s| !s.is_empty()) {
            Some(s) => Some(text(s, "jwt bearer subject")?),
            None => None,
        };
        let scope_in_assertion = self.auth.jwt_bearer().is_some_and(|b| b.scope_in_assertion);
        self.auth.set_jwt_bearer(Some(crate::jwt_bearer::JwtBearer {
            subject,
            scope_in_assertion,
        }));
        Ok(())
    }

    /// Whether the JWT bearer grant is used, and its subject when one is set.
    pub fn jwt_bearer(&self) -> Option<Option<&str>> {
        self.auth
            .jwt_bearer()
            .map(|b| b.subject.as_ref().map(Text::as_str))
    }

    /// Authenticates with a client assertion someone else made (a Kubernetes service-account
    /// token, Entra workload identity's federated token): `client_assertion_type=urn:ietf:
    /// params:oauth:client-assertion-type:jwt-bearer`, `client_assertion` = the file's text,
    /// trimmed, read at every token request (the platform rotates it), and `client_id`. It
    /// replaces the secret for authentication unless another auth style is set explicitly.
    /// Nothing is read now: a missing, empty or malformed file is CONFIG at the request.
    /// `None` or empty: no file.
    pub fn set_client_assertion_file(&mut self, path: Option<&str>) -> Result<()> {
        self.auth
            .set_assertion_file(path.filter(|p| !p.is_empty()).map(Path::new));
        Ok(())
    }

    /// The client assertion file, if one is set.
    pub fn client_assertion_file(&self) -> Option<&Path> {
        self.auth.assertion_file()
    }

    /// A config from a Google service-account key file's JSON (`"type": "service_account"`):
    /// client id = `client_email`, the JWT bearer grant with `iss` = `sub` = `client_email`,
    /// `aud` = the token URL = `token_uri`, `kid` = `private_key_id`, RS256 with
    /// `private_key`, and the scope in a `scope` claim.
    fn from_service_account(bytes: &[u8]) -> Result<Config> {
        let account = crate::jwt_bearer::ServiceAccount::parse(bytes)?;
        let email = account.client_email.as_deref().unwrap_or_default();
        let mut c = Config::with_optional_secret(email, None)
            .map_err(|e| e.context("service-account key file: client_email: "))?;
        c.set_token_url(
            account
                .token_uri
                .as_deref()
                .unwrap_or(crate::jwt_bearer::GOOGLE_TOKEN_URI),
        )?;
        let pem = account.private_key.as_deref().map_or("", String::as_str);
        let key = crate::jwt::PrivateKey::from_pem(
            pem.as_bytes(),
            "the service account's private_key".into(),
            account.private_key_id.as_deref().filter(|k| !k.is_empty()),
        )?;
        c.auth.set_private_key(key)?;
        c.set_jwt_algorithm(Some("RS256"))?;
        c.auth.set_jwt_bearer(Some(crate::jwt_bearer::JwtBearer {
            subject: None,
            scope_in_assertion: true,
        }));
        Ok(c)
    }

    // --- DPoP (RFC 9449) ---

    /// Turns DPoP on (a fresh P-256 key per client, ES256) or off. Setting it off also drops
    /// a key set by [`Config::set_dpop_key_file`]; setting it on keeps that key. A client
    /// with a key of its own uses neither the cache file nor the shared cache.
    pub fn set_dpop(&mut self, enabled: bool) {
        self.dpop = match (enabled, self.dpop.take()) {
            (false, _) => None,
            (true, Some(key)) => Some(key),
            (true, None) => Some(crate::dpop::DpopKey::Generated),
        };
    }

    /// DPoP with the key in a PEM file (read now): RSA (PS256), P-256 (ES256), P-384 (ES384)
    /// or Ed25519 (EdDSA); turns DPoP on. CONFIG naming the file as for a private key.
    pub fn set_dpop_key_file(&mut self, path: &str) -> Result<()> {
        if path.is_empty() {
            return Err(Error::invalid_argument("DPoP key path is empty"));
        }
        let key = crate::jwt::PrivateKey::from_file(Path::new(path), None)?;
        self.dpop = Some(crate::dpop::DpopKey::File(std::sync::Arc::new(key)));
        Ok(())
    }

    /// Whether DPoP is on.
    pub fn dpop(&self) -> bool {
        self.dpop.is_some()
    }

    // --- Discovery (RFC 8414, OpenID Connect Discovery) ---

    /// The authorization server's issuer identifier (`https://`, or `http://` to loopback):
    /// a client then takes the token endpoint (and, with a client certificate, its mutual-TLS
    /// alias) and the auth methods AUTO picks from from the issuer's metadata, fetched at its
    /// first token request, instead of the token URL. `None` or `""` turns discovery off.
    pub fn set_issuer(&mut self, issuer: Option<&str>) -> Result<()> {
        self.issuer = match issuer.filter(|i| !i.is_empty()) {
            Some(url) => {
                check_url(url, "issuer")?;
                Some(text(url, "issuer")?)
            }
            None => None,
        };
        Ok(())
    }

    /// The issuer whose metadata gives the token endpoint, if one is set.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_ref().map(Text::as_str)
    }

    // --- Mutual TLS (RFC 8705) ---

    /// The TLS client certificate: a PEM chain (leaf first) and its PEM private key, read
    /// now and presented on every TLS connection to the token endpoint and the API. Without
    /// an explicit auth style, a config with a certificate, no private key and no secret uses
    /// [`AuthStyle::TlsClient`]. With [`AuthStyle::PrivateKeyJwt`], the certificate's
    /// thumbprints go in the assertion header (`x5t#S256`, `x5t`), and its key signs when no
    /// private key is set (Entra ID's certificate credentials). Unreadable files, no
    /// certificate, or an unusable key: CONFIG naming the file.
    pub fn set_client_certificate_file(&mut self, chain_path: &str, key_path: &str) -> Result<()> {
        if chain_path.is_empty() || key_path.is_empty() {
            return Err(Error::invalid_argument(
                "client certificate and key paths must not be empty",
            ));
        }
        let cert = crate::client_cert::ClientCertificate::from_files(
            Path::new(chain_path),
            Path::new(key_path),
        )?;
        self.auth.set_certificate(cert);
        Ok(())
    }

    /// The client certificate's file, if one is set.
    pub fn client_certificate(&self) -> Option<&str> {
        self.auth.certificate().map(|c| c.source())
    }

    /// The private key's source (its file, or "the PEM private key") and key id, if any.
    pub fn private_key(&self) -> Option<(&str, Option<&str>)> {
        self.auth.private_key().map(|k| (k.source(), k.key_id()))
    }

    /// The assertion algorithm set, if any.
    pub fn jwt_algorithm(&self) -> Option<&'static str> {
        self.auth.jwt_algorithm().map(|a| a.name())
    }

    /// The assertion audience set, if any.
    pub fn jwt_audience(&self) -> Option<&str> {
        self.auth.jwt_audience()
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        self.client_id.expose()
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> Option<&str> {
        self.token_url.as_ref().map(Text::as_str)
    }

    /// The token endpoint URL, or CONFIG with a message that says how to set one.
    pub(crate) fn require_token_url(&self) -> Result<&str> {
        self.token_url().ok_or_else(|| {
            Error::config(
                "no token URL is set: set one (oauth2cc_config_set_token_url, the JSON key \
                 token_url, or OAUTH2CC_TOKEN_URL); for Spotify, OAUTH2CC_SPOTIFY_TOKEN_URL \
                 (https://accounts.spotify.com/api/token)",
            )
        })
    }

    /// The scope sent with the request, if any.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_ref().map(Text::as_str)
    }

    /// How the client authenticates to the token endpoint.
    pub fn auth_style(&self) -> AuthStyle {
        self.auth.style()
    }

    /// The extra form parameters, in the order added.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The whole-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The connection set-up timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The `User-Agent` set, if any (else `oauth2cc/<version>`).
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_ref().map(Text::as_str)
    }

    /// Seconds before expiry at which a client replaces its token.
    pub fn expiry_leeway(&self) -> u32 {
        self.expiry_leeway
    }

    /// The CA file trusted instead of the defaults, if any.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The retry policy of the token request.
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// The token cache file, if any.
    pub fn cache_file(&self) -> Option<&Path> {
        self.cache_file.as_deref()
    }

    /// The shared cache's server, if any.
    pub(crate) fn shared_cache(&self) -> Option<&RedisTarget> {
        self.shared_cache.as_ref()
    }

    /// The shortest time a client keeps a token before asking for another.
    pub fn min_refresh_interval(&self) -> Duration {
        self.min_refresh_interval
    }

    /// The shortest time between two refreshes caused by an API's 401.
    pub fn unauthorized_refresh_interval(&self) -> Duration {
        self.unauthorized_refresh_interval
    }

    /// Whether clients refresh their token in a background thread.
    pub fn background_refresh(&self) -> bool {
        self.background_refresh
    }

    /// The largest API response body read.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
}

/// The auth style named `name`, or CONFIG listing the names.
fn style_named(name: &str) -> Result<AuthStyle> {
    AuthStyle::from_name(name).ok_or_else(|| {
        Error::config(format!(
            "auth_style {name:?} is not one of {}",
            AuthStyle::names()
        ))
    })
}

/// `message` with each JSON key that stands as a word replaced by its environment variable
/// (`token_url has no host` -> `OAUTH2CC_TOKEN_URL has no host`).
fn keys_as_variables(message: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(message.len() + 32);
    let mut rest = message;
    while let Some(start) = rest.find(|c: char| is_word(c)) {
        out.push_str(&rest[..start]);
        let word_len = rest[start..]
            .find(|c: char| !is_word(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        match ENV_KEYS.iter().find(|(key, _)| *key == word) {
            Some((key, _)) => out.push_str(&env_var_name(key)),
            None => out.push_str(word),
        }
        rest = &rest[start + word_len..];
    }
    out.push_str(rest);
    out
}

/// The JSON value of environment variable `name` read as `kind`. Numbers and booleans that
/// do not parse are CONFIG naming the variable and the value (neither is a secret).
fn env_value(
    name: &str,
    kind: VarKind,
    mut raw: zeroize::Zeroizing<String>,
) -> Result<serde_json::Value> {
    use serde_json::Value;
    if kind == VarKind::Text {
        // The string itself moves on (no copy of a secret is left behind).
        return Ok(Value::String(std::mem::take(&mut *raw)));
    }
    let text = raw.trim();
    Ok(match kind {
        VarKind::Text => unreachable!("handled above"),
        VarKind::Number => Value::Number(
            text.parse::<u64>()
                .map_err(|_| {
                    Error::config(format!(
                        "environment variable {name} is not a whole number: {text:?}"
                    ))
                })?
                .into(),
        ),
        VarKind::Bool => Value::Bool(match text.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                return Err(Error::config(format!(
                    "environment variable {name} is not true or false: {text:?}"
                )))
            }
        }),
        VarKind::Params => {
            let mut pairs = serde_json::Map::new();
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| {
                    crate::form::form_decode(s).ok_or_else(|| {
                        Error::config(format!("environment variable {name} is not form-encoded"))
                    })
                };
                pairs.insert(decode(k)?, Value::String(decode(v)?));
            }
            Value::Object(pairs)
        }
    })
}

/// Turns a serde_json error into a message that names a bad key but never echoes a value
/// (a value may be the secret).
fn json_error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let keeps_names = [
        "unknown field",
        "missing field",
        "duplicate field",
        "unknown variant",
    ];
    if e.is_data() && keeps_names.iter().any(|p| text.starts_with(p)) {
        text
    } else {
        let what = if e.is_syntax() || e.is_eof() {
            "not valid JSON"
        } else {
            "a value has the wrong type"
        };
        format!("{what} at line {} column {}", e.line(), e.column())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    client_id: zeroize::Zeroizing<String>,
    client_secret: Option<zeroize::Zeroizing<String>>,
    token_url: Option<String>,
    scope: Option<String>,
    auth_style: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    timeout_ms: Option<u32>,
    connect_timeout_ms: Option<u32>,
    user_agent: Option<String>,
    ca_file: Option<PathBuf>,
    proxy: Option<zeroize::Zeroizing<String>>,
    expiry_leeway: Option<u32>,
    max_retries: Option<u32>,
    retry_max_wait_ms: Option<u32>,
    cache_file: Option<PathBuf>,
    shared_cache: Option<zeroize::Zeroizing<String>>,
    min_refresh_interval_ms: Option<u32>,
    unauthorized_refresh_interval_ms: Option<u32>,
    background_refresh: Option<bool>,
    max_response_bytes: Option<usize>,
    private_key_file: Option<PathBuf>,
    private_key_pem: Option<zeroize::Zeroizing<String>>,
    private_key_id: Option<String>,
    jwt_algorithm: Option<String>,
    jwt_audience: Option<String>,
    client_certificate_file: Option<PathBuf>,
    client_certificate_key_file: Option<PathBuf>,
    issuer: Option<String>,
    jwt_bearer: Option<bool>,
    jwt_bearer_subject: Option<String>,
    client_assertion_file: Option<PathBuf>,
    dpop: Option<bool>,
    dpop_key_file: Option<PathBuf>,
}

impl ConfigFile {
    fn into_config(self, base: &Path) -> Result<Config> {
        let secret = self.client_secret.as_ref().map(|s| s.as_str());
        let mut c = Config::with_optional_secret(&self.client_id, secret)?;
        if let Some(url) = &self.token_url {
            c.set_token_url(url)?;
        }
        c.set_scope(self.scope.as_deref())?;
        if let Some(style) = &self.auth_style {
            c.set_auth_style(style_named(style)?);
        }
        for (name, value) in &self.params {
            c.add_param(name, value)?;
        }
        if let Some(ms) = self.timeout_ms {
            c.set_timeout_ms(ms)?;
        }
        if let Some(ms) = self.connect_timeout_ms {
            c.set_connect_timeout_ms(ms)?;
        }
        if let Some(ua) = &self.user_agent {
            c.set_user_agent(ua)?;
        }
        if let Some(ca) = &self.ca_file {
            c.set_ca_file(&base.join(ca).to_string_lossy())?;
        }
        c.set_proxy(self.proxy.as_deref().map(String::as_str))?;
        if let Some(s) = self.expiry_leeway {
            c.set_expiry_leeway(s);
        }
        if self.max_retries.is_some() || self.retry_max_wait_ms.is_some() {
            c.set_retries(
                self.max_retries.unwrap_or(0),
                self.retry_max_wait_ms.unwrap_or(0),
            );
        }
        if let Some(cache) = &self.cache_file {
            c.set_cache_file(Some(&base.join(cache).to_string_lossy()))?;
        }
        c.set_shared_cache(self.shared_cache.as_deref().map(String::as_str))?;
        if let Some(ms) = self.min_refresh_interval_ms {
            c.set_min_refresh_interval_ms(ms);
        }
        if let Some(ms) = self.unauthorized_refresh_interval_ms {
            c.set_unauthorized_refresh_interval_ms(ms);
        }
        if let Some(enabled) = self.background_refresh {
            c.set_background_refresh(enabled);
        }
        if let Some(n) = self.max_response_bytes {
            c.set_max_response_bytes(n)?;
        }
        let kid = self.private_key_id.as_deref();
        if let Some(path) = &self.private_key_file {
            c.set_private_key_file(&base.join(path).to_string_lossy(), kid)?;
        }
        if let Some(pem) = &self.private_key_pem {
            c.set_private_key_pem(pem, kid)?;
        }
        c.set_jwt_algorithm(self.jwt_algorithm.as_deref())?;
        c.set_jwt_audience(self.jwt_audience.as_deref())?;
        match (
            &self.client_certificate_file,
            &self.client_certificate_key_file,
        ) {
            (Some(chain), Some(key)) => c.set_client_certificate_file(
                &base.join(chain).to_string_lossy(),
                &base.join(key).to_string_lossy(),
            )?,
            (None, None) => {}
            _ => {
                return Err(Error::config(
                    "client_certificate_file and client_certificate_key_file go together",
                ))
            }
        }
        c.set_issuer(self.issuer.as_deref())?;
        if self.jwt_bearer == Some(true) || self.jwt_bearer_subject.is_some() {
            c.set_jwt_bearer(self.jwt_bearer_subject.as_deref())?;
        }
        if let Some(path) = &self.client_assertion_file {
            c.set_client_assertion_file(Some(&base.join(path).to_string_lossy()))?;
        }
        if let Some(enabled) = self.dpop {
            c.set_dpop(enabled);
        }
        if let Some(path) = &self.dpop_key_file {
            c.set_dpop_key_file(&base.join(path).to_string_lossy())?;
        }
        let keyless = c.auth.private_key().is_none()
            && c.auth.certificate().is_none()
            && c.auth.assertion_file().is_none();
        if self.client_secret.is_none() && keyless {
            return Err(Error::config(
                "missing field `client_secret` (a client without one needs private_key_file, \
                 client_certificate_file or client_assertion_file)",
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth2cc_testkit::temp::TempFile;

    /// `e` is a `Config` error whose message holds each of `words`.
    fn assert_config_error(e: &Error, words: &[&str]) {
        assert_eq!(e.kind(), crate::ErrorKind::Config, "{}", e.message());
        for word in words {
            assert!(e.message().contains(word), "{}", e.message());
        }
    }

    /// [`Config::from_vars`] with these (name, value) variables and no other.
    fn from_env(vars: &[(&str, &str)]) -> Result<Config> {
        Config::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn defaults() {
        let c = Config::new("id", "secret").unwrap();
        assert_eq!(c.token_url(), None, "no default third party");
        assert_eq!(
            c.require_token_url().unwrap_err().kind(),
            crate::ErrorKind::Config
        );
        assert_eq!(
            Config::spotify("id", "secret").unwrap().token_url(),
            Some(SPOTIFY_TOKEN_URL)
        );
        assert_eq!(c.min_refresh_interval(), Duration::from_secs(1));
        assert_eq!(c.unauthorized_refresh_interval(), Duration::from_secs(5));
        assert_eq!(c.auth_style(), AuthStyle::Basic);
        assert_eq!(c.timeout(), Duration::from_secs(30));
        assert_eq!(c.expiry_leeway(), 60);
        assert_eq!(c.scope(), None);
    }

    #[test]
    fn empty_or_nul_credentials_are_invalid_arguments() {
        for (id, secret) in [("", "s"), ("i", ""), ("a\0b", "s"), ("i", "s\0")] {
            let e = Config::new(id, secret).unwrap_err();
            assert_eq!(
                e.kind(),
                crate::ErrorKind::InvalidArgument,
                "{id:?} {secret:?}"
            );
        }
    }

    #[test]
    fn header_fields_are_capped() {
        let long = "x".repeat(MAX_HEADER_FIELD_BYTES + 1);
        let fits = "x".repeat(MAX_HEADER_FIELD_BYTES);
        assert!(Config::new(&fits, &fits).is_ok());
        for (id, secret) in [(long.as_str(), "s"), ("i", long.as_str())] {
            let e = Config::new(id, secret).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert!(!e.message().contains("xxxx"), "{}", e.message());
        }
        let mut c = Config::new("i", "s").unwrap();
        assert_eq!(
            c.set_user_agent(&long).unwrap_err().kind(),
            crate::ErrorKind::InvalidArgument
        );
        c.set_user_agent(&fits).unwrap();
    }

    #[test]
    fn managed_params_are_refused() {
        let mut c = Config::new("id", "secret").unwrap();
        for name in [
            "grant_type",
            "client_id",
            "client_secret",
            "scope",
            "",
            "GRANT_TYPE",
            "Client_Secret",
            "grant_type ",
            " scope",
            "a\tb",
        ] {
            assert_eq!(
                c.add_param(name, "x").unwrap_err().kind(),
                crate::ErrorKind::InvalidArgument
            );
        }
        c.add_param("resource", "a").unwrap();
        c.add_param("resource", "b").unwrap();
        assert_eq!(
            c.params().collect::<Vec<_>>(),
            vec![("resource", "a"), ("resource", "b")]
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut c = Config::new("my-id", "my-very-secret").unwrap();
        c.set_proxy(Some("http://user:proxypass@127.0.0.1:3128"))
            .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("my-very-secret"), "{d}");
        assert!(!d.contains("proxypass"), "{d}");
        assert!(d.contains("my-id"));
    }

    #[test]
    fn from_vars() {
        let c = from_env(&[
            ("OAUTH2CC_CLIENT_ID", "id"),
            ("OAUTH2CC_CLIENT_SECRET", "secret"),
            ("OAUTH2CC_TOKEN_URL", "http://127.0.0.1:9/token"),
            ("OAUTH2CC_SCOPE", "a b"),
            ("OAUTH2CC_SHARED_CACHE", "redis://:pw@127.0.0.1:6390/3"),
        ])
        .unwrap();
        assert_eq!(c.client_id(), "id");
        assert_eq!(c.token_url(), Some("http://127.0.0.1:9/token"));
        assert_eq!(c.scope(), Some("a b"));
        assert_eq!(
            c.shared_cache().map(RedisTarget::describe).as_deref(),
            Some("redis://127.0.0.1:6390/3")
        );
        assert!(!format!("{c:?}").contains("pw@"), "{c:?}");
        let e = from_env(&[]).unwrap_err();
        assert_config_error(&e, &["OAUTH2CC_CLIENT_ID"]);
    }

    /// The environment and the JSON file know the same settings: every key of the file has
    /// its variable, and no variable is read that the file does not know. The file's keys
    /// come from serde's own list (the message for an unknown key).
    #[test]
    fn every_json_key_has_an_environment_variable() {
        let Err(e) = serde_json::from_str::<ConfigFile>(r#"{"no_such_key": 1}"#) else {
            panic!("an unknown key was accepted");
        };
        let message = e.to_string();
        let listed = message
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("{message}"));
        let mut file_keys: Vec<String> = listed
            .split(", ")
            .map(|k| k.split('`').nth(1).unwrap().to_string())
            .collect();
        let mut env_keys: Vec<String> = ENV_KEYS.iter().map(|(k, _)| k.to_string()).collect();
        file_keys.sort();
        env_keys.sort();
        assert_eq!(file_keys, env_keys);
        assert!(env_var_names().contains(&"OAUTH2CC_UNAUTHORIZED_REFRESH_INTERVAL_MS".into()));
    }

    #[test]
    fn every_setting_from_the_environment() {
        let c = from_env(&[
            ("OAUTH2CC_CLIENT_ID", "env-id"),
            ("OAUTH2CC_CLIENT_SECRET", "env-secret"),
            ("OAUTH2CC_TOKEN_URL", "http://127.0.0.1:9/token"),
            ("OAUTH2CC_AUTH_STYLE", "post_body"),
            ("OAUTH2CC_PARAMS", "audience=https%3A%2F%2Fapi&resource=r+1"),
            ("OAUTH2CC_TIMEOUT_MS", "1500"),
            ("OAUTH2CC_CONNECT_TIMEOUT_MS", " 700 "),
            ("OAUTH2CC_USER_AGENT", "env-agent/1"),
            ("OAUTH2CC_EXPIRY_LEEWAY", "7"),
            ("OAUTH2CC_MAX_RETRIES", "2"),
            ("OAUTH2CC_RETRY_MAX_WAIT_MS", "300"),
            ("OAUTH2CC_CACHE_FILE", "tok.json"),
            ("OAUTH2CC_MIN_REFRESH_INTERVAL_MS", "0"),
            ("OAUTH2CC_UNAUTHORIZED_REFRESH_INTERVAL_MS", "9000"),
            ("OAUTH2CC_BACKGROUND_REFRESH", "yes"),
            ("OAUTH2CC_MAX_RESPONSE_BYTES", "4096"),
            ("OAUTH2CC_SCOPE", ""),
        ])
        .unwrap();
        assert_eq!(c.auth_style(), AuthStyle::PostBody);
        assert_eq!(
            c.params().collect::<Vec<_>>(),
            vec![("audience", "https://api"), ("resource", "r 1")]
        );
        assert_eq!(c.timeout(), Duration::from_millis(1500));
        assert_eq!(c.connect_timeout(), Duration::from_millis(700));
        assert_eq!(c.user_agent(), Some("env-agent/1"));
        assert_eq!(c.expiry_leeway(), 7);
        assert_eq!(c.retry().max_retries, 2);
        assert_eq!(c.cache_file(), Some(Path::new("tok.json")));
        assert_eq!(c.min_refresh_interval(), Duration::ZERO);
        assert_eq!(c.unauthorized_refresh_interval(), Duration::from_secs(9));
        assert!(c.background_refresh());
        assert_eq!(c.max_response_bytes(), 4096);
        assert_eq!(c.scope(), None, "an empty variable is unset");

        let bad = |name: &str, value: &str| {
            from_env(&[
                ("OAUTH2CC_CLIENT_ID", "id"),
                ("OAUTH2CC_CLIENT_SECRET", "secret"),
                (name, value),
            ])
            .unwrap_err()
        };
        assert_config_error(
            &bad("OAUTH2CC_TIMEOUT_MS", "soon"),
            &["OAUTH2CC_TIMEOUT_MS", "soon"],
        );
        assert_config_error(
            &bad("OAUTH2CC_BACKGROUND_REFRESH", "maybe"),
            &["OAUTH2CC_BACKGROUND_REFRESH"],
        );
        let e = from_env(&[("OAUTH2CC_CLIENT_ID", "id")]).unwrap_err();
        assert_config_error(&e, &["OAUTH2CC_CLIENT_SECRET"]);
    }

    #[test]
    fn from_file_reads_every_key() {
        let path = TempFile::new(
            "full",
            "json",
            r#"{"client_id":"id","client_secret":"secret","token_url":"http://127.0.0.1:1/t",
                "scope":"s1 s2","auth_style":"post_body","params":{"audience":"aud"},
                "timeout_ms":1500,"connect_timeout_ms":500,"user_agent":"ua/1","expiry_leeway":5,
                "max_retries":2,"retry_max_wait_ms":100,"cache_file":"tok.json","max_response_bytes":1000,
                "shared_cache":"rediss://u:p@cache.internal:6380"}"#,
        );
        let c = Config::from_file(path.path()).unwrap();
        assert_eq!(c.token_url(), Some("http://127.0.0.1:1/t"));
        assert_eq!(c.scope(), Some("s1 s2"));
        assert_eq!(c.auth_style(), AuthStyle::PostBody);
        assert_eq!(c.params().collect::<Vec<_>>(), vec![("audience", "aud")]);
        assert_eq!(c.timeout(), Duration::from_millis(1500));
        assert_eq!(c.connect_timeout(), Duration::from_millis(500));
        assert_eq!(c.user_agent(), Some("ua/1"));
        assert_eq!(c.expiry_leeway(), 5);
        assert_eq!(
            c.retry(),
            RetryPolicy {
                max_retries: 2,
                max_wait: Duration::from_millis(100)
            }
        );
        assert_eq!(
            c.cache_file(),
            Some(path.parent().unwrap().join("tok.json").as_path())
        );
        assert_eq!(c.max_response_bytes(), 1000);
        assert_eq!(
            c.shared_cache().map(RedisTarget::describe).as_deref(),
            Some("rediss://cache.internal:6380/0")
        );
    }

    #[test]
    fn shared_cache_urls_are_checked_when_set() {
        let mut c = Config::new("id", "secret").unwrap();
        let e = c.set_shared_cache(Some("http://:hunter2@h")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(!e.message().contains("hunter2"), "{}", e.message());
        c.set_shared_cache(Some("redis://127.0.0.1:1")).unwrap();
        assert!(c.shared_cache().is_some());
        c.set_shared_cache(Some("")).unwrap();
        assert!(c.shared_cache().is_none());
        c.set_shared_cache(Some("redis://h")).unwrap();
        c.set_shared_cache(None).unwrap();
        assert!(c.shared_cache().is_none());
    }

    #[test]
    fn from_file_errors_name_the_problem_not_the_secret() {
        let unknown = TempFile::new(
            "unknown",
            "json",
            r#"{"client_id":"id","client_secret":"s","colour":"red"}"#,
        );
        let e = Config::from_file(unknown.path()).unwrap_err();
        assert_config_error(&e, &["unknown field `colour`"]);

        let wrong_type = TempFile::new(
            "type",
            "json",
            r#"{"client_id":"id","client_secret":"TOPSECRET","timeout_ms":"TOPSECRET"}"#,
        );
        let e = Config::from_file(wrong_type.path()).unwrap_err();
        assert!(!e.message().contains("TOPSECRET"), "{}", e.message());

        let style = TempFile::new(
            "style",
            "json",
            r#"{"client_id":"id","client_secret":"s","auth_style":"digest"}"#,
        );
        assert!(Config::from_file(style.path())
            .unwrap_err()
            .message()
            .contains("digest"));

        let http = TempFile::new(
            "http",
            "json",
            r#"{"client_id":"id","client_secret":"s","token_url":"http://example.com/t"}"#,
        );
        assert_eq!(
            Config::from_file(http.path()).unwrap_err().kind(),
            crate::ErrorKind::Config
        );

        let missing = Config::from_file("/nonexistent/oauth2cc.json").unwrap_err();
        assert_config_error(&missing, &["/nonexistent/oauth2cc.json"]);

        let broken = TempFile::new("broken", "json", "{not json");
        assert!(Config::from_file(broken.path())
            .unwrap_err()
            .message()
            .contains("not valid JSON"));
    }

    #[test]
    fn a_private_key_from_json_or_the_environment_replaces_the_secret() {
        let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys");
        let key = keys.join("rsa2048.pk8.pem");
        let json = serde_json::json!({
            "client_id": "id", "private_key_file": key, "private_key_id": "k1",
            "jwt_algorithm": "PS256", "jwt_audience": "https://issuer.example",
        });
        let c = Config::from_json_bytes(json.to_string().as_bytes(), Path::new("")).unwrap();
        assert_eq!(c.auth_style(), AuthStyle::PrivateKeyJwt);
        assert_eq!(c.private_key().unwrap().1, Some("k1"));
        assert_eq!(c.jwt_algorithm(), Some("PS256"));
        assert_eq!(c.jwt_audience(), Some("https://issuer.example"));

        let no_secret = br#"{"client_id":"id"}"#;
        let e = Config::from_json_bytes(no_secret, Path::new("")).unwrap_err();
        assert!(e.message().contains("client_secret"), "{}", e.message());

        let key = key.to_string_lossy().into_owned();
        let e = from_env(&[
            ("OAUTH2CC_CLIENT_ID", "id"),
            ("OAUTH2CC_PRIVATE_KEY_FILE", &key),
            ("OAUTH2CC_JWT_ALGORITHM", "ES256"),
        ])
        .unwrap_err();
        assert_config_error(&e, &["OAUTH2CC_JWT_ALGORITHM", "ES256"]);
        let c = from_env(&[
            ("OAUTH2CC_CLIENT_ID", "id"),
            ("OAUTH2CC_PRIVATE_KEY_FILE", &key),
            ("OAUTH2CC_PRIVATE_KEY_ID", "k2"),
            ("OAUTH2CC_AUTH_STYLE", "private_key_jwt"),
        ])
        .unwrap();
        assert_eq!(c.private_key().unwrap().1, Some("k2"));
        let cert = keys.join("p256.cert.pem").to_string_lossy().into_owned();
        let mut cert_vars = vec![
            ("OAUTH2CC_CLIENT_ID", "id"),
            ("OAUTH2CC_CLIENT_CERTIFICATE_FILE", cert.as_str()),
            ("OAUTH2CC_ISSUER", "https://issuer.example"),
        ];
        let e = from_env(&cert_vars).unwrap_err();
        assert_config_error(&e, &["KEY_FILE"]);
        let p256 = keys.join("p256.pk8.pem").to_string_lossy().into_owned();
        cert_vars.push(("OAUTH2CC_CLIENT_CERTIFICATE_KEY_FILE", &p256));
        let tls = from_env(&cert_vars).unwrap();
        assert_eq!(tls.auth_style(), AuthStyle::TlsClient);
        assert_eq!(tls.issuer(), Some("https://issuer.example"));
        assert!(format!("{c:?}").contains("rsa2048.pk8.pem"));
    }

    #[cfg(unix)]
    #[test]
    fn endless_files_are_refused_not_read_forever() {
        // A device is refused before any read (files.rs); a regular file that is too long
        // after reading the cap (files::tests::reads_stop_at_the_cap).
        let e = Config::from_file("/dev/zero").unwrap_err();
        assert_config_error(&e, &["/dev/zero", "is a character device"]);
        let mut c = Config::new("id", "secret").unwrap();
        let e = c.set_ca_file("/dev/zero").unwrap_err();
        assert_config_error(&e, &["CA file /dev/zero", "is a character device"]);
    }
}
