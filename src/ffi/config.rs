//! `oauth2cc_config`: building a configuration from C.

use std::ffi::{c_char, c_int, c_void};

use super::{arg_mut, arg_opt_str, arg_out, arg_str, ffi_export, oauth2cc_status};
use crate::config::{AuthStyle, Config};
use crate::error::{Error, Result};
use crate::hooks::{LogLevel, LogSink, Logger};

/// A configuration: credentials, token URL, scope, auth style, timeouts, TLS, proxy, retries.
///
/// Opaque. Create with `oauth2cc_config_new`, `oauth2cc_config_from_file` or
/// `oauth2cc_config_from_env`; free with `oauth2cc_config_free`. The secret is wiped when
/// freed. Thread-safety: a config may be read (passed as `const`) from many threads at once,
/// but must not be modified while another thread uses it. Functions that take it copy what
/// they need, so it may be freed right after `oauth2cc_client_new` or `oauth2cc_request_token`.
///
/// Methods: `oauth2cc_config_set_token_url`, `_set_scope`, `_set_auth_style`, `_add_param`,
/// `_set_timeout_ms`, `_set_connect_timeout_ms`, `_set_ca_file`, `_set_proxy`,
/// `_set_user_agent`, `_set_expiry_leeway`, `_set_retries`, `_set_cache_file`,
/// `_set_min_refresh_interval_ms`, `_set_unauthorized_refresh_interval_ms`, `_set_log`,
/// `_set_background_refresh`, `_set_shared_cache`,
/// `_set_max_response_bytes`, `_set_private_key_file`, `_set_private_key_pem`,
/// `_set_jwt_algorithm`, `_set_jwt_audience`, `_set_client_certificate_file`, `_set_issuer`,
/// `_set_jwt_bearer`, `_set_client_assertion_file`, `_set_dpop`, `_set_dpop_key_file`,
/// `oauth2cc_config_free`.
#[derive(Debug)]
pub struct oauth2cc_config {
    pub(crate) inner: Config,
}

/// How the client authenticates to the token endpoint. Passed as an integer: any value
/// other than the constants below is `OAUTH2CC_STATUS_INVALID_ARGUMENT`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct oauth2cc_auth_style(pub u32);

impl oauth2cc_auth_style {
    /// `Authorization: Basic base64(pctenc(id):pctenc(secret))` (RFC 6749 §2.3.1). Default.
    pub const BASIC: oauth2cc_auth_style = oauth2cc_auth_style(0);
    /// `client_id` and `client_secret` in the form body.
    pub const POST_BODY: oauth2cc_auth_style = oauth2cc_auth_style(1);
    /// Basic first; only on a 400/401 `invalid_client`, the body once. A client remembers the
    /// style that worked. When both fail, the message holds both errors.
    pub const AUTO: oauth2cc_auth_style = oauth2cc_auth_style(2);
    /// A signed client assertion (RFC 7523 §2.2, `private_key_jwt`) made with the private key
    /// (`oauth2cc_config_set_private_key_file` / `_pem`), or with the client certificate's key
    /// when only a certificate is set. The default when a private key is set.
    pub const PRIVATE_KEY_JWT: oauth2cc_auth_style = oauth2cc_auth_style(3);
    /// A client assertion, HMAC (HS256) with the client secret (`client_secret_jwt`). The
    /// secret must be at least 32 bytes long.
    pub const CLIENT_SECRET_JWT: oauth2cc_auth_style = oauth2cc_auth_style(4);
    /// Mutual TLS with the client certificate (`oauth2cc_config_set_client_certificate_file`,
    /// RFC 8705); `client_id` in the body and no secret.
    pub const TLS_CLIENT: oauth2cc_auth_style = oauth2cc_auth_style(5);
}

/// Hands a config to C; freed by `oauth2cc_config_free`.
fn into_config_handle(config: Config) -> *mut oauth2cc_config {
    Box::into_raw(Box::new(oauth2cc_config { inner: config }))
}

/// The body of a setter that cannot fail once there is a config: runs `set` on it.
fn set_infallible(
    config: Result<&mut oauth2cc_config>,
    set: impl FnOnce(&mut Config),
) -> Result<()> {
    set(&mut config?.inner);
    Ok(())
}

/// Creates a configuration with every default: Basic auth, 30 s timeout, 60 s expiry leeway,
/// no scope, no retries, and **no token URL**: set one with `oauth2cc_config_set_token_url`
/// (for Spotify, `OAUTH2CC_SPOTIFY_TOKEN_URL`). A request made without one is `CONFIG`, so
/// credentials never go to a default third party because a line was forgotten.
///
/// `client_id` must be non-empty UTF-8; `client_secret` too, or NULL for a client that
/// authenticates with a private key or a client certificate and has no secret. Both are
/// copied. On success `*out` receives a new config that the caller frees with
/// `oauth2cc_config_free`; on failure `*out` is untouched. Returns `OK` or `INVALID_ARGUMENT`.
///
/// # Safety
/// String arguments are NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_new(
    client_id: *const c_char,
    client_secret: *const c_char,
    out: *mut *mut oauth2cc_config,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        let config =
            Config::with_optional_secret(arg_str!(client_id)?, arg_opt_str!(client_secret)?)?;
        out.set(into_config_handle(config));
        Ok(())
    })
}

