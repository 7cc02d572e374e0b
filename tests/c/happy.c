/*
 * happy.c: the happy path, the way the README tells a C programmer to do it.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_TOKEN_URL    a local token endpoint that accepts happy-client/happy-secret
 *   OAUTH2CC_TEST_CONFIG_FILE  a JSON config file (file-client, scope "file-scope")
 *   OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET, OAUTH2CC_TOKEN_URL, OAUTH2CC_SCOPE
 *                              for oauth2cc_config_from_env (env-client, scope "env-scope")
 *
 * Requests, in order (the harness checks them on the server side):
 *   1 Basic happy-client, no scope       2 Basic happy-client, scope
 *   3 happy-client in the body           4 Basic file-client (config file)
 *   5 Basic env-client (environment)     6, 7 Basic happy-client through a client
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "oauth2cc.h"

static void print_authorization(const char *label, const oauth2cc_authorization *auth) {
  const char *scope = oauth2cc_authorization_scope(auth);
  const char *refresh = oauth2cc_authorization_refresh_token(auth);
  printf("%s:\n", label);
  printf("  access_token  = %s\n", oauth2cc_authorization_access_token(auth));
  printf("  token_type    = %s\n", oauth2cc_authorization_token_type(auth));
  printf("  expires_in    = %lld\n", (long long)oauth2cc_authorization_expires_in(auth));
  printf("  expires_at    = %lld\n", (long long)oauth2cc_authorization_expires_at(auth));
  printf("  scope         = %s\n", scope ? scope : "(none)");
  printf("  refresh_token = %s\n", refresh ? refresh : "(none)");
}

/* A token as the local endpoint issues it: "tok-<n>", Bearer, one hour. */
static void check_fresh_token(const oauth2cc_authorization *auth, const char *scope) {
  long long now = (long long)time(NULL);
  long long expires_at = (long long)oauth2cc_authorization_expires_at(auth);

  CHECK(strncmp(oauth2cc_authorization_access_token(auth), "tok-", 4) == 0);
  /* The server sent "bearer": the library normalises it. */
  CHECK_STR(oauth2cc_authorization_token_type(auth), "Bearer");
  CHECK_INT(oauth2cc_authorization_expires_in(auth), 3600);
  /* Computed at receipt: now + 3600, give or take the time this program has run. The upper
   * bound allows one second: glibc's time() reads the coarse wall clock, up to a tick behind
   * the precise one the library reads, so across a second boundary time() can still show the
   * previous second (CI saw expires_at = time() + 3601). */
  CHECK(expires_at >= now + 3600 - 60 && expires_at <= now + 3600 + 1);
  CHECK_STR(oauth2cc_authorization_scope(auth), scope);
  CHECK(oauth2cc_authorization_refresh_token(auth) == NULL);
  CHECK(!oauth2cc_authorization_is_expired(auth, 0));
  CHECK(!oauth2cc_authorization_is_expired(auth, 60));
  /* A leeway longer than the lifetime means "refresh now". */
  CHECK(oauth2cc_authorization_is_expired(auth, 7200));
}

