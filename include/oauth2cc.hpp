/*
 * oauth2cc.hpp — C++17 interface to oauth2cc, header-only, over the C API in oauth2cc.h.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 *   #include <oauth2cc.hpp>
 *
 *   oauth2cc::Config config("my-client-id", "my-client-secret");
 *   config.set_token_url("https://login.example.com/oauth2/token").set_scope("read");
 *   oauth2cc::Client client(config);            // share one per process
 *   oauth2cc::Authorization auth = client.token();
 *   std::string header = auth.header();         // "Bearer ..."
 *
 * Conventions:
 * - Config, Client, Authorization and Response own one C handle each and free it in their
 *   destructor. They are move-only; a moved-from object holds no handle, and calling a
 *   method on it throws oauth2cc::Error with Status::InvalidArgument (accessors return
 *   empty values instead). Authorization::clone() makes a second owner of the same token.
 * - Failures throw oauth2cc::Error, which carries the status, the library's message, the
 *   server's OAuth error, description and URI, the HTTP status and the Retry-After. Nothing
 *   else is thrown but std::bad_alloc.
 * - Strings are taken as std::string_view (copied; a string_view holding a NUL byte is
 *   refused with Status::InvalidArgument rather than silently cut short) and returned as
 *   std::string_view into the handle's own storage: valid while the object that returned
 *   them lives.
 * - Thread-safety is that of the C types: one Client is shared by any number of threads;
 *   an Authorization or Response may be read by many threads at once; a Config must not be
 *   modified while another thread uses it.
 *
 * Link with the library as for C: `pkg-config --cflags --libs oauth2cc` or the CMake target
 * `oauth2cc::oauth2cc`.
 */

#ifndef OAUTH2CC_HPP
#define OAUTH2CC_HPP

#if !defined(__cplusplus) || (__cplusplus < 201703L && (!defined(_MSVC_LANG) || _MSVC_LANG < 201703L))
#error "oauth2cc.hpp needs C++17 or later; from C, include oauth2cc.h"
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oauth2cc.h"

namespace oauth2cc {

/** Result of every fallible C call; the values are those of `oauth2cc_status`. */
enum class Status : int {
  Ok = OAUTH2CC_STATUS_OK,
  InvalidArgument = OAUTH2CC_STATUS_INVALID_ARGUMENT,
  Config = OAUTH2CC_STATUS_CONFIG,
  BadRequest = OAUTH2CC_STATUS_BAD_REQUEST,
  Unauthorized = OAUTH2CC_STATUS_UNAUTHORIZED,
  RateLimited = OAUTH2CC_STATUS_RATE_LIMITED,
  ServerError = OAUTH2CC_STATUS_SERVER_ERROR,
  HttpStatus = OAUTH2CC_STATUS_HTTP_STATUS,
  Timeout = OAUTH2CC_STATUS_TIMEOUT,
  Network = OAUTH2CC_STATUS_NETWORK,
  Tls = OAUTH2CC_STATUS_TLS,
  InvalidResponse = OAUTH2CC_STATUS_INVALID_RESPONSE,
  BufferTooSmall = OAUTH2CC_STATUS_BUFFER_TOO_SMALL,
  Panic = OAUTH2CC_STATUS_PANIC,
};

/** How the client authenticates to the token endpoint (`OAUTH2CC_AUTH_STYLE_*`). */
enum class AuthStyle : oauth2cc_auth_style {
  Basic = OAUTH2CC_AUTH_STYLE_BASIC,
  PostBody = OAUTH2CC_AUTH_STYLE_POST_BODY,
  Auto = OAUTH2CC_AUTH_STYLE_AUTO,
  PrivateKeyJwt = OAUTH2CC_AUTH_STYLE_PRIVATE_KEY_JWT,
  ClientSecretJwt = OAUTH2CC_AUTH_STYLE_CLIENT_SECRET_JWT,
  TlsClient = OAUTH2CC_AUTH_STYLE_TLS_CLIENT,
};

/** The library's version at run time, e.g. "0.1.0" (the header's is OAUTH2CC_VERSION_STRING). */
inline std::string_view version() noexcept { return oauth2cc_version(); }

/** The name of a status, e.g. "OAUTH2CC_STATUS_BAD_REQUEST"; "unknown status" for others. */
inline std::string_view status_name(Status status) noexcept {
  return oauth2cc_status_str(static_cast<int>(status));
}

/**
 * A failed call: the status and everything the library kept about the failure (the C API's
 * thread-local last error, copied when the exception is made, so it survives later calls).
 * what() is "<status name>: <message>". Never holds the client secret or a token.
 */
class Error : public std::runtime_error {
 public:
  Error(Status status, std::string message, std::optional<std::string> oauth_error = {},
        std::optional<std::string> description = {}, std::optional<std::string> uri = {},
        int http_status = 0, std::optional<std::chrono::seconds> retry_after = {})
      : std::runtime_error(std::string(status_name(status)) + ": " + message),
        status_(status),
        message_(std::move(message)),
        oauth_error_(std::move(oauth_error)),
        description_(std::move(description)),
        uri_(std::move(uri)),
        http_status_(http_status),
        retry_after_(retry_after) {}