/// Reads a JSON configuration file (keys: `client_id`, `client_secret`, `token_url`,
/// `scope`, `auth_style` ("basic" | "post_body" | "auto" | "private_key_jwt" |
/// "client_secret_jwt" | "tls_client"), `params` (object of strings), `timeout_ms`,
/// `connect_timeout_ms`, `user_agent`, `ca_file`, `proxy`, `expiry_leeway`, `max_retries`,
/// `retry_max_wait_ms`, `cache_file`, `min_refresh_interval_ms`,
/// `unauthorized_refresh_interval_ms`, `background_refresh`, `max_response_bytes`,
/// `private_key_file`, `private_key_pem`, `private_key_id`, `jwt_algorithm`, `jwt_audience`,
/// `client_certificate_file`, `client_certificate_key_file`, `issuer`, `shared_cache`,
/// `jwt_bearer` (true: `oauth2cc_config_set_jwt_bearer`), `jwt_bearer_subject` (implies
/// `jwt_bearer`), `client_assertion_file`, `dpop` (true: `oauth2cc_config_set_dpop`),
/// `dpop_key_file`; `client_secret` may be left out when a private key, a client certificate
/// or a client assertion file is given). An unknown key is an error naming it. Relative
/// paths inside are relative to the file's folder.
///
/// A Google service-account key file (the JSON Google's console or `gcloud iam
/// service-accounts keys create` writes, `"type": "service_account"`) is read too, every
/// member Google writes accepted: the client id is its `client_email`, the JWT bearer grant
/// (`oauth2cc_config_set_jwt_bearer`) with `iss` = `sub` = `client_email` (never Google's
/// numeric `client_id`), `aud` = the token URL = `token_uri`, `kid` = `private_key_id`,
/// RS256 with `private_key`; the scope, set with `oauth2cc_config_set_scope` after loading
/// (or `OAUTH2CC_SCOPE` with `oauth2cc_config_from_env`), goes in a `scope` claim as Google
/// asks, e.g. `https://www.googleapis.com/auth/cloud-platform`.
///
/// On success `*out` receives a new config (free with `oauth2cc_config_free`). Returns `OK`,
/// `INVALID_ARGUMENT` (NULL/non-UTF-8 path, empty id/secret) or `CONFIG` (unreadable file,
/// bad JSON, unknown key, bad value, bad URL).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_from_file(
    path: *const c_char,
    out: *mut *mut oauth2cc_config,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        out.set(into_config_handle(Config::from_file(arg_str!(path)?)?));
        Ok(())
    })
}

/// Builds a configuration from the environment: one variable per key of the JSON file
/// (`oauth2cc_config_from_file`), named `OAUTH2CC_` and the key in capitals:
/// `OAUTH2CC_CLIENT_ID`, `OAUTH2CC_CLIENT_SECRET` (required unless a private key or client
/// certificate file is set), `OAUTH2CC_TOKEN_URL` (without it or `OAUTH2CC_ISSUER` a request
/// is `CONFIG`), `OAUTH2CC_TIMEOUT_MS`, `OAUTH2CC_AUTH_STYLE` (a style's name),
/// `OAUTH2CC_BACKGROUND_REFRESH` (`true`/`false`), `OAUTH2CC_PARAMS` (form-encoded),
/// `OAUTH2CC_JWT_BEARER` / `OAUTH2CC_JWT_BEARER_SUBJECT`, `OAUTH2CC_CLIENT_ASSERTION_FILE`,
/// `OAUTH2CC_DPOP`, `OAUTH2CC_DPOP_KEY_FILE`, and so on; an empty variable is unset; a
/// boolean is `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`.
///
/// When `OAUTH2CC_CLIENT_ID` is unset: with `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
/// `AZURE_FEDERATED_TOKEN_FILE` (what Microsoft Entra workload identity sets in a pod) the
/// config is that client with the federated token as its client assertion file, token URL
/// `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com/`, with or without a
/// trailing `/`) + tenant + `/oauth2/v2.0/token`; else with `GOOGLE_APPLICATION_CREDENTIALS`
/// the service-account key file it names (see `oauth2cc_config_from_file`). The other
/// `OAUTH2CC_*` variables apply to Entra's (`OAUTH2CC_SCOPE`: Entra wants
/// `<resource>/.default`); `OAUTH2CC_SCOPE` applies to Google's. On success `*out` receives a new
/// config (free with `oauth2cc_config_free`). Returns `OK`, `INVALID_ARGUMENT` (NULL `out`)
/// or `CONFIG` (a variable missing, a bad URL).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_from_env(
    out: *mut *mut oauth2cc_config,
) -> oauth2cc_status {
    ffi_export!({
        let out = arg_out!(out)?;
        out.set(into_config_handle(Config::from_env()?));
        Ok(())
    })
}

