/*
 * key_auth.c: clients that authenticate with a key instead of sending a secret:
 * private_key_jwt (RSA, P-256, Ed25519) and client_secret_jwt, and every refusal.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_TOKEN_URL   a local token endpoint that verifies client assertions
 *   OAUTH2CC_TEST_KEYS        the folder of the test keys (tests/data/keys)
 *   OAUTH2CC_TEST_EC_PEM      the text of p256.pk8.pem
 *   OAUTH2CC_TEST_CONFIG_FILE a JSON config with "private_key_file": ed25519.pk8.pem
 *
 * Requests, in order (the harness checks each assertion on the server side):
 *   1, 2 rsa-client RS256 kid "rsa-kid" (two clients' worth: each a fresh jti)
 *   3    ec-client ES256 from PEM text, aud "https://issuer.example"
 *   4    ed-client EdDSA from a config file
 *   5    hs-client HS256 with its secret
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

static char path_buf[4096];

static const char *key_file(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", getenv("OAUTH2CC_TEST_KEYS"), name);
  return path_buf;
}

/* A config for `id` (and `secret`, which may be NULL) at `token_url`. */
static oauth2cc_config *new_config(const char *id, const char *secret, const char *token_url) {
  oauth2cc_config *config = NULL;
  CHECK_STATUS(oauth2cc_config_new(id, secret, &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, token_url), OAUTH2CC_STATUS_OK);
  return config;
}

static void get_token(oauth2cc_config *config, const char *expected) {
  oauth2cc_authorization *auth = NULL;
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_authorization_access_token(auth), expected);
  oauth2cc_authorization_free(auth);
}

static void private_key_jwt(const char *token_url) {
  oauth2cc_client *client = NULL;
  /* No secret: the key authenticates the client, and PRIVATE_KEY_JWT is the default. */
  oauth2cc_config *config = new_config("rsa-client", NULL, token_url);

  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("rsa2048.pkcs1.pem"),
                                                    "rsa-kid"),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  check_client_token(client, "tok-rsa-client");
  /* A refresh makes a new assertion (the server refuses a jti it has seen). */
  oauth2cc_client_invalidate(client);
  check_client_token(client, NULL);
  oauth2cc_client_free(client);
  oauth2cc_config_free(config);

  /* The PEM text itself, an explicit algorithm and audience. */
  config = new_config("ec-client", NULL, token_url);
  CHECK_STATUS(oauth2cc_config_set_jwt_algorithm(config, "ES256"), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_private_key_pem(config, getenv("OAUTH2CC_TEST_EC_PEM"), NULL),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_audience(config, "https://issuer.example"),
               OAUTH2CC_STATUS_OK);
  get_token(config, "tok-ec-client");
  oauth2cc_config_free(config);

  /* From a config file. */
  CHECK_STATUS(oauth2cc_config_from_file(getenv("OAUTH2CC_TEST_CONFIG_FILE"), &config),
               OAUTH2CC_STATUS_OK);
  get_token(config, "tok-ed-client");
  oauth2cc_config_free(config);
}

static void client_secret_jwt(const char *token_url) {
  oauth2cc_config *config = new_config("hs-client", "0123456789abcdef0123456789abcdef", token_url);
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_CLIENT_SECRET_JWT),
               OAUTH2CC_STATUS_OK);
  get_token(config, "tok-hs-client");
  oauth2cc_config_free(config);
}

/* Every refusal is CONFIG, names the key's file and the reason, and sends nothing. */
static void refusals(const char *token_url) {
  oauth2cc_config *config = new_config("bad-client", NULL, token_url);
  oauth2cc_authorization *auth = NULL;

  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("p256.encrypted.pem"), NULL),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "p256.encrypted.pem");
  CHECK_CONTAINS(oauth2cc_last_error_message(), "encrypted");
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("rsa1024.pkcs1.pem"), NULL),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "rsa1024.pkcs1.pem");
  CHECK_CONTAINS(oauth2cc_last_error_message(), "2048");
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("p256.cert.pem"), NULL),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "no PEM private key");
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("missing.pem"), NULL),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "missing.pem");
  CHECK_STATUS(oauth2cc_config_set_private_key_pem(config, "not a key", NULL),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "the PEM private key");

  /* An algorithm that does not fit the key, in either order. */
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("rsa2048.pk8.pem"), NULL),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_algorithm(config, "ES256"), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "rsa2048.pk8.pem");
  CHECK_CONTAINS(oauth2cc_last_error_message(), "ES256");
  CHECK_STATUS(oauth2cc_config_set_jwt_algorithm(config, "PS256"), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("ed25519.pk8.pem"), NULL),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "PS256");
  oauth2cc_config_free(config);

  /* No secret and no key: nothing to authenticate with. */
  config = new_config("bad-client", NULL, token_url);
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "needs a client secret");
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_PRIVATE_KEY_JWT),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "needs a private key");
  oauth2cc_config_free(config);

  /* client_secret_jwt with a secret too short for HS256. */
  config = new_config("bad-client", "short-secret", token_url);
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_CLIENT_SECRET_JWT),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "at least 32 bytes");
  CHECK(strstr(oauth2cc_last_error_message(), "short-secret") == NULL);
  CHECK(auth == NULL);
  oauth2cc_config_free(config);
}

int main(void) {
  const char *token_url = getenv("OAUTH2CC_TEST_TOKEN_URL");
  CHECK(token_url != NULL);
  private_key_jwt(token_url);
  client_secret_jwt(token_url);
  refusals(token_url);
  return checks_passed("key_auth");
}
