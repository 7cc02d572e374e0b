//! Pure functions of bytes: build the token request, read the token endpoint's answer.
//! No I/O here; the transport hands in what it received.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

#[cfg(test)]
use crate::auth::basic_authorization;
use crate::config::{AuthStyle, Config};
use crate::error::{Error, ErrorKind, OAuthError, Result};
use crate::form::{form_decode, form_pair};
use crate::secret::{Secret, Text, WipedString};
#[cfg(test)]
use base64::Engine as _;

/// Largest token-endpoint body read; anything longer is [`ErrorKind::InvalidResponse`].
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// Largest `expires_in` accepted; larger values are clamped (as Go's x/oauth2 does).
pub const MAX_EXPIRES_IN: i64 = i32::MAX as i64;

/// A token request, ready for the transport: POST `body` with `headers` to the token URL.
/// Both are wiped when dropped: they may carry the client's credentials.
pub struct TokenRequest {
    /// `Content-Type`, `Accept`, and `Authorization` for Basic.
    pub headers: Vec<(&'static str, WipedString)>,
    /// The form body.
    pub body: WipedString,
    /// The client assertion in the body, if any: a credential for its minute, scrubbed from
    /// what the server echoes.
    pub(crate) assertion: Option<WipedString>,
    /// The JWT bearer grant's assertion, if any: scrubbed likewise.
    pub(crate) grant_assertion: Option<WipedString>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("TokenRequest")
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Builds the token request (client credentials, or the JWT bearer grant when the config
/// sets it) for one attempt of `style` ([`AuthStyle::Auto`] builds its first attempt,
/// Basic), to be sent to `url` at `now` (an assertion's default audience and `iat`). Body
/// order: `grant_type`, `scope`, the extra params in the order added, the JWT bearer grant's
/// `assertion`, then the credentials that travel in the body. Fails (CONFIG) when the
/// config lacks what `style` needs (a secret, a key) or an assertion cannot be signed.
pub fn build_token_request(
    config: &Config,
    style: AuthStyle,
    url: &str,
    now: SystemTime,
) -> Result<TokenRequest> {
    let client_id = config.client_id.expose();
    let grant = config
        .auth
        .grant_assertion(client_id, url, now, config.scope())?;
    let mut body = WipedString::new(String::with_capacity(128));
    let grant_type = match grant {
        None => "client_credentials",
        Some(_) => crate::jwt_bearer::GRANT_TYPE,
    };
    form_pair(&mut body, "grant_type", grant_type);
    let scope_in_assertion = config
        .auth
        .jwt_bearer()
        .is_some_and(|b| b.scope_in_assertion);
    if let Some(scope) = config.scope().filter(|_| !scope_in_assertion) {
        form_pair(&mut body, "scope", scope);
    }
    for (name, value) in config.params() {
        form_pair(&mut body, name, value);
    }
    if let Some(assertion) = &grant {
        // Room first (a JWT is not encoded): a body that grew while holding the assertion
        // would free a copy of it unwiped.
        body.reserve("&assertion=".len() + assertion.len());
        form_pair(&mut body, "assertion", assertion);
    }
    let mut headers = vec![
        (
            "Content-Type",
            WipedString::new("application/x-www-form-urlencoded".into()),
        ),
        ("Accept", WipedString::new("application/json".into())),
    ];
    let assertion = if config.auth.authenticates() {
        config
            .auth
            .apply(style, client_id, url, now, &mut headers, &mut body)?
    } else {
        None
    };
    Ok(TokenRequest {
        headers,
        body,
        assertion,
        grant_assertion: grant,
    })
}

/// An access token and what came with it. Immutable; secrets wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    access_token: Secret,
    token_type: Text,
    expires_in: Option<i64>,
    expires_at: Option<i64>,
    deadline: Option<Instant>,
    /// When the token was received (monotonic).
    received: Instant,
    /// `"<type> <token>"`, made once: the `Authorization` header value.
    authorization: Secret,
    scope: Option<Text>,
    refresh_token: Option<Secret>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token)
            .finish()
    }
}