/// Sets the token endpoint URL: `https://...`, or `http://` to a loopback host
/// (127.0.0.0/8, `[::1]`, `localhost`) only. Returns `OK`, `INVALID_ARGUMENT` or `CONFIG`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_token_url(
    config: *mut oauth2cc_config,
    url: *const c_char,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_token_url(arg_str!(url)?) })
}

/// Sets the space-separated scope sent with the request; NULL or `""` clears it.
/// Returns `OK` or `INVALID_ARGUMENT`.
///
/// # Safety
/// As `oauth2cc_config_set_token_url`.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_scope(
    config: *mut oauth2cc_config,
    scope: *const c_char,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_scope(arg_opt_str!(scope)?) })
}

/// Sets how the client authenticates (`OAUTH2CC_AUTH_STYLE_BASIC`, `_POST_BODY`, `_AUTO`).
/// Any other value is `INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_auth_style(
    config: *mut oauth2cc_config,
    style: oauth2cc_auth_style,
) -> oauth2cc_status {
    ffi_export!({
        let config = arg_mut!(config)?;
        let style = AuthStyle::try_from(style.0).map_err(|code| {
            Error::invalid_argument(format!("style {code} is not an oauth2cc_auth_style"))
        })?;
        config.inner.set_auth_style(style);
        Ok(())
    })
}

/// Adds a form parameter sent with every token request (`audience`, `resource`, ...). A name
/// may be added more than once. `grant_type`, `client_id`, `client_secret` and `scope` are
/// refused with `INVALID_ARGUMENT` (use the dedicated setters).
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_add_param(
    config: *mut oauth2cc_config,
    name: *const c_char,
    value: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .add_param(arg_str!(name)?, arg_str!(value)?)
    })
}

/// Sets the whole-request timeout in milliseconds (default 30000; 0 is `INVALID_ARGUMENT`):
/// connecting, sending, and reading the response head and body, so a server that trickles
/// its answer ends in `TIMEOUT` at this limit. With retries, the total time of all attempts
/// and waits stays within it. Also used by `oauth2cc_client_get`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_timeout_ms(
    config: *mut oauth2cc_config,
    timeout_ms: u32,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_timeout_ms(timeout_ms) })
}

/// Sets the connection set-up timeout in milliseconds (default 10000; 0 is
/// `INVALID_ARGUMENT`): the TCP connect, the proxy handshake and the TLS handshake together.
/// Passing it is `TIMEOUT`. The whole-request timeout still applies when it is shorter.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_connect_timeout_ms(
    config: *mut oauth2cc_config,
    timeout_ms: u32,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_connect_timeout_ms(timeout_ms) })
}

/// Trusts the CA certificates in the PEM file `pem_path` for this config, **instead of** the
/// default roots (like curl's `--cacert`): only servers whose chain ends at one of them are
/// accepted. To trust them as well as the system's, put the system bundle in the same file.
///
/// Without a CA file the defaults are the system's: `SSL_CERT_FILE` and/or `SSL_CERT_DIR`
/// when set (they replace the system locations, as for OpenSSL), else the operating
/// system's store (on Linux the distribution bundle, e.g.
/// `/etc/ssl/certs/ca-certificates.crt`); the bundled Mozilla roots only when the system has
/// none. The system store is read once per process (again when those variables change).
///
/// The file is read now, and again when a client or request uses the config: missing,
/// unreadable, not PEM or without a certificate is `CONFIG` with the path in the message.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `pem_path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_ca_file(
    config: *mut oauth2cc_config,
    pem_path: *const c_char,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_ca_file(arg_str!(pem_path)?) })
}

/// Sends requests through a proxy: `http://`, `https://`, `socks5://` or `socks5h://`,
/// optionally with `user:password@` (never shown in messages). A malformed URL is `CONFIG`.
///
/// NULL or `""` goes back to the default, the environment read as curl reads it: for
/// `https://` URLs `https_proxy`, then `HTTPS_PROXY`; for `http://` URLs `http_proxy` (never
/// `HTTP_PROXY`); then `all_proxy`, then `ALL_PROXY`. `no_proxy` (or `NO_PROXY`) lists hosts
/// reached directly, whichever way the proxy was set: names (matching subdomains too), IP
/// addresses, CIDR ranges, `*`. As in curl, loopback URLs are not exempt: add
/// `localhost,127.0.0.1,::1` to `NO_PROXY` for a local token endpoint.
///
/// A proxy that refuses the connection, rejects the credentials or will not open the tunnel
/// is `NETWORK`, with a message naming the proxy (`scheme://host:port`).
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `proxy_url` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_proxy(
    config: *mut oauth2cc_config,
    proxy_url: *const c_char,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_proxy(arg_opt_str!(proxy_url)?) })
}