  /** The error the calling thread's last failing C call left, with `status`. */
  static Error from_last_error(oauth2cc_status status) {
    auto opt = [](const char *s) { return s ? std::optional<std::string>(s) : std::nullopt; };
    const std::int64_t retry = oauth2cc_last_error_retry_after();
    return Error(static_cast<Status>(status), oauth2cc_last_error_message(),
                 opt(oauth2cc_last_error_oauth_error()), opt(oauth2cc_last_error_description()),
                 opt(oauth2cc_last_error_uri()), oauth2cc_last_error_http_status(),
                 retry >= 0 ? std::optional<std::chrono::seconds>(retry) : std::nullopt);
  }

  /** What failed, e.g. Status::BadRequest for the Python pytify client's BadRequestError (HTTP 400). */
  Status status() const noexcept { return status_; }
  /** The library's message, with context (URL, HTTP status, the server's error). */
  const std::string &message() const noexcept { return message_; }
  /** The server's `error`, e.g. "invalid_client"; empty when it sent none. */
  const std::optional<std::string> &oauth_error() const noexcept { return oauth_error_; }
  /** The server's `error_description` (or problem+json `detail`); empty when none. */
  const std::optional<std::string> &description() const noexcept { return description_; }
  /** The server's `error_uri`; empty when none. */
  const std::optional<std::string> &uri() const noexcept { return uri_; }
  /** The HTTP status of the response behind the failure; 0 when there was no response. */
  int http_status() const noexcept { return http_status_; }
  /** How long the server asked to wait (Retry-After); empty when it did not say. */
  std::optional<std::chrono::seconds> retry_after() const noexcept { return retry_after_; }

 private:
  Status status_;
  std::string message_;
  std::optional<std::string> oauth_error_;
  std::optional<std::string> description_;
  std::optional<std::string> uri_;
  int http_status_;
  std::optional<std::chrono::seconds> retry_after_;
};

namespace detail {

/** Throws the calling thread's last error when `status` is not OK. */
inline void check(oauth2cc_status status) {
  if (status != OAUTH2CC_STATUS_OK) throw Error::from_last_error(status);
}

/** A NUL-terminated copy of `value`; a NUL inside is refused, since C would cut it there. */
inline std::string c_str(std::string_view value, const char *what) {
  if (value.find('\0') != std::string_view::npos)
    throw Error(Status::InvalidArgument, std::string(what) + " contains a NUL byte");
  return std::string(value);
}

/** A NUL-terminated copy of a secret, overwritten with zeros when it goes out of scope. */
class SecretCopy {
 public:
  SecretCopy(std::string_view value, const char *what) : value_(detail::c_str(value, what)) {}
  SecretCopy(const SecretCopy &) = delete;
  SecretCopy &operator=(const SecretCopy &) = delete;
  ~SecretCopy() {
    volatile char *p = value_.data();
    for (std::size_t i = 0; i < value_.size(); ++i) p[i] = '\0';
  }
  const char *c_str() const noexcept { return value_.c_str(); }

 private:
  std::string value_;
};

/** `s` as a string_view; empty when NULL. */
inline std::string_view view(const char *s) noexcept {
  return s ? std::string_view(s) : std::string_view();
}

/** `s` as a string_view; nullopt when NULL. */
inline std::optional<std::string_view> opt_view(const char *s) noexcept {
  return s ? std::optional<std::string_view>(s) : std::nullopt;
}

template <typename T, void (*Free)(T *)>
struct Deleter {
  void operator()(T *p) const noexcept { Free(p); }
};

/** The owner of one C handle: move-only, freed with `Free` (NULL is a no-op in every _free). */
template <typename T, void (*Free)(T *)>
using Handle = std::unique_ptr<T, Deleter<T, Free>>;

/** The base of each wrapper class: owns its C handle and hands it out. */
template <typename T, void (*Free)(T *)>
class Owner {
 public:
  /** The C handle, still owned by this object (NULL after a move). */
  T *native_handle() const noexcept { return handle_.get(); }
  /** Gives up ownership: the caller frees the result with the matching oauth2cc_*_free. */
  T *release() noexcept { return handle_.release(); }

