/*
 * requests.c: authorized requests with any method, the log callback, the counters, the
 * header hot path and the background refresher, through the C API.
 *
 *   1. POST a JSON body with headers, PUT, PATCH, DELETE, and a GET: the API echoes what it
 *      got (method, content type, the caller's header, the body, the Authorization).
 *   2. The 401 rule with a body: the API refuses the first token; the request, body
 *      included, is sent again with the second.
 *   3. Response headers: a header sent twice is listed twice by _header_count/_header_at.
 *   4. A body over the configured cap is INVALID_RESPONSE.
 *   5. The log callback at DEBUG: lines for the token request, the retry after a 503 and the
 *      401-driven refresh; no line holds the secret, its Basic base64 or a token.
 *   6. Counters after a known sequence of hits, refreshes and failures; a smaller struct.
 *   7. oauth2cc_client_authorization_header: snprintf rules.
 *   8. Background refresh: tokens living 3 s; while the refresher runs, callers only hit.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_BASE  http://127.0.0.1:PORT of a server with
 *     POST /token, /rf/token, /hp/token
 *                           tokens tok-N, rf-N, hp-N, each counted on its own (Basic
 *                           req-client:req-secret-0123456789)
 *     POST /flaky/token     503 for every other request, else a token flaky-N
 *     POST /short/token     tokens short-N living 3 s
 *     ANY  /echo            200 {"method":..,"type":..,"x_trace":..,"body":..,"auth":..}
 *     ANY  /refuses-first   401 for the first token of each kind ("Bearer <kind>-1"), else
 *                           like /echo
 *     GET  /twice           200 with Set-Cookie: a=1 and Set-Cookie: b=2
 *     GET  /big             200 with 4096 bytes
 *     GET  /count/short     how many /short/token requests were made
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "oauth2cc.h"

#define SECRET "req-secret-0123456789"
/* base64("req-client:req-secret-0123456789") */
#define BASIC_B64 "cmVxLWNsaWVudDpyZXEtc2VjcmV0LTAxMjM0NTY3ODk="

static const char *base;

static oauth2cc_config *config_for(const char *token_path) {
  return test_config("req-client", SECRET, base, token_path, 5000);
}

static oauth2cc_client *client_for(const char *token_path) {
  return client_from(config_for(token_path));
}

static const char *url_of(const char *path) {
  static char url[256];
  snprintf(url, sizeof url, "%s%s", base, path);
  return url;
}