/// Sets the `User-Agent` header (default `oauth2cc/<version>`). Control characters are
/// `INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `user_agent` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_user_agent(
    config: *mut oauth2cc_config,
    user_agent: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_user_agent(arg_str!(user_agent)?)
    })
}

/// A client refreshes its token this many seconds before it expires (default 60), but never
/// earlier than half-way through the token's lifetime.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_expiry_leeway(
    config: *mut oauth2cc_config,
    seconds: u32,
) -> oauth2cc_status {
    ffi_export!({ set_infallible(arg_mut!(config), |c| c.set_expiry_leeway(seconds)) })
}

/// Retries a token request up to `max_retries` times on 429, 5xx, network errors and
/// timeouts, with exponential backoff and jitter (100 ms doubling, each wait at most
/// `max_wait_ms`). A `Retry-After` is honoured when it is at most `max_wait_ms`; a longer one
/// ends the call at once with `RATE_LIMITED` and the value readable. 400 and 401 are never
/// retried. All attempts together stay within the timeout. Default: no retries.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_retries(
    config: *mut oauth2cc_config,
    max_retries: u32,
    max_wait_ms: u32,
) -> oauth2cc_status {
    ffi_export!({
        set_infallible(arg_mut!(config), |c| {
            c.set_retries(max_retries, max_wait_ms)
        })
    })
}

/// Lets a client keep its token in `path` so short-lived processes reuse it: created 0600,
/// replaced atomically, holding no client secret, keyed by token URL + client id + scope +
/// params + a one-way derivation of the credential (client secret, private key or client
/// certificate key), so a client with a wrong secret never reads the right one's token: it
/// asks the endpoint and gets its own answer. The token in the file is sealed (AES-256-GCM)
/// under a key derived from the credential: the file's bytes give no usable token to
/// someone without it. A corrupt, foreign, symlinked or group/world-writable file is
/// ignored and replaced. NULL or `""` turns it off. Set it before `oauth2cc_client_new`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_cache_file(
    config: *mut oauth2cc_config,
    path: *const c_char,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_cache_file(arg_opt_str!(path)?) })
}

/// Shares the token of every client with this configuration, in every process on every
/// machine, through Redis (or Valkey) at `redis_url`:
/// `redis://[user:password@]host[:port][/db]`, or `rediss://...` for TLS, checked against
/// the same roots as the token endpoint (`oauth2cc_config_set_ca_file`, else the system's).
/// One process in the fleet refreshes (a lock that expires about the request timeout after
/// it is taken) while the others keep their still-valid token or wait for the new one, at
/// most a third of the timeout: then one of them takes over (a holder that died costs the
/// others that wait, not their timeout), fetches and stores for the fleet; at two thirds a
/// waiter fetches alone. The entry is keyed by a hash of token URL, client id, scope,
/// params, auth style and a one-way derivation of the credential (a wrong secret never
/// finds the right one's entry), and holds the token, its type, scope and expiry sealed
/// with AES-256-GCM under a key derived from the credential: reading Redis (a replica, a
/// dump, `MONITOR`) gives neither the token nor the secret. A Redis Cluster (or a Valkey
/// cluster) works through any of its nodes: `MOVED` and `ASK` are followed. Redis is read
/// only when the in-memory token needs a refresh, and every Redis command runs under the
/// caller's remaining time (a deadline per command, never per read): Redis unreachable,
/// slow or refusing, the client fetches directly within what is left of its timeout and
/// leaves Redis alone for 30 s; a call never fails because of the cache. NULL or `""`
/// turns it off. Set it before `oauth2cc_client_new`. Returns `OK`, `INVALID_ARGUMENT`
/// (NULL config, not UTF-8) or `CONFIG` (not a Redis URL; the message never holds the
/// password).
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `redis_url` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_shared_cache(
    config: *mut oauth2cc_config,
    redis_url: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_shared_cache(arg_opt_str!(redis_url)?)
    })
}

/// The shortest time a client keeps a token before asking for another, in milliseconds
/// (default 1000; 0 turns the floor off). A server that issues tokens expiring at once
/// (`expires_in: 0`) then gets at most one token request per interval from each client
/// instead of one per call; the token is handed out meanwhile. Returns `OK` or
/// `INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_min_refresh_interval_ms(
    config: *mut oauth2cc_config,
    interval_ms: u32,
) -> oauth2cc_status {
    ffi_export!({
        set_infallible(arg_mut!(config), |c| {
            c.set_min_refresh_interval_ms(interval_ms)
        })
    })
}

/// The shortest time between two token refreshes caused by an API answering 401 to
/// `oauth2cc_client_get` / `_request`, in milliseconds (default 5000; 0: every 401
/// refreshes). The first 401 always invalidates the token, refreshes and resends; another 401
/// within the interval after that refresh is returned to the caller as it is. An API that
/// always answers 401 thus costs one token request per interval, not one per call (metered
/// or rate-limited token endpoints). Returns `OK` or `INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_unauthorized_refresh_interval_ms(
    config: *mut oauth2cc_config,
    interval_ms: u32,
) -> oauth2cc_status {
    ffi_export!({
        set_infallible(arg_mut!(config), |c| {
            c.set_unauthorized_refresh_interval_ms(interval_ms)
        })
    })
}