impl Token {
    /// A token from its parts, received at (`now`, `now_mono`). `expires_in` is clamped to
    /// `0..=MAX_EXPIRES_IN`. Fails when a field is empty where it must not be, or holds NUL.
    pub fn new(
        access_token: &str,
        token_type: &str,
        expires_in: Option<i64>,
        scope: Option<&str>,
        refresh_token: Option<&str>,
        now: SystemTime,
        now_mono: Instant,
    ) -> Result<Token> {
        if access_token.is_empty() {
            return Err(Error::invalid_response("access_token is empty"));
        }
        // Both go into an `Authorization` header: a CR or LF would let the token endpoint
        // choose the caller's headers. RFC 6749 A.12 and A.13: 1*VSCHAR (%x20-7E).
        for (what, value) in [("access_token", access_token), ("token_type", token_type)] {
            match value.bytes().find(|b| !(0x20..=0x7e).contains(b)) {
                None => {}
                Some(0) => {
                    return Err(Error::invalid_response(format!(
                        "{what} contains a NUL byte"
                    )))
                }
                Some(bad) => {
                    return Err(Error::invalid_response(format!(
                        "{what} contains the byte 0x{bad:02X}, outside the printable ASCII \
                         an access token and a token type consist of (RFC 6749 appendix A)"
                    )))
                }
            }
        }
        let nul = |what: &str| Error::invalid_response(format!("{what} contains a NUL byte"));
        let expires_in = expires_in.map(|s| s.clamp(0, MAX_EXPIRES_IN));
        let unix_now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let token_type = normalize_token_type(token_type);
        let mut authorization = WipedString::new(String::with_capacity(
            token_type.len() + 1 + access_token.len(),
        ));
        authorization.push_str(&token_type);
        authorization.push(' ');
        authorization.push_str(access_token);
        Ok(Token {
            access_token: Secret::new(access_token).ok_or_else(|| nul("access_token"))?,
            authorization: Secret::new(&authorization).ok_or_else(|| nul("access_token"))?,
            token_type: Text::new(&token_type).ok_or_else(|| nul("token_type"))?,
            expires_in,
            expires_at: expires_in.map(|s| unix_now.saturating_add(s)),
            deadline: expires_in.and_then(|s| now_mono.checked_add(Duration::from_secs(s as u64))),
            received: now_mono,
            scope: scope
                .map(|s| Text::new(s).ok_or_else(|| nul("scope")))
                .transpose()?,
            refresh_token: refresh_token
                .map(|s| Secret::new(s).ok_or_else(|| nul("refresh_token")))
                .transpose()?,
        })
    }

    /// A token kept by a cache (the cache file, the shared cache) that expires at
    /// `expires_at_ms` (unix milliseconds): its lifetime is the whole seconds left at `now`,
    /// rounded down so it is never later than the writer's. `None` when less than a second is
    /// left, or a field is unusable.
    pub(crate) fn restored(
        access_token: &str,
        token_type: &str,
        scope: Option<&str>,
        expires_at_ms: i64,
        now: SystemTime,
        now_mono: Instant,
    ) -> Option<Token> {
        let now_ms = i64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
        let expires_in = expires_at_ms.checked_sub(now_ms)?.div_euclid(1000);
        if expires_in <= 0 {
            return None;
        }
        Token::new(
            access_token,
            token_type,
            Some(expires_in),
            scope,
            None,
            now,
            now_mono,
        )
        .ok()
    }

    /// The access token. Never put it in a message or a log.
    pub fn access_token(&self) -> &Secret {
        &self.access_token
    }

    /// `Bearer` for any casing of "bearer" (and an absent type); `MAC`, `Basic` likewise;
    /// any other type as the server sent it.
    pub fn token_type(&self) -> &Text {
        &self.token_type
    }

    /// Lifetime in seconds as received (clamped), `None` when the server did not say.
    pub fn expires_in(&self) -> Option<i64> {
        self.expires_in
    }

    /// Unix time of expiry computed at receipt, `None` when unknown.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// The scope the server granted, as it sent it.
    pub fn scope(&self) -> Option<&Text> {
        self.scope.as_ref()
    }

