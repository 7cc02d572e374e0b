/*
 * cache_paths.c: the token cache file through the C API, with paths as the platform spells
 * them (on Windows: drive letters, backslashes) and file names outside ASCII (UTF-8).
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_TOKEN_URL    a local token endpoint issuing "cache-<n>" for one hour
 *   OAUTH2CC_TEST_CACHE_DIR    an empty folder but for foreign.json (not a cache file)
 *   OAUTH2CC_TEST_CA_FILE      a PEM certificate whose name is not ASCII
 *   OAUTH2CC_TEST_CONFIG_FILE  a JSON config (cache-client) whose cache_file and ca_file are
 *                              absolute paths in the same folder, names not ASCII
 *
 * Tokens, in order (the harness checks the server saw five requests and what the files hold):
 *   cache-1  fetched, stored in "jeton-ü-東京.json", then read back by a new client
 *   cache-2  fetched: foreign.json is ignored, then replaced
 *   cache-3  another client id on "jeton-ü-東京.json": its key differs, fetched and stored
 *   cache-4  the first client id again: cache-3 is not its token, fetched and stored
 *   cache-5  from the JSON config, stored in "from-json-ö.json", then read back
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

static const char *token_url;
static const char *ca_file;

static oauth2cc_config *cache_config(const char *client_id, const char *cache_file) {
  oauth2cc_config *config = NULL;
  CHECK_STATUS(oauth2cc_config_new(client_id, "cache-secret", &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, token_url), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, 60000), OAUTH2CC_STATUS_OK);
  /* Read at once: a path the library cannot open is CONFIG here. */
  CHECK_STATUS(oauth2cc_config_set_ca_file(config, ca_file), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_cache_file(config, cache_file), OAUTH2CC_STATUS_OK);
  return config;
}

/* A new client's first token (a new client has nothing in memory: it reads the file or
 * fetches). */
static void first_token(const oauth2cc_config *config, const char *expected) {
  oauth2cc_client *client = NULL;
  oauth2cc_authorization *auth = NULL;
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_authorization_access_token(auth), expected);
  CHECK_STR(oauth2cc_authorization_token_type(auth), "Bearer");
  CHECK(!oauth2cc_authorization_is_expired(auth, 60));
  oauth2cc_authorization_free(auth);
  oauth2cc_client_free(client);
}

int main(void) {
  const char *dir = required_env("OAUTH2CC_TEST_CACHE_DIR");
  const char *config_file = required_env("OAUTH2CC_TEST_CONFIG_FILE");
  char unicode_path[4096];
  char foreign_path[4096];
  char missing_path[4096];
  oauth2cc_config *config;
  oauth2cc_config *other;
  oauth2cc_config *from_file = NULL;

  token_url = required_env("OAUTH2CC_TEST_TOKEN_URL");
  ca_file = required_env("OAUTH2CC_TEST_CA_FILE");
  join_path(unicode_path, sizeof unicode_path, dir, "jeton-\xc3\xbc-\xe6\x9d\xb1\xe4\xba\xac.json");
  join_path(foreign_path, sizeof foreign_path, dir, "foreign.json");
  join_path(missing_path, sizeof missing_path, dir, "no-such-\xc3\xb6.pem");

  /* A CA file that is not there is reported with its path. */
  config = cache_config("cache-client", unicode_path);
  CHECK_STATUS(oauth2cc_config_set_ca_file(config, missing_path), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "no-such-\xc3\xb6.pem");
  CHECK_STATUS(oauth2cc_config_set_ca_file(config, ca_file), OAUTH2CC_STATUS_OK);

  /* cache-1: fetched and stored; a second client reads it from the file. */
  first_token(config, "cache-1");
  first_token(config, "cache-1");

  /* cache-2: foreign.json holds no cache entry: ignored, then replaced. */
  other = cache_config("cache-client", foreign_path);
  first_token(other, "cache-2");
  first_token(other, "cache-2");
  oauth2cc_config_free(other);

  /* cache-3, cache-4: one file, two keys; each client trusts only its own entry. */
  other = cache_config("other-client", unicode_path);
  first_token(other, "cache-3");
  oauth2cc_config_free(other);
  first_token(config, "cache-4");
  first_token(config, "cache-4");
  oauth2cc_config_free(config);

  /* cache-5: paths inside a JSON config. */
  CHECK_STATUS(oauth2cc_config_from_file(config_file, &from_file), OAUTH2CC_STATUS_OK);
  first_token(from_file, "cache-5");
  first_token(from_file, "cache-5");
  oauth2cc_config_free(from_file);

  return checks_passed("cache_paths");
}
