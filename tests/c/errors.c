/*
 * errors.c: every error family a token request can end in, read the way the README says:
 * the status, then oauth2cc_last_error_*() for the details.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_BASE         http://127.0.0.1:PORT of a server that answers each path below
 *   OAUTH2CC_TEST_REFUSED_URL  a loopback URL where nothing listens
 *   OAUTH2CC_TEST_BASIC        the base64 of "errors-client:<SECRET>" (must never show either)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "oauth2cc.h"

#define CLIENT_ID "errors-client"
#define SECRET "errors-secret-2f8c1e"

static const char *base;
static const char *basic;

static char *url_for(const char *path) {
  static char url[512];
  int n = snprintf(url, sizeof url, "%s%s", base, path);
  CHECK(n > 0 && (size_t)n < sizeof url);
  return url;
}

/* The message is there, has context, and holds neither the secret nor the credentials. */
static void check_message(const char *must_contain) {
  const char *message = oauth2cc_last_error_message();
  CHECK(message != NULL);
  CHECK(message[0] != '\0');
  CHECK(strstr(message, SECRET) == NULL);
  CHECK(strstr(message, basic) == NULL);
  if (must_contain != NULL) CHECK_CONTAINS(message, must_contain);
  printf("    message: %s\n", message);
}

/* Requests a token from `url` with a `timeout_ms` timeout; returns the status and checks
   that the out-parameter was left alone on failure. */
static oauth2cc_status request(const char *url, uint32_t timeout_ms) {
  oauth2cc_config *config = NULL;
  oauth2cc_authorization *sentinel = (oauth2cc_authorization *)&config; /* never dereferenced */
  oauth2cc_authorization *auth = sentinel;
  oauth2cc_status status;

  CHECK_STATUS(oauth2cc_config_new(CLIENT_ID, SECRET, &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, url), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, timeout_ms), OAUTH2CC_STATUS_OK);
  status = oauth2cc_request_token(config, &auth);
  printf("  %s -> %s\n", url, oauth2cc_status_str((int)status));
  if (status == OAUTH2CC_STATUS_OK) {
    CHECK(auth != sentinel && auth != NULL);
    oauth2cc_authorization_free(auth);
  } else {
    CHECK(auth == sentinel);
  }
  oauth2cc_config_free(config);
  return status;
}

/* A request to `path` that must fail with `expected` and an HTTP status. */
static void expect_http_failure(const char *path, oauth2cc_status expected, int http_status) {
  char status_text[16];
  char *url = url_for(path);
  char url_copy[512];
  strcpy(url_copy, url);
  CHECK_STATUS(request(url_copy, 10000), expected);
  CHECK_INT(oauth2cc_last_error_http_status(), http_status);
  snprintf(status_text, sizeof status_text, "%d", http_status);
  check_message(url_copy);
  check_message(status_text);
}

static void bad_request(void) {
  expect_http_failure("/400", OAUTH2CC_STATUS_BAD_REQUEST, 400);
  CHECK_STR(oauth2cc_last_error_oauth_error(), "invalid_client");
  CHECK_STR(oauth2cc_last_error_description(), "Invalid client");
  CHECK_STR(oauth2cc_last_error_uri(), "https://example.com/docs/errors#invalid_client");
  CHECK_INT(oauth2cc_last_error_retry_after(), -1);
  check_message("invalid_client");
}

static void bad_request_problem_json(void) {
  /* RFC 9457: "title: detail" -> description, type (unless about:blank) -> uri, no error code. */
  expect_http_failure("/400-problem", OAUTH2CC_STATUS_BAD_REQUEST, 400);
  CHECK(oauth2cc_last_error_oauth_error() == NULL);
  CHECK_STR(oauth2cc_last_error_description(), "Bad Request: The client is not allowed this grant");
  CHECK(oauth2cc_last_error_uri() == NULL);
}

static void error_in_200(void) {
  /* A 2xx carrying an OAuth error is an error. */
  CHECK_STATUS(request(url_for("/200-error"), 10000), OAUTH2CC_STATUS_BAD_REQUEST);
  CHECK_STR(oauth2cc_last_error_oauth_error(), "invalid_scope");
  CHECK_STR(oauth2cc_last_error_description(), "Unknown scope");
  CHECK(oauth2cc_last_error_uri() == NULL);
  check_message("invalid_scope");
}

static void unauthorized(void) {
  expect_http_failure("/401", OAUTH2CC_STATUS_UNAUTHORIZED, 401);
  CHECK_STR(oauth2cc_last_error_oauth_error(), "invalid_client");
  CHECK(oauth2cc_last_error_description() == NULL);
  CHECK(oauth2cc_last_error_uri() == NULL);
}

static void rate_limited(void) {
  expect_http_failure("/429", OAUTH2CC_STATUS_RATE_LIMITED, 429);
  CHECK_INT(oauth2cc_last_error_retry_after(), 7);
}

static void server_error(void) {
  expect_http_failure("/503", OAUTH2CC_STATUS_SERVER_ERROR, 503);
  CHECK(oauth2cc_last_error_oauth_error() == NULL);
  CHECK(oauth2cc_last_error_description() == NULL);
  CHECK_INT(oauth2cc_last_error_retry_after(), -1);
}

