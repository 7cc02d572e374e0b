/*
 * threads.c: one oauth2cc_client shared by 64 threads.
 *
 *   1. Cold client: 64 threads ask for a token at once; the endpoint (100 ms per request)
 *      sees exactly one request and every thread gets that token.
 *   2. At expiry: tokens live 2 s, leeway 1 s; once the token has expired, 64 threads ask
 *      again; the endpoint sees exactly one more request.
 *   3. oauth2cc_client_get: the API answers 401 to the first token and 200 to the second;
 *      one call returns the 200, after exactly one refresh.
 *   4. The last error is per thread.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_BASE  http://127.0.0.1:PORT of a server with these paths:
 *     POST /cold/token, /short/token, /api/token  token endpoints (tokens cold-N, short-N, api-N)
 *     GET  /count/cold, /count/short, /count/api  how many token requests each has seen
 *     GET  /api/data                              401 for api-1, 200 for api-2
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

#define THREADS 64

static const char *base;

struct worker {
  pthread_t thread;
  oauth2cc_client *client;
  pthread_barrier_t *start;
  oauth2cc_status status;
  char token[128];
};

static char *url_for(const char *path) {
  static char url[512];
  int n = snprintf(url, sizeof url, "%s%s", base, path);
  CHECK(n > 0 && (size_t)n < sizeof url);
  return url;
}

static oauth2cc_client *new_client(const char *token_path, uint32_t leeway) {
  oauth2cc_config *config =
      test_config("threads-client", "threads-secret", base, token_path, 20000);
  CHECK_STATUS(oauth2cc_config_set_expiry_leeway(config, leeway), OAUTH2CC_STATUS_OK);
  return client_from(config);
}

/* How many token requests the server has seen at `path`, asked through the API. */
static long token_requests(oauth2cc_client *client, const char *count_path) {
  oauth2cc_response *response = NULL;
  const uint8_t *body;
  size_t len = 0;
  long count;
  char *end;

  CHECK_STATUS(oauth2cc_client_get(client, url_for(count_path), &response), OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  body = oauth2cc_response_body(response, &len);
  CHECK(body != NULL && len > 0 && body[len] == '\0');
  count = strtol((const char *)body, &end, 10);
  CHECK(*end == '\0');
  oauth2cc_response_free(response);
  return count;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  oauth2cc_authorization *auth = NULL;
  int rc = pthread_barrier_wait(w->start);
  if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
    w->status = OAUTH2CC_STATUS_PANIC;
    return NULL;
  }
  w->status = oauth2cc_client_token(w->client, &auth);
  if (w->status == OAUTH2CC_STATUS_OK) {
    const char *token = oauth2cc_authorization_access_token(auth);
    if (token != NULL && strlen(token) < sizeof w->token) strcpy(w->token, token);
    oauth2cc_authorization_free(auth);
  }
  return NULL;
}

/* 64 threads call oauth2cc_client_token at once; all must get `expected_token`. */
static void stampede(oauth2cc_client *client, const char *expected_token) {
  static struct worker workers[THREADS];
  pthread_barrier_t start;
  int i;

  CHECK(pthread_barrier_init(&start, NULL, THREADS) == 0);
  for (i = 0; i < THREADS; i++) {
    memset(&workers[i], 0, sizeof workers[i]);
    workers[i].client = client;
    workers[i].start = &start;
    workers[i].status = OAUTH2CC_STATUS_PANIC;
    CHECK(pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) == 0);
  }
  for (i = 0; i < THREADS; i++) CHECK(pthread_join(workers[i].thread, NULL) == 0);
  CHECK(pthread_barrier_destroy(&start) == 0);
  for (i = 0; i < THREADS; i++) {
    CHECK_STATUS(workers[i].status, OAUTH2CC_STATUS_OK);
    CHECK_STR(workers[i].token, expected_token);
  }
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static void cold_client(void) {
  oauth2cc_client *client = new_client("/cold/token", 60);
  stampede(client, "cold-1");
  CHECK_INT(token_requests(client, "/count/cold"), 1);
  /* Cache hits from now on. */
  stampede(client, "cold-1");
  CHECK_INT(token_requests(client, "/count/cold"), 1);
  oauth2cc_client_free(client);
  printf("cold client: 64 threads, 1 token request\n");
}