    /// The refresh token, when the server sent one (rare for this grant).
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }

    /// Whether the token is expired, or will be within `leeway`. A token without a known
    /// expiry never expires.
    pub fn is_expired(&self, leeway: Duration) -> bool {
        self.is_expired_at(Instant::now(), leeway)
    }

    /// [`Token::is_expired`] at a given instant: expired iff `deadline - leeway < now`.
    pub fn is_expired_at(&self, now: Instant, leeway: Duration) -> bool {
        match self.deadline {
            None => false,
            Some(deadline) => match deadline.checked_sub(leeway) {
                Some(refresh_at) => refresh_at < now,
                None => true,
            },
        }
    }

    /// Whether a cache should replace the token at `now`: [`Token::is_expired_at`] with the
    /// leeway capped at half the token's lifetime, so a token that lives shorter than the
    /// leeway is still reused for half its life instead of being refetched on every call.
    pub fn needs_refresh_at(&self, now: Instant, leeway: Duration) -> bool {
        let half_life = Duration::from_secs(self.expires_in.unwrap_or(0).max(0) as u64) / 2;
        self.is_expired_at(now, leeway.min(half_life))
    }

    /// The last instant at which a cache hands the token out without refreshing it (see
    /// [`Token::needs_refresh_at`]); `None` when it never expires.
    pub fn refresh_due(&self, leeway: Duration) -> Option<Instant> {
        let half_life = Duration::from_secs(self.expires_in.unwrap_or(0).max(0) as u64) / 2;
        let deadline = self.deadline?;
        Some(
            deadline
                .checked_sub(leeway.min(half_life))
                .unwrap_or(self.received),
        )
    }

    /// The monotonic instant at which the token was received.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// The monotonic instant at which the token expires, when known.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// `"<type> <token>"`, e.g. `Bearer abc`, for an `Authorization` header (a copy, wiped
    /// when dropped).
    pub fn authorization_header(&self) -> WipedString {
        WipedString::new(self.authorization.expose().to_owned())
    }

    /// `"<type> <token>"`, borrowed: no allocation. A secret: never log it.
    #[inline]
    pub fn authorization(&self) -> &str {
        self.authorization.expose()
    }
}

fn normalize_token_type(t: &str) -> String {
    if t.is_empty() || t.eq_ignore_ascii_case("bearer") {
        "Bearer".into()
    } else if t.eq_ignore_ascii_case("dpop") {
        // RFC 9449 §5: a DPoP-bound token, used as `Authorization: DPoP <token>`.
        "DPoP".into()
    } else if t.eq_ignore_ascii_case("mac") {
        "MAC".into()
    } else if t.eq_ignore_ascii_case("basic") {
        "Basic".into()
    } else {
        t.into()
    }
}

/// What the transport received from the token endpoint.
#[derive(Clone, Copy, Debug)]
pub struct Reply<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<&'a str>,
    /// The body as received.
    pub body: &'a [u8],
}

/// Reads a token endpoint's answer received at (`now`, `now_mono`). `url` is for messages.
pub fn parse_token_response(
    reply: &Reply<'_>,
    url: &str,
    now: SystemTime,
    now_mono: Instant,
) -> Result<Token> {
    if !(200..300).contains(&reply.status) {
        return Err(http_error(reply, url, now));
    }
    let fields = parse_body(reply).map_err(|why| {
        Error::invalid_response(format!(
            "token endpoint {url} answered {} with {why}",
            reply.status
        ))
        .with_http_status(reply.status)
    })?;
    let field_error = |what: String| {
        Error::invalid_response(format!(
            "token endpoint {url} answered {}: {what}",
            reply.status
        ))
        .with_http_status(reply.status)
    };
    if fields.get("error").is_some_and(|e| !e.is_null()) {
        let oauth = oauth_error_fields(&fields);
        return Err(Error::new(
            ErrorKind::BadRequest,
            format!(
                "token endpoint {url} answered {} with an error: {}",
                reply.status,
                describe(&oauth)
            ),
        )
        .with_oauth(oauth)
        .with_http_status(reply.status));
    }
    let access_token = match fields.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        Some(Value::String(_)) => return Err(field_error("access_token is empty".into())),
        Some(_) => return Err(field_error("access_token is not a string".into())),
        None => return Err(field_error("the response has no access_token".into())),
    };
    let token_type = optional_string(&fields, "token_type")
        .map_err(field_error)?
        .unwrap_or("");
    let expires_in = expires_in(fields.get("expires_in")).map_err(field_error)?;
    let scope = optional_string(&fields, "scope").map_err(field_error)?;
    let refresh_token = optional_string(&fields, "refresh_token").map_err(field_error)?;
    Token::new(
        access_token,
        token_type,
        expires_in,
        scope,
        refresh_token,
        now,
        now_mono,
    )
    .map_err(|e| field_error(e.message().to_string()))
}