 protected:
  /** Takes ownership of `raw` (NULL makes an empty object). */
  explicit Owner(T *raw = nullptr) noexcept : handle_(raw) {}
  void reset(T *raw) noexcept { handle_.reset(raw); }

 private:
  Handle<T, Free> handle_;
};

}  // namespace detail

/**
 * A configuration: credentials, token URL (none until set), scope, auth style,
 * timeouts, TLS, proxy, retries, cache file. Setters return *this for chaining and throw
 * oauth2cc::Error on a bad value. The client secret is wiped from memory when freed.
 */
class Config : public detail::Owner<oauth2cc_config, oauth2cc_config_free> {
 public:
  /** Every default and no token URL (set one; for Spotify OAUTH2CC_SPOTIFY_TOKEN_URL); id and
      secret must be non-empty UTF-8. */
  Config(std::string_view client_id, std::string_view client_secret) {
    const std::string id = detail::c_str(client_id, "client_id");
    const detail::SecretCopy secret(client_secret, "client_secret");
    oauth2cc_config *raw = nullptr;
    detail::check(oauth2cc_config_new(id.c_str(), secret.c_str(), &raw));
    reset(raw);
  }

  /** A client without a secret: it authenticates with a private key or a certificate. */
  explicit Config(std::string_view client_id) {
    const std::string id = detail::c_str(client_id, "client_id");
    oauth2cc_config *raw = nullptr;
    detail::check(oauth2cc_config_new(id.c_str(), nullptr, &raw));
    reset(raw);
  }

  /** Reads a JSON configuration file (the keys of oauth2cc_config_from_file). */
  static Config from_file(std::string_view path) {
    const std::string p = detail::c_str(path, "path");
    oauth2cc_config *raw = nullptr;
    detail::check(oauth2cc_config_from_file(p.c_str(), &raw));
    return Config(raw);
  }

  /** Reads OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET, OAUTH2CC_TOKEN_URL, OAUTH2CC_SCOPE. */
  static Config from_env() {
    oauth2cc_config *raw = nullptr;
    detail::check(oauth2cc_config_from_env(&raw));
    return Config(raw);
  }