/// Log levels for `oauth2cc_config_set_log`: a request failed (the caller gets an error).
pub const OAUTH2CC_LOG_ERROR: c_int = 1;
/// Something went wrong and was worked around (a retry, a fallback).
pub const OAUTH2CC_LOG_WARN: c_int = 2;
/// What the client does: token requests and their results, 401-driven refreshes.
pub const OAUTH2CC_LOG_INFO: c_int = 3;
/// Every decision: cache-file reads, resends, waits.
pub const OAUTH2CC_LOG_DEBUG: c_int = 4;

/// A log callback: `level` is one of `OAUTH2CC_LOG_*`, `message` a NUL-terminated line
/// valid during the call only, never holding a secret; `userdata` is what was passed to
/// `oauth2cc_config_set_log`.
pub type oauth2cc_log_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: c_int, message: *const c_char)>;

/// A C callback as the core's log sink. The C caller promised (see `oauth2cc_config_set_log`)
/// that the callback may be called from any thread with this userdata.
struct CLogSink {
    callback: unsafe extern "C" fn(*mut c_void, c_int, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the userdata pointer is only passed back to the caller's callback, which the caller
// documented as callable from any thread (oauth2cc_config_set_log's contract).
unsafe impl Send for CLogSink {}
// SAFETY: as for Send: shared use only passes the pointer back to the caller's callback.
unsafe impl Sync for CLogSink {}

impl LogSink for CLogSink {
    fn log(&self, level: LogLevel, message: &str) {
        let line = super::c_string(message);
        // SAFETY: the callback and userdata are the caller's, valid for the life of every
        // config and client made with them (the contract); `line` outlives the call.
        unsafe { (self.callback)(self.userdata, level as c_int, line.as_ptr()) }
    }
}

/// Sends the library's log lines to `callback` for clients and requests made with this
/// config (copied into them): token requests and their outcome, retries and waits, refresh
/// failures, cache-file decisions, 401-driven refreshes, resends after a closed connection.
/// Levels up to `max_level` (`OAUTH2CC_LOG_ERROR` 1 ... `OAUTH2CC_LOG_DEBUG` 4) are sent;
/// another `max_level` is `INVALID_ARGUMENT`. NULL `callback` turns logging off (then
/// `OAUTH2CC_LOG=error|warn|info|debug` in the environment logs to stderr instead).
///
/// The callback runs synchronously on the thread doing the work, with no lock of the library
/// held: it may call back into the library. `oauth2cc_client_token` called from a line that a
/// refresh writes gets the still-valid old token if there is one, else `INVALID_ARGUMENT` at
/// once (the refresh it would wait for is the one that is writing the line). No line ever
/// holds a secret, a token, a key, a Basic header or a proxy password.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `callback` (when not NULL)
/// may be called from any thread with `userdata`, for as long as any config or client made
/// with this config lives.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_log(
    config: *mut oauth2cc_config,
    callback: oauth2cc_log_fn,
    userdata: *mut c_void,
    max_level: c_int,
) -> oauth2cc_status {
    ffi_export!({
        let config = arg_mut!(config)?;
        let level = LogLevel::from_code(max_level).ok_or_else(|| {
            Error::invalid_argument(format!(
                "max_level {max_level} is not an OAUTH2CC_LOG_* level (1 to 4)"
            ))
        })?;
        let logger = callback.map(|callback| {
            let sink = CLogSink { callback, userdata };
            Logger::new(std::sync::Arc::new(sink), level)
        });
        config.inner.set_log(logger);
        Ok(())
    })
}

/// Makes clients refresh their token in the background before it is due, so callers of
/// `oauth2cc_client_token` and `_authorization_header` never wait after the first token
/// (unless it really expired, e.g. the endpoint was down). One thread per process refreshes
/// every such client, each at its token's refresh point minus a random 5-10 % of its
/// lifetime (at most 60 s): before any caller would refresh, and spread over that window
/// across a fleet. 1,000 clients cost one thread; it starts with the first such client and
/// ends with the last one's `oauth2cc_client_free`. A refresh that fails, or that gets back
/// the token the client already has (an endpoint answering 503 while the old token is
/// valid), is tried again after 1 s, doubling up to 30 s, each wait lengthened by a random
/// 0-25 %: a failing endpoint never sees more. `oauth2cc_client_free` takes the client out
/// and, when its refresh is running, waits for it (bounded by the request timeout: at most
/// twice it and a second): once it returns, nothing of that client runs (no log callback,
/// no cache write). Off by default: a library does not start threads unasked. A `fork()`
/// child has no refresher until a client it makes asks for one (clients made before the
/// fork are refreshed by their callers there), and never waits for the parent's. Returns
/// `OK` or `INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_background_refresh(
    config: *mut oauth2cc_config,
    enabled: bool,
) -> oauth2cc_status {
    ffi_export!({ set_infallible(arg_mut!(config), |c| c.set_background_refresh(enabled)) })
}