/// An answer's fields, every string among them wiped when dropped: one is the access token
/// (copied into the [`Token`]'s own wiped memory), another may be a refresh token.
struct WipedFields(Map<String, Value>);

impl WipedFields {
    /// Adds a field unless one of that name came before (the first one counts, as in a form
    /// answer); a value not kept is wiped.
    fn insert_first(&mut self, name: String, value: Value) {
        if !self.0.contains_key(&name) {
            self.0.insert(name, value);
        } else {
            // Dropped as fields of its own: wiped.
            drop(WipedFields(Map::from_iter([(name, value)])));
        }
    }
}

impl std::ops::Deref for WipedFields {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl Drop for WipedFields {
    fn drop(&mut self) {
        fn wipe(value: &mut Value) {
            match value {
                Value::String(s) => zeroize::Zeroize::zeroize(s),
                Value::Array(items) => items.iter_mut().for_each(wipe),
                Value::Object(map) => map.values_mut().for_each(wipe),
                _ => {}
            }
        }
        self.0.values_mut().for_each(wipe);
    }
}

/// The error for a non-2xx answer: kind from the status, the body's OAuth fields, Retry-After.
fn http_error(reply: &Reply<'_>, url: &str, now: SystemTime) -> Error {
    let oauth = parse_error_body(reply);
    let retry_after = reply.retry_after.and_then(|v| parse_retry_after(v, now));
    let mut message = format!("token endpoint {url} answered {}", reply.status);
    if oauth.is_empty() {
        if reply.body.is_empty() {
            message.push_str(" with an empty body");
        } else {
            let ctype = reply.content_type.unwrap_or("no content type");
            message.push_str(&format!(" ({ctype}, {} bytes)", reply.body.len()));
        }
    } else {
        message.push(' ');
        message.push_str(&describe(&oauth));
    }
    if let Some(s) = retry_after {
        message.push_str(&format!("; retry after {s} s"));
    }
    Error::new(ErrorKind::from_http_status(reply.status), message)
        .with_oauth(oauth)
        .with_http_status(reply.status)
        .with_retry_after(retry_after)
}

fn describe(oauth: &OAuthError) -> String {
    match (&oauth.error, &oauth.description) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => "an error without a code".into(),
    }
}

/// The error fields of an error body: RFC 6749 §5.2 JSON (or form); RFC 9457 problem+json
/// (`title` and `detail` -> the description, `type` -> the URI); Spotify's Web API
/// `{"error":{"status","message"}}` (`message` -> the description); empty for anything else.
pub fn parse_error_body(reply: &Reply<'_>) -> OAuthError {
    match parse_body(reply) {
        Ok(fields) => oauth_error_fields(&fields),
        Err(_) => OAuthError::default(),
    }
}

fn oauth_error_fields(fields: &Map<String, Value>) -> OAuthError {
    let text = |key: &str| match fields.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let mut oauth = OAuthError {
        error: text("error"),
        description: text("error_description"),
        uri: text("error_uri"),
    };
    if let Some(Value::Object(inner)) = fields.get("error") {
        if let Some(Value::String(m)) = inner.get("message").filter(|m| m.as_str() != Some("")) {
            oauth.description = Some(m.clone());
        }
    }
    if oauth.is_empty() {
        // RFC 9457 problem details: `title` and `detail` make the description.
        oauth.description = match (text("title"), text("detail")) {
            (Some(title), Some(detail)) => Some(format!("{title}: {detail}")),
            (title, detail) => detail.or(title),
        };
        oauth.uri = text("type").filter(|t| t != "about:blank");
    }
    oauth
}