  /** `https://...`, or `http://` to a loopback host. */
  Config &set_token_url(std::string_view url) {
    return set_text(oauth2cc_config_set_token_url, url, "url");
  }
  /** Space-separated scope; empty clears it. */
  Config &set_scope(std::string_view scope) {
    return set_text(oauth2cc_config_set_scope, scope, "scope");
  }
  Config &set_auth_style(AuthStyle style) {
    return call(oauth2cc_config_set_auth_style, static_cast<oauth2cc_auth_style>(style));
  }
  /** An extra form parameter for every token request (audience, resource, ...). */
  Config &add_param(std::string_view name, std::string_view value) {
    const std::string n = detail::c_str(name, "name");
    const std::string v = detail::c_str(value, "value");
    return call(oauth2cc_config_add_param, n.c_str(), v.c_str());
  }
  /** Whole-request timeout (default 30 s); sub-millisecond parts are dropped. */
  Config &set_timeout(std::chrono::milliseconds timeout) {
    return call(oauth2cc_config_set_timeout_ms, to_ms(timeout));
  }
  /** Connection set-up timeout: TCP, proxy, TLS (default 10 s). */
  Config &set_connect_timeout(std::chrono::milliseconds timeout) {
    return call(oauth2cc_config_set_connect_timeout_ms, to_ms(timeout));
  }
  /** Trust the CA certificates in this PEM file. */
  Config &set_ca_file(std::string_view pem_path) {
    return set_text(oauth2cc_config_set_ca_file, pem_path, "pem_path");
  }
  /** `http://`, `https://` or `socks5://` proxy; empty goes back to the environment's. */
  Config &set_proxy(std::string_view proxy_url) {
    return set_text(oauth2cc_config_set_proxy, proxy_url, "proxy_url");
  }
  Config &set_user_agent(std::string_view user_agent) {
    return set_text(oauth2cc_config_set_user_agent, user_agent, "user_agent");
  }
  /** A client refreshes its token this long before it expires (default 60 s). */
  Config &set_expiry_leeway(std::chrono::seconds leeway) {
    return call(oauth2cc_config_set_expiry_leeway, to_u32(leeway.count()));
  }
  /** Retries on 429, 5xx, network errors and timeouts (default none). */
  Config &set_retries(std::uint32_t max_retries, std::chrono::milliseconds max_wait) {
    return call(oauth2cc_config_set_retries, max_retries, to_ms(max_wait));
  }
  /** Keep the token in this file so short-lived processes reuse it; empty turns it off. */
  Config &set_cache_file(std::string_view path) {
    return set_text(oauth2cc_config_set_cache_file, path, "path");
  }
  /** Share the token with every process through Redis: "redis://[user:password@]host:port[/db]"
      or "rediss://..."; one process in the fleet refreshes. Empty turns it off. */
  Config &set_shared_cache(std::string_view redis_url) {
    return set_text(oauth2cc_config_set_shared_cache, redis_url, "redis_url");
  }
  /** Shortest time a client keeps a token before asking for another (default 1 s; 0 off). */
  Config &set_min_refresh_interval(std::chrono::milliseconds interval) {
    return call(oauth2cc_config_set_min_refresh_interval_ms, to_ms(interval));
  }
  /** Shortest time between two refreshes an API's 401 causes (default 5 s; 0: every 401). */
  Config &set_unauthorized_refresh_interval(std::chrono::milliseconds interval) {
    return call(oauth2cc_config_set_unauthorized_refresh_interval_ms, to_ms(interval));
  }
  /**
   * Log lines of clients made from this config go to `callback` (NULL: off) up to
   * `max_level` (OAUTH2CC_LOG_ERROR ... OAUTH2CC_LOG_DEBUG). The callback may be called from
   * any thread with `userdata`, as long as a client made from this config lives.
   */
  Config &set_log(oauth2cc_log_fn callback, void *userdata, int max_level) {
    return call(oauth2cc_config_set_log, callback, userdata, max_level);
  }
  /** Clients refresh their token in the background (one thread per process) before it is due. */
  Config &set_background_refresh(bool enabled) {
    return call(oauth2cc_config_set_background_refresh, enabled);
  }
  /** Largest API response body Client::get reads (default 16 MiB). */
  Config &set_max_response_bytes(std::size_t max_bytes) {
    return call(oauth2cc_config_set_max_response_bytes, max_bytes);
  }
  /**
   * The PEM private key file that signs client assertions (private_key_jwt); `key_id`
   * (empty: none) goes in the JWT header "kid".
   */
  Config &set_private_key_file(std::string_view pem_path, std::string_view key_id = {}) {
    const std::string path = detail::c_str(pem_path, "pem_path");
    const std::string kid = detail::c_str(key_id, "key_id");
    return call(oauth2cc_config_set_private_key_file, path.c_str(),
                key_id.empty() ? nullptr : kid.c_str());
  }
  /** set_private_key_file with the PEM text itself (copied, and the copy wiped). */
  Config &set_private_key_pem(std::string_view pem, std::string_view key_id = {}) {
    const detail::SecretCopy copy(pem, "pem");
    const std::string kid = detail::c_str(key_id, "key_id");
    return call(oauth2cc_config_set_private_key_pem, copy.c_str(),
                key_id.empty() ? nullptr : kid.c_str());
  }
  /** "RS256", "PS256", "ES256", "ES384", "EdDSA", ...; empty: from the key. */
  Config &set_jwt_algorithm(std::string_view alg) {
    return set_text(oauth2cc_config_set_jwt_algorithm, alg, "alg");
  }
  /**
   * The TLS client certificate (mutual TLS): a PEM chain and its PEM key, presented on every
   * connection. With no secret and no private key the auth style becomes TlsClient.
   */
  Config &set_client_certificate_file(std::string_view cert_chain_pem_path,
                                      std::string_view key_pem_path) {
    const std::string chain = detail::c_str(cert_chain_pem_path, "cert_chain_pem_path");
    const std::string key = detail::c_str(key_pem_path, "key_pem_path");
    return call(oauth2cc_config_set_client_certificate_file, chain.c_str(), key.c_str());
  }
  /**
   * The authorization server's issuer: the token endpoint (and the auth methods AUTO tries)
   * come from its metadata, fetched at a client's first token request. Empty turns it off.
   */
  Config &set_issuer(std::string_view issuer_url) {
    return set_text(oauth2cc_config_set_issuer, issuer_url, "issuer_url");
  }
  /** The assertion's "aud"; empty: the URL the token request goes to. */
  Config &set_jwt_audience(std::string_view audience) {
    return set_text(oauth2cc_config_set_jwt_audience, audience, "audience");
  }
  /**
   * The JWT bearer grant (RFC 7523 §2.1): an assertion signed with the private key is the
   * grant; "sub" = `subject` (empty: the client id). No client authentication is added
   * unless a secret, an assertion file or an explicit auth style asks for it.
   */
  Config &set_jwt_bearer(std::string_view subject = {}) {
    const std::string sub = detail::c_str(subject, "subject");
    return call(oauth2cc_config_set_jwt_bearer, subject.empty() ? nullptr : sub.c_str());
  }
  /**
   * A client assertion someone else made (a Kubernetes service-account token, Entra
   * workload identity's federated token) in the file at `path`, read at every token request;
   * it replaces the secret. Empty removes it.
   */
  Config &set_client_assertion_file(std::string_view path) {
    return set_text(oauth2cc_config_set_client_assertion_file, path, "path");
  }
  /** DPoP (RFC 9449) on, with a fresh P-256 key per client, or off. */
  Config &set_dpop(bool enabled = true) { return call(oauth2cc_config_set_dpop, enabled ? 1 : 0); }
  /** DPoP with the PEM key pair in `path` (RSA: PS256, P-256: ES256, P-384: ES384, Ed25519). */
  Config &set_dpop_key_file(std::string_view path) {
    return set_text(oauth2cc_config_set_dpop_key_file, path, "path");
  }