static void at_expiry(void) {
  oauth2cc_client *client = new_client("/short/token", 1);
  oauth2cc_authorization *auth = NULL;
  int waited_ms = 0;

  stampede(client, "short-1");
  CHECK_INT(token_requests(client, "/count/short"), 1);

  /* Wait until the token has really expired (expires_in is 2 s). */
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_authorization_expires_in(auth), 2);
  while (!oauth2cc_authorization_is_expired(auth, 0)) {
    CHECK(waited_ms < 10000);
    sleep_ms(50);
    waited_ms += 50;
  }
  oauth2cc_authorization_free(auth);

  stampede(client, "short-2");
  CHECK_INT(token_requests(client, "/count/short"), 2);
  oauth2cc_client_free(client);
  printf("at expiry: 64 threads, 1 more token request (after %d ms)\n", waited_ms);
}

static void get_refreshes_on_401(void) {
  static const char expected_body[] = "{\"hello\":\"world\"}";
  oauth2cc_client *client = new_client("/api/token", 60);
  oauth2cc_response *response = NULL;
  oauth2cc_authorization *auth = NULL;
  const uint8_t *body;
  size_t len = 0;

  CHECK_STATUS(oauth2cc_client_get(client, url_for("/api/data"), &response), OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  body = oauth2cc_response_body(response, &len);
  CHECK(body != NULL);
  CHECK_INT(len, strlen(expected_body));
  CHECK(memcmp(body, expected_body, len) == 0);
  CHECK(body[len] == '\0');
  CHECK_STR((const char *)body, expected_body);
  CHECK_STR(oauth2cc_response_header(response, "content-type"), "application/json");
  CHECK_STR(oauth2cc_response_header(response, "X-API-Version"), "7");
  CHECK_STR(oauth2cc_response_header(response, "x-api-version"), "7");
  CHECK(oauth2cc_response_header(response, "X-Missing") == NULL);
  oauth2cc_response_free(response);

  /* The token after the refresh is the second one, and it is cached. */
  CHECK_INT(token_requests(client, "/count/api"), 2);
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_authorization_access_token(auth), "api-2");
  oauth2cc_authorization_free(auth);
  CHECK_INT(token_requests(client, "/count/api"), 2);
  oauth2cc_client_free(client);
  printf("client_get: 401 -> one refresh -> 200\n");
}

/* A new thread starts with no last error, and its failure is its own. */
static void *fail_once(void *arg) {
  (void)arg;
  if (strcmp(oauth2cc_last_error_message(), "") != 0) return arg;
  if (oauth2cc_config_set_timeout_ms(NULL, 1) != OAUTH2CC_STATUS_INVALID_ARGUMENT) return arg;
  if (strstr(oauth2cc_last_error_message(), "config is NULL") == NULL) return arg;
  return NULL;
}

static void last_error_is_per_thread(void) {
  oauth2cc_config *config = NULL;
  pthread_t thread;
  void *result = &thread;
  char saved[256];

  CHECK_STATUS(oauth2cc_config_new("id", "secret", &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, NULL), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  oauth2cc_config_free(config);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "url is NULL");
  CHECK(strlen(oauth2cc_last_error_message()) < sizeof saved);
  strcpy(saved, oauth2cc_last_error_message());

  CHECK(pthread_create(&thread, NULL, fail_once, NULL) == 0);
  CHECK(pthread_join(thread, &result) == 0);
  CHECK(result == NULL);
  CHECK_STR(oauth2cc_last_error_message(), saved);
  printf("last error: per thread\n");
}

int main(void) {
  base = required_env("OAUTH2CC_TEST_BASE");
  cold_client();
  at_expiry();
  get_refreshes_on_401();
  last_error_is_per_thread();
  return checks_passed("threads");
}
