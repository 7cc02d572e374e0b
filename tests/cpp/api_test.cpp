// api_test.cpp: the C++ interface (include/oauth2cc.hpp), used the way its comments tell a
// C++ programmer to use it. Built by tests/cpp_api.rs with -std=c++17 -Wall -Wextra -Werror
// -pedantic, linked to the library cargo built, and run against a loopback server there.
//
// Environment (set by tests/cpp_api.rs):
//   OAUTH2CC_TEST_BASE         http://127.0.0.1:PORT of the test server, which answers
//     POST /token         cpp-client / cpp-secret (Basic or body) -> a token "tok-<n>",
//                         "bearer", 3600 s, the requested scope echoed; otherwise 401
//                         invalid_client
//     POST /bad           400 invalid_request, a description and an error_uri
//     POST /limited       429 with Retry-After: 7
//     POST /unavailable   503 with an empty body
//     POST /teapot        418
//     POST /garbage       200 with a body that is not JSON
//     GET  /api/me        200 {"id":"me"} and X-Echo-Authorization when the Bearer token is
//                         one it issued, 401 otherwise
//   OAUTH2CC_TEST_REFUSED_URL  a loopback token URL where nothing listens
//   OAUTH2CC_TEST_CONFIG_FILE  a JSON config for /token with scope "file-scope"
//   OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET, OAUTH2CC_TOKEN_URL  for Config::from_env
//
// The harness checks on the server side how many token requests were made (see the end).

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "oauth2cc.hpp"

using namespace std::chrono_literals;
using namespace std::string_view_literals;