  // native_handle() and release(): from detail::Owner.

 private:
  explicit Config(oauth2cc_config *raw) noexcept : Owner(raw) {}

  /** Calls the C setter `set` on this config; throws on failure. */
  template <typename... Params, typename... Args>
  Config &call(oauth2cc_status (*set)(oauth2cc_config *, Params...), Args... args) {
    detail::check(set(native_handle(), args...));
    return *this;
  }
  /** Calls a C setter taking one string. */
  Config &set_text(oauth2cc_status (*set)(oauth2cc_config *, const char *), std::string_view value,
                   const char *what) {
    const std::string copy = detail::c_str(value, what);
    return call(set, copy.c_str());
  }

  static std::uint32_t to_u32(long long value) noexcept {
    if (value < 0) return 0;
    if (static_cast<unsigned long long>(value) > UINT32_MAX) return UINT32_MAX;
    return static_cast<std::uint32_t>(value);
  }
  static std::uint32_t to_ms(std::chrono::milliseconds d) noexcept {
    return to_u32(static_cast<long long>(d.count()));
  }
};

/**
 * An access token with its type, lifetime and scope, like the Python pytify client's Authorization tuple.
 * Immutable; any number of threads may read one at once. The token is a secret: do not log
 * it. It is wiped from memory when its last owner is destroyed.
 */
class Authorization : public detail::Owner<oauth2cc_authorization, oauth2cc_authorization_free> {
 public:
  /** Takes ownership of a handle from the C API (NULL makes an empty object). */
  explicit Authorization(oauth2cc_authorization *raw) noexcept : Owner(raw) {}