static void methods_headers_bodies(void) {
  oauth2cc_client *client = client_for("/token");
  oauth2cc_response *response = NULL;
  const char *headers[] = {"Content-Type: application/json", "X-Trace:  abc-123 ", NULL};
  static const char json[] = "{\"name\":\"x\",\"n\":1}";
  size_t len = 0;

  CHECK_STATUS(oauth2cc_client_request(client, "POST", url_of("/echo"), headers,
                                       (const uint8_t *)json, strlen(json), &response),
               OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  const char *body = (const char *)oauth2cc_response_body(response, &len);
  CHECK_CONTAINS(body, "\"method\":\"POST\"");
  CHECK_CONTAINS(body, "\"type\":\"application/json\"");
  CHECK_CONTAINS(body, "\"x_trace\":\"abc-123\"");
  CHECK_CONTAINS(body, "\"body\":\"{\\\"name\\\":\\\"x\\\",\\\"n\\\":1}\"");
  CHECK_CONTAINS(body, "\"auth\":\"Bearer tok-1\"");
  oauth2cc_response_free(response);

  const char *methods[] = {"PUT", "PATCH", "DELETE", "GET", "OPTIONS"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    const char *payload = i < 2 ? "payload" : NULL;
    char expected[64];
    CHECK_STATUS(oauth2cc_client_request(client, methods[i], url_of("/echo"), NULL,
                                         (const uint8_t *)payload, payload ? 7 : 0, &response),
                 OAUTH2CC_STATUS_OK);
    snprintf(expected, sizeof expected, "\"method\":\"%s\"", methods[i]);
    CHECK_CONTAINS((const char *)oauth2cc_response_body(response, NULL), expected);
    CHECK_CONTAINS((const char *)oauth2cc_response_body(response, NULL),
                   payload ? "\"body\":\"payload\"" : "\"body\":\"\"");
    oauth2cc_response_free(response);
  }
  oauth2cc_client_free(client);
}

static void resend_after_401_with_body(void) {
  oauth2cc_client *client = client_for("/rf/token");
  oauth2cc_response *response = NULL;
  static const char form[] = "a=1&b=2";
  const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
  CHECK_STATUS(oauth2cc_client_request(client, "POST", url_of("/refuses-first"), headers,
                                       (const uint8_t *)form, strlen(form), &response),
               OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  CHECK_CONTAINS((const char *)oauth2cc_response_body(response, NULL), "\"body\":\"a=1&b=2\"");
  CHECK_CONTAINS((const char *)oauth2cc_response_body(response, NULL), "\"auth\":\"Bearer rf-2\"");
  oauth2cc_response_free(response);

  oauth2cc_client_stats stats;
  memset(&stats, 0xAB, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_STATUS(oauth2cc_client_get_stats(client, &stats), OAUTH2CC_STATUS_OK);
  CHECK_INT(stats.unauthorized_refreshes, 1);
  CHECK_INT(stats.token_requests, 2);
  oauth2cc_client_free(client);
}

static void repeated_headers_and_the_cap(void) {
  oauth2cc_config *config = NULL;
  oauth2cc_client *client = NULL;
  oauth2cc_response *response = NULL;
  config = config_for("/token");
  CHECK_STATUS(oauth2cc_config_set_max_response_bytes(config, 1000), OAUTH2CC_STATUS_OK);
  client = client_from(config);

  CHECK_STATUS(oauth2cc_client_get(client, url_of("/twice"), &response), OAUTH2CC_STATUS_OK);
  size_t count = oauth2cc_response_header_count(response);
  int cookies = 0;
  const char *seen[2] = {NULL, NULL};
  for (size_t i = 0; i < count; i++) {
    const char *name = NULL, *value = NULL;
    CHECK_STATUS(oauth2cc_response_header_at(response, i, &name, &value), OAUTH2CC_STATUS_OK);
    if (strcmp(name, "set-cookie") == 0 && cookies < 2) seen[cookies++] = value;
  }
  CHECK_INT(cookies, 2);
  CHECK_STR(seen[0], "a=1");
  CHECK_STR(seen[1], "b=2");
  CHECK_STR(oauth2cc_response_header(response, "Set-Cookie"), "a=1");
  {
    const char *name = "untouched", *value = "untouched";
    CHECK_STATUS(oauth2cc_response_header_at(response, count, &name, &value),
                 OAUTH2CC_STATUS_INVALID_ARGUMENT);
    CHECK_STR(name, "untouched");
    CHECK_CONTAINS(oauth2cc_last_error_message(), "index");
  }
  oauth2cc_response_free(response);

  response = NULL;
  CHECK_STATUS(oauth2cc_client_get(client, url_of("/big"), &response),
               OAUTH2CC_STATUS_INVALID_RESPONSE);
  CHECK(response == NULL);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "1000-byte limit");
  oauth2cc_client_free(client);
}

/* Every log line, joined, and the levels seen. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[65536];
static int levels_seen[5];

static void collect(void *userdata, int level, const char *message) {
  CHECK(userdata == (void *)log_text);
  CHECK(level >= OAUTH2CC_LOG_ERROR && level <= OAUTH2CC_LOG_DEBUG);
  pthread_mutex_lock(&log_lock);
  levels_seen[level]++;
  size_t used = strlen(log_text);
  snprintf(log_text + used, sizeof log_text - used, "%d %s\n", level, message);
  pthread_mutex_unlock(&log_lock);
}

static void logging_and_counters(void) {
  oauth2cc_config *config = NULL;
  oauth2cc_client *client = NULL;
  oauth2cc_authorization *auth = NULL;
  config = config_for("/flaky/token");

  CHECK_STATUS(oauth2cc_config_set_log(config, collect, log_text, 0),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_log(config, collect, log_text, 5),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_log(config, collect, log_text, OAUTH2CC_LOG_DEBUG),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_retries(config, 2, 200), OAUTH2CC_STATUS_OK);
  client = client_from(config);

  /* A 503, a retry, a token. Then 10 hits. */
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  char token[128];
  snprintf(token, sizeof token, "%s", oauth2cc_authorization_access_token(auth));
  oauth2cc_authorization_free(auth);
  for (int i = 0; i < 10; i++) {
    CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
    oauth2cc_authorization_free(auth);
  }
  /* A refused token makes a 401-driven refresh (logged at INFO). */
  oauth2cc_response *response = NULL;
  CHECK_STATUS(oauth2cc_client_get(client, url_of("/refuses-first"), &response),
               OAUTH2CC_STATUS_OK);
  oauth2cc_response_free(response);

  oauth2cc_client_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_STATUS(oauth2cc_client_get_stats(client, &stats), OAUTH2CC_STATUS_OK);
  CHECK_INT(stats.struct_size, sizeof stats);
  CHECK(stats.token_requests >= 3); /* 503, token, then the refresh after the 401 */
  CHECK_INT(stats.failures + stats.tokens_issued, stats.token_requests);
  CHECK(stats.failures >= 1);
  CHECK(stats.cache_hits >= 10);
  CHECK(stats.token_expires_at > (int64_t)time(NULL));
  CHECK_INT(stats.last_error_status, 0); /* no refresh failed: the retry succeeded */

  /* A program built with an older, smaller struct gets the fields that fit, no more. */
  struct {
    oauth2cc_client_stats stats;
    char guard[16];
  } small;
  memset(&small, 0x5A, sizeof small);
  small.stats.struct_size = (uint32_t)offsetof(oauth2cc_client_stats, failures);
  CHECK_STATUS(oauth2cc_client_get_stats(client, &small.stats), OAUTH2CC_STATUS_OK);
  CHECK_INT(small.stats.token_requests, stats.token_requests);
  CHECK_INT(small.stats.tokens_issued, stats.tokens_issued);
  {
    const unsigned char *rest = (const unsigned char *)&small.stats.failures;
    size_t untouched = sizeof small - offsetof(oauth2cc_client_stats, failures);
    for (size_t i = 0; i < untouched; i++) CHECK(rest[i] == 0x5A);
  }
  small.stats.struct_size = 0;
  CHECK_STATUS(oauth2cc_client_get_stats(client, &small.stats), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "struct_size");
  oauth2cc_client_free(client);

  CHECK(levels_seen[OAUTH2CC_LOG_DEBUG] > 0);
  CHECK(levels_seen[OAUTH2CC_LOG_INFO] > 0);
  CHECK(levels_seen[OAUTH2CC_LOG_WARN] > 0);
  CHECK_CONTAINS(log_text, "token request to");
  CHECK_CONTAINS(log_text, "retry 1 of 2");
  CHECK_CONTAINS(log_text, "answered 401");
  CHECK(strstr(log_text, SECRET) == NULL);
  CHECK(strstr(log_text, BASIC_B64) == NULL);
  CHECK(strstr(log_text, token) == NULL);
}

static void header_hot_path(void) {
  oauth2cc_client *client = client_for("/hp/token");
  char buf[128];
  size_t needed = 0;
  CHECK_STATUS(oauth2cc_client_authorization_header(client, NULL, 0, &needed),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK_INT(needed, strlen("Bearer hp-1"));
  memset(buf, 'x', sizeof buf);
  CHECK_STATUS(oauth2cc_client_authorization_header(client, buf, needed, &needed),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK(buf[0] == 'x');
  CHECK_STATUS(oauth2cc_client_authorization_header(client, buf, sizeof buf, &needed),
               OAUTH2CC_STATUS_OK);
  CHECK_STR(buf, "Bearer hp-1");
  for (int i = 0; i < 1000; i++) {
    CHECK_STATUS(oauth2cc_client_authorization_header(client, buf, sizeof buf, NULL),
                 OAUTH2CC_STATUS_OK);
  }
  CHECK_STATUS(oauth2cc_client_authorization_header(client, NULL, 5, &needed),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  oauth2cc_client_stats stats = {0};
  stats.struct_size = sizeof stats;
  CHECK_STATUS(oauth2cc_client_get_stats(client, &stats), OAUTH2CC_STATUS_OK);
  CHECK_INT(stats.token_requests, 1);
  CHECK(stats.cache_hits >= 1000);
  oauth2cc_client_free(client);
}

static void background_refresh(void) {
  oauth2cc_config *config = NULL;
  oauth2cc_client *client = NULL;
  config = config_for("/short/token");
  CHECK_STATUS(oauth2cc_config_set_background_refresh(config, true), OAUTH2CC_STATUS_OK);
  client = client_from(config);
  /* Calls during 4 s of 3-second tokens: the refresher renews them; callers only hit. */
  struct timespec pause = {0, 50 * 1000 * 1000};
  char buf[128];
  oauth2cc_client_stats before = {0}, after = {0};
  before.struct_size = after.struct_size = sizeof before;
  CHECK_STATUS(oauth2cc_client_authorization_header(client, buf, sizeof buf, NULL),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_client_get_stats(client, &before), OAUTH2CC_STATUS_OK);
  int calls = 0;
  for (int i = 0; i < 80; i++, calls++) {
    CHECK_STATUS(oauth2cc_client_authorization_header(client, buf, sizeof buf, NULL),
                 OAUTH2CC_STATUS_OK);
    nanosleep(&pause, NULL);
  }
  CHECK_STATUS(oauth2cc_client_get_stats(client, &after), OAUTH2CC_STATUS_OK);
  CHECK(after.tokens_issued >= before.tokens_issued + 1); /* renewed while we called */
  CHECK_INT(after.cache_hits - before.cache_hits, calls);  /* and no call had to fetch */
  oauth2cc_client_free(client); /* stops and joins the refresher */
}

int main(void) {
  base = required_env("OAUTH2CC_TEST_BASE");
  methods_headers_bodies();
  resend_after_401_with_body();
  repeated_headers_and_the_cap();
  logging_and_counters();
  header_hot_path();
  background_refresh();
  return checks_passed("requests");
}