/* The header buffer protocol, snprintf style. */
static void check_header(const oauth2cc_authorization *auth) {
  const char *token = oauth2cc_authorization_access_token(auth);
  size_t expected_len = strlen("Bearer ") + strlen(token);
  size_t needed = 0;
  char *buf;
  size_t i;

  /* Ask for the size. */
  CHECK_STATUS(oauth2cc_authorization_header(auth, NULL, 0, &needed),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK_INT(needed, expected_len);

  /* One byte short (no room for the NUL): nothing is written. */
  buf = malloc(needed + 1);
  CHECK(buf != NULL);
  memset(buf, 'x', needed + 1);
  needed = 0;
  CHECK_STATUS(oauth2cc_authorization_header(auth, buf, expected_len, &needed),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK_INT(needed, expected_len);
  for (i = 0; i < expected_len + 1; i++) CHECK(buf[i] == 'x');

  /* Exactly enough. */
  needed = 0;
  CHECK_STATUS(oauth2cc_authorization_header(auth, buf, expected_len + 1, &needed),
               OAUTH2CC_STATUS_OK);
  CHECK_INT(needed, expected_len);
  CHECK(strncmp(buf, "Bearer ", 7) == 0);
  CHECK_STR(buf + 7, token);
  printf("header: %s\n", buf);
  free(buf);

  /* `needed` is optional. */
  {
    char big[512];
    CHECK(expected_len < sizeof big);
    CHECK_STATUS(oauth2cc_authorization_header(auth, big, sizeof big, NULL), OAUTH2CC_STATUS_OK);
    CHECK_INT(strlen(big), expected_len);
  }
}

/* A clone outlives the handle it came from. */
static void check_clone(oauth2cc_authorization *auth) {
  char saved[256];
  oauth2cc_authorization *copy = oauth2cc_authorization_clone(auth);
  CHECK(copy != NULL);
  CHECK(strlen(oauth2cc_authorization_access_token(auth)) < sizeof saved);
  strcpy(saved, oauth2cc_authorization_access_token(auth));
  CHECK_STR(oauth2cc_authorization_access_token(copy), saved);
  oauth2cc_authorization_free(auth);
  CHECK_STR(oauth2cc_authorization_access_token(copy), saved);
  CHECK_STR(oauth2cc_authorization_token_type(copy), "Bearer");
  CHECK_INT(oauth2cc_authorization_expires_in(copy), 3600);
  oauth2cc_authorization_free(copy);
}

static oauth2cc_authorization *request(const oauth2cc_config *config) {
  oauth2cc_authorization *auth = NULL;
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_OK);
  CHECK(auth != NULL);
  return auth;
}

/* A config from elsewhere: one token with `scope`, then both freed. */
static void request_and_free(oauth2cc_config *config, const char *label, const char *scope) {
  oauth2cc_authorization *auth;
  CHECK(config != NULL);
  auth = request(config);
  print_authorization(label, auth);
  check_fresh_token(auth, scope);
  oauth2cc_authorization_free(auth);
  oauth2cc_config_free(config);
}

int main(void) {
  const char *token_url = required_env("OAUTH2CC_TEST_TOKEN_URL");
  const char *config_file = required_env("OAUTH2CC_TEST_CONFIG_FILE");
  oauth2cc_config *config = NULL;
  oauth2cc_config *from_file = NULL;
  oauth2cc_config *from_env = NULL;
  oauth2cc_client *client = NULL;
  oauth2cc_authorization *auth;
  oauth2cc_authorization *first;
  oauth2cc_authorization *again;
  char first_token[256];

  printf("oauth2cc %s (header %s)\n", oauth2cc_version(), OAUTH2CC_VERSION_STRING);
  CHECK_STR(oauth2cc_last_error_message(), "");

  /* 1: a config built in code. */
  CHECK_STATUS(oauth2cc_config_new("happy-client", "happy-secret", &config), OAUTH2CC_STATUS_OK);
  CHECK(config != NULL);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, token_url), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, 10000), OAUTH2CC_STATUS_OK);
  auth = request(config);
  print_authorization("request_token", auth);
  check_fresh_token(auth, NULL);
  check_header(auth);
  check_clone(auth); /* frees auth */

  /* 2: with a scope; the server grants what was asked. */
  CHECK_STATUS(oauth2cc_config_set_scope(config, "user-read-private playlist-read"),
               OAUTH2CC_STATUS_OK);
  auth = request(config);
  print_authorization("with scope", auth);
  check_fresh_token(auth, "user-read-private playlist-read");
  oauth2cc_authorization_free(auth);
  CHECK_STATUS(oauth2cc_config_set_scope(config, NULL), OAUTH2CC_STATUS_OK);

  /* 3: credentials in the body instead of Basic. */
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_POST_BODY),
               OAUTH2CC_STATUS_OK);
  auth = request(config);
  check_fresh_token(auth, NULL);
  oauth2cc_authorization_free(auth);
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_BASIC),
               OAUTH2CC_STATUS_OK);

  /* 4: a JSON config file. */
  CHECK_STATUS(oauth2cc_config_from_file(config_file, &from_file), OAUTH2CC_STATUS_OK);
  request_and_free(from_file, "config_from_file", "file-scope");

  /* 5: the environment. */
  CHECK_STATUS(oauth2cc_config_from_env(&from_env), OAUTH2CC_STATUS_OK);
  request_and_free(from_env, "config_from_env", "env-scope");

  /* 6, 7: a client caches the token until told otherwise. The config may go at once. */
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  CHECK(client != NULL);
  oauth2cc_config_free(config);
  CHECK_STATUS(oauth2cc_client_token(client, &first), OAUTH2CC_STATUS_OK);
  check_fresh_token(first, NULL);
  CHECK(strlen(oauth2cc_authorization_access_token(first)) < sizeof first_token);
  strcpy(first_token, oauth2cc_authorization_access_token(first));
  CHECK_STATUS(oauth2cc_client_token(client, &again), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_authorization_access_token(again), first_token);
  oauth2cc_authorization_free(again);
  oauth2cc_client_invalidate(client);
  CHECK_STATUS(oauth2cc_client_token(client, &again), OAUTH2CC_STATUS_OK);
  check_fresh_token(again, NULL);
  CHECK(strcmp(oauth2cc_authorization_access_token(again), first_token) != 0);
  /* Handles handed out before the invalidation stay readable. */
  CHECK_STR(oauth2cc_authorization_access_token(first), first_token);
  oauth2cc_authorization_free(first);
  oauth2cc_authorization_free(again);
  oauth2cc_client_free(client);

  /* The only failures were the header's BUFFER_TOO_SMALL answers. */
  CHECK_CONTAINS(oauth2cc_last_error_message(), "buf_len");
  CHECK(oauth2cc_last_error_oauth_error() == NULL);
  CHECK_INT(oauth2cc_last_error_http_status(), 0);
  CHECK_INT(oauth2cc_last_error_retry_after(), -1);

  return checks_passed("happy");
}