  /** The access token; empty after a move. */
  std::string_view access_token() const noexcept {
    return detail::view(oauth2cc_authorization_access_token(native_handle()));
  }
  /** "Bearer" for any casing the server sent. */
  std::string_view token_type() const noexcept {
    return detail::view(oauth2cc_authorization_token_type(native_handle()));
  }
  /** Lifetime as the server sent it; empty when it did not say. */
  std::optional<std::chrono::seconds> expires_in() const noexcept {
    const std::int64_t s = oauth2cc_authorization_expires_in(native_handle());
    return s >= 0 ? std::optional<std::chrono::seconds>(s) : std::nullopt;
  }
  /** When the token expires, computed on receipt; empty when unknown. */
  std::optional<std::chrono::system_clock::time_point> expires_at() const noexcept {
    const std::int64_t t = oauth2cc_authorization_expires_at(native_handle());
    if (t < 0) return std::nullopt;
    return std::chrono::system_clock::time_point(std::chrono::seconds(t));
  }
  /** The scope the server granted; empty when it sent none. */
  std::optional<std::string_view> scope() const noexcept {
    return detail::opt_view(oauth2cc_authorization_scope(native_handle()));
  }
  /** Always empty for the client credentials grant; kept for the pytify client's tuple. */
  std::optional<std::string_view> refresh_token() const noexcept {
    return detail::opt_view(oauth2cc_authorization_refresh_token(native_handle()));
  }
  /** Whether it has expired or will within `leeway`; true after a move. */
  bool is_expired(std::chrono::seconds leeway = std::chrono::seconds(0)) const noexcept {
    const long long s = leeway.count();
    const std::uint32_t l = s < 0 ? 0u : s > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(s);
    return oauth2cc_authorization_is_expired(native_handle(), l);
  }
  /** The Authorization header value, "Bearer <token>". */
  std::string header() const {
    std::size_t needed = 0;
    const oauth2cc_status first = oauth2cc_authorization_header(native_handle(), nullptr, 0, &needed);
    if (first != OAUTH2CC_STATUS_BUFFER_TOO_SMALL) detail::check(first);
    std::string value(needed + 1, '\0');
    detail::check(oauth2cc_authorization_header(native_handle(), value.data(), value.size(), &needed));
    value.resize(needed);
    return value;
  }
  /** Another owner of the same token, e.g. to keep on another thread. */
  Authorization clone() const {
    oauth2cc_authorization *raw = oauth2cc_authorization_clone(native_handle());
    if (raw == nullptr)
      throw Error(Status::InvalidArgument, "clone of an empty oauth2cc::Authorization");
    return Authorization(raw);
  }
};

/** An API response from Client::get: status, headers and the whole body. Immutable. */
class Response : public detail::Owner<oauth2cc_response, oauth2cc_response_free> {
 public:
  explicit Response(oauth2cc_response *raw) noexcept : Owner(raw) {}

  /** The HTTP status code (any status is a successful call); 0 after a move. */
  int status() const noexcept { return oauth2cc_response_status(native_handle()); }
  /** The body's bytes (also NUL-terminated in memory, not counted). */
  std::string_view body() const noexcept {
    std::size_t len = 0;
    const std::uint8_t *data = oauth2cc_response_body(native_handle(), &len);
    return data ? std::string_view(reinterpret_cast<const char *>(data), len) : std::string_view();
  }
  /** The first header called `name` (case-insensitive); empty when there is none. */
  std::optional<std::string_view> header(std::string_view name) const {
    const std::string n = detail::c_str(name, "name");
    return detail::opt_view(oauth2cc_response_header(native_handle(), n.c_str()));
  }
  /** Every header as (lower-case name, value), in order; a repeated header once per value. */
  std::vector<std::pair<std::string_view, std::string_view>> headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> all;
    const std::size_t count = oauth2cc_response_header_count(native_handle());
    all.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const char *name = nullptr;
      const char *value = nullptr;
      detail::check(oauth2cc_response_header_at(native_handle(), i, &name, &value));
      all.emplace_back(name, value);
    }
    return all;
  }
};

/**
 * A token source for one configuration, shared by all threads of a process: token() hands
 * out the cached token and refreshes it once, for all threads, when it is about to expire.
 */
class Client : public detail::Owner<oauth2cc_client, oauth2cc_client_free> {
 public:
  /** Copies what it needs from `config`, which may be destroyed afterwards. */
  explicit Client(const Config &config) {
    oauth2cc_client *raw = nullptr;
    detail::check(oauth2cc_client_new(config.native_handle(), &raw));
    reset(raw);
  }