static void other_http_statuses(void) {
  expect_http_failure("/404", OAUTH2CC_STATUS_HTTP_STATUS, 404);
  expect_http_failure("/403", OAUTH2CC_STATUS_HTTP_STATUS, 403);
  /* A redirect is not followed (the harness checks that its target saw nothing). */
  expect_http_failure("/302", OAUTH2CC_STATUS_HTTP_STATUS, 302);
}

static void refused(void) {
  const char *url = required_env("OAUTH2CC_TEST_REFUSED_URL");
  CHECK_STATUS(request(url, 10000), OAUTH2CC_STATUS_NETWORK);
  CHECK_INT(oauth2cc_last_error_http_status(), 0);
  CHECK(oauth2cc_last_error_oauth_error() == NULL);
  CHECK_INT(oauth2cc_last_error_retry_after(), -1);
  check_message(url);
}

static void reset(void) {
  CHECK_STATUS(request(url_for("/reset"), 10000), OAUTH2CC_STATUS_NETWORK);
  CHECK_INT(oauth2cc_last_error_http_status(), 0);
  check_message(NULL);
}

static void timeout(void) {
  /* The server holds the connection for 20 s; the 300 ms timeout ends the call long before
     that (the bound is generous so that a loaded machine or valgrind does not matter). */
  time_t start = time(NULL);
  CHECK_STATUS(request(url_for("/slow"), 300), OAUTH2CC_STATUS_TIMEOUT);
  CHECK(time(NULL) - start <= 10);
  CHECK_INT(oauth2cc_last_error_http_status(), 0);
  check_message(NULL);
}

static void invalid_responses(void) {
  CHECK_STATUS(request(url_for("/not-json"), 10000), OAUTH2CC_STATUS_INVALID_RESPONSE);
  CHECK_INT(oauth2cc_last_error_http_status(), 200);
  check_message(NULL);
  CHECK_STATUS(request(url_for("/no-access-token"), 10000), OAUTH2CC_STATUS_INVALID_RESPONSE);
  CHECK_INT(oauth2cc_last_error_http_status(), 200);
  check_message("access_token");
  /* Over the 64 KiB cap for a token response. */
  CHECK_STATUS(request(url_for("/huge"), 10000), OAUTH2CC_STATUS_INVALID_RESPONSE);
  check_message(NULL);
}

static void plain_http_elsewhere(void) {
  oauth2cc_config *config = NULL;
  CHECK_STATUS(oauth2cc_config_new(CLIENT_ID, SECRET, &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, "http://example.com/api/token"),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_INT(oauth2cc_last_error_http_status(), 0);
  check_message("http://example.com/api/token");
  CHECK_STATUS(oauth2cc_config_set_token_url(config, "ftp://127.0.0.1/token"),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, "not a url"), OAUTH2CC_STATUS_CONFIG);
  /* https to anywhere, and http to loopback, are fine. */
  CHECK_STATUS(oauth2cc_config_set_token_url(config, "https://example.com/api/token"),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, "http://localhost:1/token"),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, "http://[::1]:1/token"), OAUTH2CC_STATUS_OK);
  oauth2cc_config_free(config);
}

/* Errno style: a success leaves the last error alone. */
static void success_keeps_last_error(void) {
  char saved[1024];
  CHECK_STATUS(request(url_for("/429"), 10000), OAUTH2CC_STATUS_RATE_LIMITED);
  CHECK(strlen(oauth2cc_last_error_message()) < sizeof saved);
  strcpy(saved, oauth2cc_last_error_message());
  CHECK_STATUS(request(url_for("/ok"), 10000), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_last_error_message(), saved);
  CHECK_INT(oauth2cc_last_error_http_status(), 429);
  CHECK_INT(oauth2cc_last_error_retry_after(), 7);
  /* A new failure replaces every field, not just the message. */
  CHECK_STATUS(request(url_for("/400"), 10000), OAUTH2CC_STATUS_BAD_REQUEST);
  CHECK_INT(oauth2cc_last_error_retry_after(), -1);
  CHECK_STATUS(request(url_for("/503"), 10000), OAUTH2CC_STATUS_SERVER_ERROR);
  CHECK(oauth2cc_last_error_oauth_error() == NULL);
  CHECK(oauth2cc_last_error_description() == NULL);
  CHECK(oauth2cc_last_error_uri() == NULL);
}

int main(void) {
  base = required_env("OAUTH2CC_TEST_BASE");
  basic = required_env("OAUTH2CC_TEST_BASIC");

  /* Before any failure there is no error. */
  CHECK_STR(oauth2cc_last_error_message(), "");
  CHECK_INT(oauth2cc_last_error_http_status(), 0);
  CHECK_INT(oauth2cc_last_error_retry_after(), -1);

  bad_request();
  bad_request_problem_json();
  error_in_200();
  unauthorized();
  rate_limited();
  server_error();
  other_http_statuses();
  refused();
  reset();
  timeout();
  invalid_responses();
  plain_http_elsewhere();
  success_keeps_last_error();
  return checks_passed("errors");
}