/// The largest API response body `oauth2cc_client_get` reads (default 16 MiB; 0 is
/// `INVALID_ARGUMENT`). A larger body is `INVALID_RESPONSE`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_max_response_bytes(
    config: *mut oauth2cc_config,
    max_bytes: usize,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_max_response_bytes(max_bytes) })
}

/// Sets the private key that signs client assertions (`OAUTH2CC_AUTH_STYLE_PRIVATE_KEY_JWT`,
/// RFC 7523 §2.2), read now from the PEM file `pem_path`: PKCS#8 (RSA, P-256, P-384,
/// Ed25519), PKCS#1 RSA or SEC1 EC, not encrypted. The algorithm follows the key (RSA:
/// RS256, P-256: ES256, P-384: ES384, Ed25519: EdDSA) unless `oauth2cc_config_set_jwt_algorithm`
/// says otherwise. `key_id` (NULL: none) goes in the assertion's `kid` header; some servers
/// (Authlib) refuse an assertion without one.
///
/// Without an explicit auth style, a config with a private key uses PRIVATE_KEY_JWT. The key
/// is copied into memory that is wiped when the config is freed, and never appears in a
/// message. Returns `OK`, `INVALID_ARGUMENT` (NULL or non-UTF-8 arguments, empty path) or
/// `CONFIG` naming the file and the reason: unreadable, not a key, encrypted, an RSA key under
/// 2048 bits, or a key that does not fit the algorithm set.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_private_key_file(
    config: *mut oauth2cc_config,
    pem_path: *const c_char,
    key_id: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_private_key_file(arg_str!(pem_path)?, arg_opt_str!(key_id)?)
    })
}

/// `oauth2cc_config_set_private_key_file` with the PEM text itself in `pem` (copied; wipe
/// your own copy). Messages call it "the PEM private key".
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_private_key_pem(
    config: *mut oauth2cc_config,
    pem: *const c_char,
    key_id: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_private_key_pem(arg_str!(pem)?, arg_opt_str!(key_id)?)
    })
}

/// Sets the client assertion's algorithm: `"RS256"`, `"RS384"`, `"RS512"`, `"PS256"`,
/// `"PS384"`, `"PS512"`, `"ES256"`, `"ES384"`, `"EdDSA"` (or `"HS256"`, the only one
/// CLIENT_SECRET_JWT uses). NULL or `""`: from the key. An unknown name is
/// `INVALID_ARGUMENT`; a name that does not fit the private key is `CONFIG`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `alg` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_jwt_algorithm(
    config: *mut oauth2cc_config,
    alg: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_jwt_algorithm(arg_opt_str!(alg)?)
    })
}

/// Sets the client assertion's audience (`aud`). NULL or `""` (the default): the URL the
/// token request is sent to (the token endpoint, or its mutual-TLS alias from discovery),
/// which is what most servers (Okta, Entra ID, Keycloak) expect. Set it for a server that
/// wants its issuer identifier instead. Returns `OK` or `INVALID_ARGUMENT`.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `audience` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_jwt_audience(
    config: *mut oauth2cc_config,
    audience: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_jwt_audience(arg_opt_str!(audience)?)
    })
}

/// Sets the TLS client certificate (RFC 8705 mutual TLS): `cert_chain_pem_path`, the PEM
/// certificate chain (leaf first), and `key_pem_path`, its PEM private key (PKCS#8, PKCS#1 RSA
/// or SEC1 EC, not encrypted), both read now. The certificate is presented on every TLS
/// connection to the token endpoint and, through a client, the API.
///
/// Without an explicit auth style, a config with a certificate, no private key and no secret
/// uses `OAUTH2CC_AUTH_STYLE_TLS_CLIENT` (`client_id` in the body, no secret). With
/// PRIVATE_KEY_JWT, the certificate's SHA-256 and SHA-1 thumbprints go in the assertion
/// header (`x5t#S256`, `x5t`, as Entra ID asks) and its key signs when no private key is set.
/// A server that refuses the certificate during the handshake is `TLS`; one that answers 401
/// is `UNAUTHORIZED`.
///
/// Returns `OK`, `INVALID_ARGUMENT` (NULL, non-UTF-8 or empty paths) or `CONFIG` naming the
/// file: unreadable, no certificate, or a key that cannot be used (never the key itself).
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_client_certificate_file(
    config: *mut oauth2cc_config,
    cert_chain_pem_path: *const c_char,
    key_pem_path: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_client_certificate_file(arg_str!(cert_chain_pem_path)?, arg_str!(key_pem_path)?)
    })
}