  /** A valid token: the cached one, or a freshly fetched one. */
  Authorization token() {
    oauth2cc_authorization *raw = nullptr;
    detail::check(oauth2cc_client_token(native_handle(), &raw));
    return Authorization(raw);
  }
  /** Forgets the cached token, e.g. after an API answered 401. */
  void invalidate() noexcept { oauth2cc_client_invalidate(native_handle()); }
  /** GETs `url` with the token; on a 401 refreshes and retries once. */
  Response get(std::string_view url) {
    const std::string u = detail::c_str(url, "url");
    oauth2cc_response *raw = nullptr;
    detail::check(oauth2cc_client_get(native_handle(), u.c_str(), &raw));
    return Response(raw);
  }
  /**
   * Sends `method` to `url` with the token, `headers` ("Name: value" each; not
   * Authorization, Content-Length, Transfer-Encoding or Host) and `body` as it is; on a 401
   * refreshes and sends once more, body included. Any HTTP status is returned.
   */
  Response request(std::string_view method, std::string_view url,
                   const std::vector<std::string> &headers = {}, std::string_view body = {}) {
    const std::string m = detail::c_str(method, "method");
    const std::string u = detail::c_str(url, "url");
    std::vector<const char *> lines;
    lines.reserve(headers.size() + 1);
    for (const std::string &h : headers) {
      if (h.find('\0') != std::string::npos)
        throw Error(Status::InvalidArgument, "a header holds a NUL byte");
      lines.push_back(h.c_str());
    }
    lines.push_back(nullptr);
    oauth2cc_response *raw = nullptr;
    detail::check(oauth2cc_client_request(native_handle(), m.c_str(), u.c_str(), lines.data(),
                                          reinterpret_cast<const std::uint8_t *>(body.data()),
                                          body.size(), &raw));
    return Response(raw);
  }
  /** "<type> <token>" of a valid token, for an Authorization header (no allocation inside
      the library on a cache hit; this overload allocates the std::string). */
  std::string authorization_header() {
    char stack[512];
    std::size_t needed = 0;
    const oauth2cc_status first =
        oauth2cc_client_authorization_header(native_handle(), stack, sizeof stack, &needed);
    if (first == OAUTH2CC_STATUS_OK) return std::string(stack, needed);
    if (first != OAUTH2CC_STATUS_BUFFER_TOO_SMALL) detail::check(first);
    std::string value(needed + 1, '\0');
    detail::check(
        oauth2cc_client_authorization_header(native_handle(), value.data(), value.size(), &needed));
    value.resize(needed);
    return value;
  }
  /** The same into the caller's buffer (snprintf rules): the hot path, no allocation. */
  oauth2cc_status authorization_header(char *buf, std::size_t buf_len, std::size_t *needed) noexcept {
    return oauth2cc_client_authorization_header(native_handle(), buf, buf_len, needed);
  }
  /**
   * The DPoP header's value for one request with a DPoP-bound token (authorization_header()
   * then says "DPoP <token>"): a fresh proof for `method` and `url`, `ath` over
   * `access_token` (empty: the client's current token). Throws Status::Config when DPoP is
   * off. Make one per request.
   */
  std::string dpop_proof(std::string_view method, std::string_view url,
                         std::string_view access_token = {}) {
    const std::string m = detail::c_str(method, "method");
    const std::string u = detail::c_str(url, "url");
    const detail::SecretCopy token(access_token, "access_token");
    const char *t = access_token.empty() ? nullptr : token.c_str();
    std::size_t needed = 0;
    const oauth2cc_status first =
        oauth2cc_client_dpop_proof(native_handle(), m.c_str(), u.c_str(), t, nullptr, 0, &needed);
    if (first != OAUTH2CC_STATUS_BUFFER_TOO_SMALL) detail::check(first);
    std::string value(needed + 1, '\0');
    detail::check(oauth2cc_client_dpop_proof(native_handle(), m.c_str(), u.c_str(), t,
                                             value.data(), value.size(), &needed));
    value.resize(needed);
    return value;
  }
  /** The client's counters now. */
  oauth2cc_client_stats stats() const {
    oauth2cc_client_stats s{};
    s.struct_size = sizeof s;
    detail::check(oauth2cc_client_get_stats(native_handle(), &s));
    return s;
  }
};

/** One token from Spotify's accounts service with every default (the Python pytify client's authenticate). */
inline Authorization authenticate(std::string_view client_id, std::string_view client_secret) {
  const std::string id = detail::c_str(client_id, "client_id");
  const detail::SecretCopy secret(client_secret, "client_secret");
  oauth2cc_authorization *raw = nullptr;
  detail::check(oauth2cc_authenticate(id.c_str(), secret.c_str(), &raw));
  return Authorization(raw);
}

/** One token with `config`, on a fresh connection (a Client caches and reuses). */
inline Authorization request_token(const Config &config) {
  oauth2cc_authorization *raw = nullptr;
  detail::check(oauth2cc_request_token(config.native_handle(), &raw));
  return Authorization(raw);
}

}  // namespace oauth2cc

#endif /* OAUTH2CC_HPP */