/// The body as a map of fields: JSON object, or form-urlencoded when the content type says
/// form (or text/plain that does not look like JSON). The fields' strings are wiped when
/// dropped, a form's also when parsing fails half-way; what serde_json frees along the way
/// (below) is wiped only by [`crate::WipingAllocator`].
fn parse_body(reply: &Reply<'_>) -> std::result::Result<WipedFields, String> {
    let mime = reply
        .content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let body = reply.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("an empty body".into());
    }
    let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if mime == "application/x-www-form-urlencoded" || (mime == "text/plain" && !looks_like_json) {
        return parse_form(body);
    }
    parse_json(body)
}

/// A JSON object's fields, parsed by serde_json (a repeated name: the last counts, as in
/// serde_json's maps). serde_json frees unwiped: the scratch buffer it unescapes a string
/// with escapes (`\/`, `\u0041`) into, a copy of the token; a repeated member's earlier
/// value; what it parsed of an object that fails half-way. The C library's allocator
/// ([`crate::WipingAllocator`]) wipes them, as every other freed block. Our own unescaping
/// into wiped memory, which this replaced (issue 21), took about a quarter more
/// instructions per answer (callgrind) and 70 lines.
fn parse_json(body: &[u8]) -> std::result::Result<WipedFields, String> {
    use serde_json::error::Category;
    match serde_json::from_slice::<Map<String, Value>>(body) {
        Ok(fields) => Ok(WipedFields(fields)),
        // A value of another type where the object should be (the only data error a map of
        // any values can give). Its message would quote the value: not used.
        Err(e) if e.classify() == Category::Data => Err("JSON that is not an object".into()),
        // serde_json's words for a syntax error or an early end quote nothing of the body.
        Err(e) => Err(format!("a body that is not JSON ({e})")),
    }
}

/// A form answer's fields. A repeated name: the first counts (the later values are wiped).
fn parse_form(body: &[u8]) -> std::result::Result<WipedFields, String> {
    let text =
        std::str::from_utf8(body).map_err(|_| "a form body that is not UTF-8".to_string())?;
    let mut fields = WipedFields(Map::new());
    for pair in text.trim().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = form_decode(k).ok_or("a malformed form body")?;
        let v = form_decode(v).ok_or("a malformed form body")?;
        fields.insert_first(k, Value::String(v));
    }
    Ok(fields)
}

fn optional_string<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
) -> std::result::Result<Option<&'a str>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(format!("{key} is not a string")),
    }
}

/// `expires_in` as a number or a numeric string; null or absent is unknown.
fn expires_in(value: Option<&Value>) -> std::result::Result<Option<i64>, String> {
    let clamp = |f: f64| -> i64 { f.clamp(0.0, MAX_EXPIRES_IN as f64) as i64 };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.is_finite() => Ok(Some(clamp(f))),
            _ => Err("expires_in is not a usable number".into()),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                Ok(Some(i))
            } else {
                match s.parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(Some(clamp(f))),
                    _ => Err("expires_in is not a number".into()),
                }
            }
        }
        Some(_) => Err("expires_in is not a number".into()),
    }
}

/// Seconds to wait from a `Retry-After` value: delta-seconds (saturated at `u64::MAX` when
/// larger) or an HTTP-date (IMF-fixdate).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Delta-seconds too large for a u64 mean "longer than any budget": saturate.
        return Some(value.parse::<u64>().unwrap_or(u64::MAX));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(at.saturating_sub(now).max(0) as u64)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` -> unix seconds.
fn parse_http_date(s: &str) -> Option<i64> {
    let mut parts = s.split_whitespace();
    let _weekday = parts.next()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    // A four-digit year keeps the arithmetic below far from overflow (fuzzing found
    // `Fri, 31 Dec 99955555555555559 23:59:60 GMT` overflowing i64).
    let in_range = (1..=31).contains(&day)
        && (0..=9999).contains(&year)
        && (0..=23).contains(&h)
        && (0..=59).contains(&m)
        && (0..=60).contains(&sec);
    if parts.next()? != "GMT" || !in_range {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests;