namespace {

unsigned long checks_run = 0;

[[noreturn]] void fail(const char *file, int line, const std::string &what) {
  std::cerr << file << ":" << line << ": check failed: " << what << std::endl;
  std::exit(1);
}

// How a checked value is printed when a check fails.
std::string show(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }
std::string show(oauth2cc::Status s) { return std::string(oauth2cc::status_name(s)); }
template <typename T>
std::string show(const T &value) {
  std::ostringstream out;
  out << value;
  return out.str();
}
template <typename T>
std::string show(const std::optional<T> &value) {
  return value ? "optional(" + show(*value) + ")" : "nullopt";
}

#define CHECK(expr)                                 \
  do {                                              \
    ++checks_run;                                   \
    if (!(expr)) fail(__FILE__, __LINE__, #expr);   \
  } while (0)

#define CHECK_EQ(actual, expected)                                                        \
  do {                                                                                    \
    ++checks_run;                                                                         \
    const auto &a_ = (actual);                                                            \
    const auto &e_ = (expected);                                                          \
    if (!(a_ == e_))                                                                      \
      fail(__FILE__, __LINE__, std::string(#actual) + " is " + show(a_) + ", expected " + \
                                   show(e_));                                             \
  } while (0)

// `statement` throws oauth2cc::Error with `expected_status`; the error is kept in `caught`.
#define CHECK_THROWS(statement, expected_status, caught)                                    \
  do {                                                                                      \
    ++checks_run;                                                                           \
    try {                                                                                   \
      statement;                                                                            \
      fail(__FILE__, __LINE__, std::string(#statement) + " did not throw");                \
    } catch (const oauth2cc::Error &e_) {                                                   \
      if (e_.status() != (expected_status))                                                 \
        fail(__FILE__, __LINE__,                                                            \
             std::string(#statement) + " threw " + e_.what() + ", expected " +              \
                 show(expected_status));                                                    \
      caught.emplace(e_);                                                                   \
    }                                                                                       \
  } while (0)

std::string env(const char *name) {
  const char *value = std::getenv(name);
  if (value == nullptr || value[0] == '\0') {
    std::cerr << "environment variable " << name << " is not set (run me through tests/cpp_api.rs)\n";
    std::exit(1);
  }
  return value;
}

std::string base;

oauth2cc::Config config_for(std::string_view path) {
  oauth2cc::Config config("cpp-client"sv, "cpp-secret"sv);
  config.set_token_url(base + std::string(path)).set_timeout(5s);
  return config;
}

// RAII types own their handle alone: no copies, cheap non-throwing moves.
template <typename T>
constexpr bool move_only_v = !std::is_copy_constructible_v<T> && !std::is_copy_assignable_v<T> &&
                             std::is_nothrow_move_constructible_v<T> &&
                             std::is_nothrow_move_assignable_v<T>;
static_assert(move_only_v<oauth2cc::Config>);
static_assert(move_only_v<oauth2cc::Client>);
static_assert(move_only_v<oauth2cc::Authorization>);
static_assert(move_only_v<oauth2cc::Response>);
static_assert(std::is_base_of_v<std::runtime_error, oauth2cc::Error>);
static_assert(static_cast<int>(oauth2cc::Status::BadRequest) == OAUTH2CC_STATUS_BAD_REQUEST);
static_assert(static_cast<int>(oauth2cc::Status::Panic) == OAUTH2CC_STATUS_PANIC);

void check_version() {
  CHECK_EQ(oauth2cc::version(), std::string_view(OAUTH2CC_VERSION_STRING));
  CHECK_EQ(oauth2cc::status_name(oauth2cc::Status::RateLimited), "OAUTH2CC_STATUS_RATE_LIMITED"sv);
  CHECK_EQ(oauth2cc::status_name(static_cast<oauth2cc::Status>(4242)), "unknown status"sv);
}

// A token as the server issues it: "tok-<n>", Bearer, one hour.
void check_fresh(const oauth2cc::Authorization &auth, std::optional<std::string_view> scope) {
  CHECK(auth.access_token().substr(0, 4) == "tok-");
  CHECK_EQ(auth.token_type(), "Bearer"sv);
  CHECK_EQ(auth.expires_in(), std::optional<std::chrono::seconds>(3600s));
  const auto expires_at = auth.expires_at();
  CHECK(expires_at.has_value());
  const auto left = *expires_at - std::chrono::system_clock::now();
  CHECK(left > 3500s && left <= 3601s);
  CHECK_EQ(auth.scope(), scope);
  CHECK(!auth.refresh_token().has_value());
  CHECK(!auth.is_expired());
  CHECK(!auth.is_expired(60s));
  CHECK(auth.is_expired(2h));
  CHECK_EQ(auth.header(), "Bearer " + std::string(auth.access_token()));
}

void check_request_token() {  // token requests: 3
  std::string first_token;
  {
    oauth2cc::Authorization auth = oauth2cc::request_token(config_for("/token"));
    check_fresh(auth, std::nullopt);
    first_token = std::string(auth.access_token());

    // clone() outlives the original; a move leaves an empty object behind.
    oauth2cc::Authorization copy = auth.clone();
    oauth2cc::Authorization moved = std::move(auth);
    CHECK(auth.native_handle() == nullptr);  // NOLINT(bugprone-use-after-move): on purpose
    CHECK(auth.access_token().empty());
    CHECK(auth.is_expired());
    CHECK(!auth.scope().has_value());
    std::optional<oauth2cc::Error> caught;
    CHECK_THROWS((void)auth.header(), oauth2cc::Status::InvalidArgument, caught);
    CHECK_THROWS((void)auth.clone(), oauth2cc::Status::InvalidArgument, caught);
    moved = oauth2cc::Authorization(nullptr);  // frees the first handle
    CHECK_EQ(copy.access_token(), std::string_view(first_token));
  }

  // Scope and the body auth style, from string_views that are not NUL-terminated.
  const std::string_view scope_text = "read write-and-more"sv.substr(0, 10);  // "read write"
  oauth2cc::Config config = config_for("/token");
  config.set_scope(scope_text).set_auth_style(oauth2cc::AuthStyle::PostBody);
  const oauth2cc::Authorization scoped = oauth2cc::request_token(config);
  check_fresh(scoped, "read write"sv);
  CHECK(scoped.access_token() != std::string_view(first_token));

  // Extra parameters, the user agent and retries are accepted by a valid config.
  oauth2cc::Config extra = config_for("/token");
  extra.add_param("audience", "https://api.example.com")
      .set_user_agent("api_test/1.0")
      .set_retries(2, 100ms)
      .set_expiry_leeway(30s)
      .set_connect_timeout(2s)
      .set_min_refresh_interval(500ms)
      .set_unauthorized_refresh_interval(0ms)
      .set_max_response_bytes(4096);
  check_fresh(oauth2cc::request_token(extra), std::nullopt);
}

void check_config_errors() {  // token requests: 0
  std::optional<oauth2cc::Error> caught;
  CHECK_THROWS(oauth2cc::Config("", "secret"), oauth2cc::Status::InvalidArgument, caught);
  CHECK(caught->message().find("client_id") != std::string::npos);
  CHECK_EQ(caught->http_status(), 0);

  // A string_view holding a NUL would be cut short by C: refused before any call.
  CHECK_THROWS(oauth2cc::Config("cpp-client"sv, "cpp-\0secret"sv), oauth2cc::Status::InvalidArgument,
               caught);
  CHECK(caught->message().find("NUL") != std::string::npos);
  CHECK(std::string(caught->what()).find("cpp-") == std::string::npos);

  oauth2cc::Config config("cpp-client", "cpp-secret");
  CHECK_THROWS(config.set_token_url("ftp://example.com/token"), oauth2cc::Status::Config, caught);
  CHECK_THROWS(config.set_token_url("http://example.com/token"), oauth2cc::Status::Config, caught);
  CHECK_THROWS(config.set_timeout(0ms), oauth2cc::Status::InvalidArgument, caught);
  CHECK_THROWS(config.set_shared_cache("http://:cpp-pw@127.0.0.1"), oauth2cc::Status::Config, caught);
  CHECK(caught->message().find("cpp-pw") == std::string::npos);
  CHECK_THROWS(config.add_param("grant_type", "password"), oauth2cc::Status::InvalidArgument, caught);
  CHECK_THROWS(config.set_auth_style(static_cast<oauth2cc::AuthStyle>(99)),
               oauth2cc::Status::InvalidArgument, caught);
  CHECK_THROWS(oauth2cc::Config::from_file("/nonexistent/oauth2cc.json"), oauth2cc::Status::Config,
               caught);
  CHECK(caught->message().find("/nonexistent/oauth2cc.json") != std::string::npos);

  // Key-based authentication: no secret, a key that is not one, an algorithm that is not one.
  oauth2cc::Config keyed("cpp-client");
  CHECK_THROWS(keyed.set_private_key_file("/nonexistent/key.pem", "kid"), oauth2cc::Status::Config,
               caught);
  CHECK(caught->message().find("/nonexistent/key.pem") != std::string::npos);
  CHECK_THROWS(keyed.set_private_key_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n"),
               oauth2cc::Status::Config, caught);
  CHECK_THROWS(keyed.set_jwt_algorithm("none"), oauth2cc::Status::InvalidArgument, caught);
  keyed.set_jwt_algorithm("ES256").set_jwt_audience("https://issuer.example").set_jwt_algorithm("");
  keyed.set_auth_style(oauth2cc::AuthStyle::PrivateKeyJwt);
  CHECK_THROWS(keyed.set_client_certificate_file("/nonexistent/c.pem", "/nonexistent/k.pem"),
               oauth2cc::Status::Config, caught);
  CHECK(caught->message().find("/nonexistent/c.pem") != std::string::npos);
  CHECK_THROWS(keyed.set_issuer("http://example.com"), oauth2cc::Status::Config, caught);
  keyed.set_issuer("https://login.example.com/tenant").set_issuer("");

  // A moved-from config holds nothing: using it throws instead of crashing.
  oauth2cc::Config moved = std::move(config);
  CHECK(config.native_handle() == nullptr);  // NOLINT(bugprone-use-after-move): on purpose
  CHECK_THROWS(config.set_scope("x"), oauth2cc::Status::InvalidArgument, caught);
  CHECK_THROWS(oauth2cc::Client client(config), oauth2cc::Status::InvalidArgument, caught);
  CHECK(moved.native_handle() != nullptr);
}

void check_server_errors() {  // token requests: 6 (one of them a 401)
  std::optional<oauth2cc::Error> caught;

  // The Python pytify client's BadRequestError, with everything the server said.
  CHECK_THROWS(oauth2cc::request_token(config_for("/bad")), oauth2cc::Status::BadRequest, caught);
  CHECK_EQ(caught->http_status(), 400);
  CHECK_EQ(caught->oauth_error(), std::optional<std::string>("invalid_request"));
  CHECK_EQ(caught->description(), std::optional<std::string>("Missing grant type"));
  CHECK_EQ(caught->uri(), std::optional<std::string>("https://example.com/errors/invalid_request"));
  CHECK(!caught->retry_after().has_value());
  CHECK(std::string(caught->what()).rfind("OAUTH2CC_STATUS_BAD_REQUEST: ", 0) == 0);
  CHECK(caught->message().find("Missing grant type") != std::string::npos);

  oauth2cc::Config wrong("cpp-client", "not-the-secret");
  wrong.set_token_url(base + "/token");
  CHECK_THROWS(oauth2cc::request_token(wrong), oauth2cc::Status::Unauthorized, caught);
  CHECK_EQ(caught->http_status(), 401);
  CHECK_EQ(caught->oauth_error(), std::optional<std::string>("invalid_client"));
  CHECK(std::string(caught->what()).find("not-the-secret") == std::string::npos);

  CHECK_THROWS(oauth2cc::request_token(config_for("/limited")), oauth2cc::Status::RateLimited, caught);
  CHECK_EQ(caught->http_status(), 429);
  CHECK_EQ(caught->retry_after(), std::optional<std::chrono::seconds>(7s));

  CHECK_THROWS(oauth2cc::request_token(config_for("/unavailable")), oauth2cc::Status::ServerError,
               caught);
  CHECK_EQ(caught->http_status(), 503);
  CHECK(!caught->oauth_error().has_value());

  CHECK_THROWS(oauth2cc::request_token(config_for("/teapot")), oauth2cc::Status::HttpStatus, caught);
  CHECK_EQ(caught->http_status(), 418);

  CHECK_THROWS(oauth2cc::request_token(config_for("/garbage")), oauth2cc::Status::InvalidResponse,
               caught);

  oauth2cc::Config refused("cpp-client", "cpp-secret");
  refused.set_token_url(env("OAUTH2CC_TEST_REFUSED_URL"));
  CHECK_THROWS(oauth2cc::request_token(refused), oauth2cc::Status::Network, caught);
  CHECK_EQ(caught->http_status(), 0);

  // The error is a copy: later calls on this thread do not change it.
  const oauth2cc::Error kept = *caught;
  CHECK_THROWS(oauth2cc::request_token(config_for("/teapot")), oauth2cc::Status::HttpStatus, caught);
  CHECK_EQ(kept.status(), oauth2cc::Status::Network);
}

void check_client() {  // token requests: 2
  std::optional<oauth2cc::Error> caught_early;
  // A shared cache nobody listens on (loopback port 1) costs nothing: the client fetches itself.
  oauth2cc::Config shared = config_for("/token");
  shared.set_shared_cache("redis://127.0.0.1:1");
  oauth2cc::Client client(shared);
  const oauth2cc::Authorization first = client.token();
  check_fresh(first, std::nullopt);
  // Cached: the same token, no request.
  CHECK_EQ(client.token().access_token(), first.access_token());

  oauth2cc::Response me = client.get(base + "/api/me");
  CHECK_EQ(me.status(), 200);
  CHECK_EQ(me.body(), R"({"id":"me"})"sv);
  CHECK_EQ(me.header("content-type"), std::optional<std::string_view>("application/json"));
  const std::string first_header = first.header();
  CHECK_EQ(me.header("X-ECHO-AUTHORIZATION"), std::optional<std::string_view>(first_header));
  CHECK(!me.header("x-not-there").has_value());

  // Every header, and the same GET through request() with a caller's header.
  bool saw_echo = false;
  for (const auto &[name, value] : me.headers()) {
    if (name == "x-echo-authorization") saw_echo = value == first_header;
  }
  CHECK(saw_echo);
  oauth2cc::Response again = client.request("GET", base + "/api/me", {"Accept: application/json"});
  CHECK_EQ(again.status(), 200);
  CHECK_THROWS(client.request("GET", base + "/api/me", {"Authorization: Bearer mine"}),
               oauth2cc::Status::InvalidArgument, caught_early);
  CHECK(caught_early->message().find("Authorization") != std::string::npos);
  // The header hot path, both overloads, and the counters.
  CHECK_EQ(client.authorization_header(), first_header);
  char buf[8];
  std::size_t needed = 0;
  CHECK_EQ(client.authorization_header(buf, sizeof buf, &needed), OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK_EQ(needed, first_header.size());
  const oauth2cc_client_stats stats = client.stats();
  CHECK_EQ(stats.token_requests, 1u);
  CHECK(stats.cache_hits >= 3u);

  // A Response moves like the others.
  oauth2cc::Response kept = std::move(me);
  CHECK_EQ(me.status(), 0);  // NOLINT(bugprone-use-after-move): on purpose
  CHECK(me.body().empty());
  CHECK_EQ(kept.status(), 200);

  client.invalidate();
  const oauth2cc::Authorization second = client.token();
  CHECK(second.access_token() != first.access_token());
  CHECK_EQ(first.token_type(), "Bearer"sv);  // the old handle stays valid

  std::optional<oauth2cc::Error> caught;
  CHECK_THROWS(client.get("ftp://127.0.0.1/x"), oauth2cc::Status::Config, caught);

  oauth2cc::Client other = std::move(client);
  CHECK_THROWS(client.token(), oauth2cc::Status::InvalidArgument, caught);  // NOLINT: on purpose
  client.invalidate();  // a no-op on a moved-from client
  CHECK_EQ(other.token().access_token(), second.access_token());
}

void check_config_sources() {  // token requests: 2
  const oauth2cc::Authorization from_file =
      oauth2cc::request_token(oauth2cc::Config::from_file(env("OAUTH2CC_TEST_CONFIG_FILE")));
  check_fresh(from_file, "file-scope"sv);
  const oauth2cc::Authorization from_env = oauth2cc::request_token(oauth2cc::Config::from_env());
  check_fresh(from_env, std::nullopt);
}

}  // namespace

int main() {
  base = env("OAUTH2CC_TEST_BASE");
  check_version();
  check_request_token();
  check_config_errors();
  check_server_errors();
  check_client();
  check_config_sources();
  std::cout << "api_test: all " << checks_run << " checks passed" << std::endl;
  return 0;
}