/// Finds the token endpoint from the authorization server's metadata instead of the token
/// URL: `issuer_url` is its issuer identifier (`https://...`, or `http://` to loopback). A
/// client fetches `{issuer}/.well-known/openid-configuration`, then
/// `/.well-known/oauth-authorization-server` (RFC 8414, inserted before the issuer's path),
/// at its first token request, and keeps the result for its life; after a token-endpoint
/// failure that suggests it moved (404, a network failure) the next request fetches it again.
/// The document's `issuer` must equal `issuer_url` exactly; its `token_endpoint` obeys the
/// token URL rules; with a client certificate, `mtls_endpoint_aliases.token_endpoint` is used
/// when present. With `OAUTH2CC_AUTH_STYLE_AUTO`, the methods tried are those of
/// `token_endpoint_auth_methods_supported` this config can use.
///
/// NULL or `""` turns discovery off. Setting it makes no request. Returns `OK`,
/// `INVALID_ARGUMENT` or `CONFIG` (a bad URL). A token request that cannot get the metadata
/// fails with `CONFIG` (no document, a wrong issuer, a bad endpoint) or the network status
/// (`NETWORK`, `TIMEOUT`, `TLS`, `SERVER_ERROR`), the metadata URL in the message.
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `issuer_url` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_issuer(
    config: *mut oauth2cc_config,
    issuer_url: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_issuer(arg_opt_str!(issuer_url)?)
    })
}

/// Uses the JWT bearer grant (RFC 7523 §2.1) instead of client credentials: the token
/// request carries `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an
/// `assertion`, a JWT signed afresh at each request with the private key
/// (`oauth2cc_config_set_private_key_file` / `_pem`; `kid` from its key id): `iss` = the
/// client id, `sub` = `subject` (NULL or `""`: the client id), `aud` =
/// `oauth2cc_config_set_jwt_audience`'s value when set, else the token URL, `iat`, `exp`
/// (60 s after `iat`), a unique `jti`. The algorithm is the key's (RSA: RS256, P-256:
/// ES256, P-384: ES384, Ed25519: EdDSA) unless `oauth2cc_config_set_jwt_algorithm` sets one.
/// The scope goes in the form's `scope`, as for client credentials; for a Google
/// service-account key file read by `oauth2cc_config_from_file` it stays in the assertion's
/// `scope` claim, also when a subject is set here (Google's domain-wide delegation).
/// Salesforce and Google use this grant; servers that want the scope as a claim otherwise
/// (DocuSign) are not covered yet.
///
/// The assertion is the grant: no client authentication is added unless a client secret,
/// a client assertion file or an explicit auth style asks for it. A token request without a
/// private key is `CONFIG`.
///
/// Returns `OK` or `INVALID_ARGUMENT` (NULL config, non-UTF-8 subject).
///
/// Example:
/// ```c
/// oauth2cc_config *config = NULL;
/// oauth2cc_config_new("my-app@example", NULL, &config);
/// oauth2cc_config_set_token_url(config, "https://login.example/services/oauth2/token");
/// oauth2cc_config_set_private_key_file(config, "/etc/app/key.pem", "key-1");
/// oauth2cc_config_set_jwt_bearer(config, "user@example.com");
/// ```
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `subject` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_jwt_bearer(
    config: *mut oauth2cc_config,
    subject: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_jwt_bearer(arg_opt_str!(subject)?)
    })
}

/// Authenticates the client with a client assertion someone else made and keeps in a file:
/// a Kubernetes projected service-account token, Microsoft Entra workload identity's
/// federated token (`AZURE_FEDERATED_TOKEN_FILE`), a SPIFFE JWT-SVID, a GitHub Actions OIDC
/// token saved to a file. Each token request sends `client_assertion_type` =
/// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
/// `client_assertion` = the file's text with surrounding whitespace trimmed, and `client_id`
/// (Entra requires it). The file is read at every token request, never cached, since the
/// platform rotates it under the process; it may be created after this call. It replaces
/// the client secret for authentication when both are set, unless another auth style is set
/// explicitly with `oauth2cc_config_set_auth_style`; the secret may be NULL in
/// `oauth2cc_config_new`.
///
/// Nothing is read now. At a token request, a file that is missing, unreadable, empty, over
/// 64 KiB or not a JWT (three base64url parts separated by dots) is `CONFIG` naming the
/// path, never the content; a server's refusal of an expired assertion is the usual status
/// (`UNAUTHORIZED` or `BAD_REQUEST` with `invalid_client`). NULL or `""` removes the file.
/// Returns `OK` or `INVALID_ARGUMENT` (NULL config, non-UTF-8 path).
///
/// Example:
/// ```c
/// oauth2cc_config *config = NULL;
/// oauth2cc_config_new(getenv("AZURE_CLIENT_ID"), NULL, &config);
/// oauth2cc_config_set_token_url(config,
///     "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token");
/// oauth2cc_config_set_scope(config, "https://graph.microsoft.com/.default");
/// oauth2cc_config_set_client_assertion_file(config, getenv("AZURE_FEDERATED_TOKEN_FILE"));
/// ```
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_client_assertion_file(
    config: *mut oauth2cc_config,
    path: *const c_char,
) -> oauth2cc_status {
    ffi_export!({
        arg_mut!(config)?
            .inner
            .set_client_assertion_file(arg_opt_str!(path)?)
    })
}

/// Turns DPoP (RFC 9449, sender-constrained tokens) on (`enabled` non-zero) or off (0).
/// On: each client made from the config (`oauth2cc_client_new`) generates a fresh P-256 key
/// pair, kept for the client's life (refreshes included) and wiped when it is freed, and
/// signs proofs with ES256; `oauth2cc_request_token` uses a key of its own for its one
/// request. A stolen DPoP-bound token is useless without that key.
///
/// Every token request then carries a `DPoP` header, a proof JWT (header `typ` `dpop+jwt`,
/// `alg`, `jwk` with the public key only; claims a unique `jti`, `htm` `POST`, `htu` the
/// token URL without query and fragment, `iat`). Whether the token is bound is the server's
/// word: `token_type` `DPoP` in its answer. A bound token's header is `DPoP <token>`
/// (`oauth2cc_client_authorization_header`), and `oauth2cc_client_get` / `_request` send it
/// with a fresh proof that also carries `ath` (the token's SHA-256); for requests sent by
/// other means, `oauth2cc_client_dpop_proof` makes the `DPoP` header's value. A server that
/// ignores the proof and answers `Bearer` gets plain Bearer use, no proofs (logged at INFO).
///
/// Nonces (RFC 9449 §8, §9): a token endpoint's 400 `use_dpop_nonce` with a `DPoP-Nonce`
/// header, or a resource server's 401 `WWW-Authenticate: DPoP error="use_dpop_nonce"` with
/// one, is answered by sending the request once more with that nonce in a new proof (and, at
/// the token endpoint, a freshly signed client assertion; a refusal repeated is the status).
/// The newest nonce is remembered per origin (scheme, host, port), taken from a `DPoP-Nonce`
/// on any answer, 200 included. With the API's 401 rule a request makes at most three
/// attempts. Off also forgets a key set with `oauth2cc_config_set_dpop_key_file`; on keeps
/// it. With a fresh key per client, the cache file and the shared cache are not used: a
/// token bound to a key no other process has is of no use to them (with a key file they
/// are). Returns `OK` or `INVALID_ARGUMENT` (NULL config).
///
/// Example:
/// ```c
/// oauth2cc_config_set_dpop(config, 1);
/// oauth2cc_client_new(config, &client);
/// oauth2cc_client_get(client, "https://api.example/v1/items", &response);
/// // or, for a request made with another HTTP library:
/// oauth2cc_client_authorization_header(client, auth, sizeof auth, NULL); // "DPoP ..."
/// oauth2cc_client_dpop_proof(client, "GET", "https://api.example/v1/items", NULL,
///                            proof, sizeof proof, NULL);             // the DPoP header
/// ```
///
/// # Safety
/// `config` is NULL or a live config not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_dpop(
    config: *mut oauth2cc_config,
    enabled: c_int,
) -> oauth2cc_status {
    ffi_export!({ set_infallible(arg_mut!(config), |c| c.set_dpop(enabled != 0)) })
}

/// Turns DPoP on (see `oauth2cc_config_set_dpop`) with the key pair in the PEM file at
/// `path`, read now, instead of a fresh key per client: PKCS#8 (RSA, P-256, P-384, Ed25519),
/// PKCS#1 RSA or SEC1 EC, not encrypted. The proof algorithm follows the key: RSA signs
/// PS256, P-256 ES256, P-384 ES384, Ed25519 EdDSA (RFC 8037). ES256 is the algorithm every
/// DPoP server accepts; PS256, ES384 and EdDSA work where the server allows them (its
/// `dpop_signing_alg_values_supported`). Every client of the config proves the same key, so
/// tokens stay bound to it across restarts (with a cache file, for instance).
///
/// The key is kept in memory wiped when the last config or client holding it is freed, and
/// never appears in a message. Returns `OK`, `INVALID_ARGUMENT` (NULL or non-UTF-8
/// arguments, an empty path) or `CONFIG` naming the file and the reason (unreadable, not a
/// key, encrypted, an RSA key under 2048 bits).
///
/// # Safety
/// `config` is NULL or a live config not used by another thread; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_set_dpop_key_file(
    config: *mut oauth2cc_config,
    path: *const c_char,
) -> oauth2cc_status {
    ffi_export!({ arg_mut!(config)?.inner.set_dpop_key_file(arg_str!(path)?) })
}

/// Frees a config and wipes its secret. NULL is a no-op. Must not be called twice on the
/// same pointer.
///
/// # Safety
/// `config` is NULL or a config from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn oauth2cc_config_free(config: *mut oauth2cc_config) {
    ffi_export!({
        if !config.is_null() {
            // SAFETY: created by Box::into_raw in into_config_handle, freed at most once per contract.
            drop(unsafe { Box::from_raw(config) });
        }
    })
}
