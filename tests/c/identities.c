/*
 * identities.c: service identities through the C API (issue 23): a client assertion file
 * rotated under the client, the JWT bearer grant, and DPoP-bound tokens.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_ASSERTION_URL  a token endpoint that wants client assertions and refuses
 *                                one it has seen
 *   OAUTH2CC_TEST_ASSERTION_FILE where this program writes the "platform's" assertion
 *   OAUTH2CC_TEST_BEARER_URL     a token endpoint for the JWT bearer grant (P-256 key)
 *   OAUTH2CC_TEST_DPOP_BASE      http://127.0.0.1:port of a DPoP token endpoint (/token)
 *                                and API (/api/...) that verify every proof
 *   OAUTH2CC_TEST_KEYS           the folder of the test keys (tests/data/keys)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

/* Two JWT-shaped assertions (the test endpoint checks their shape, not a signature). */
#define JWT_1 "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2E6MSJ9.c2lnLTE"
#define JWT_2 "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2E6MiJ9.c2lnLTI"

static char path_buf[4096];

static const char *key_file(const char *name) {
  return join_path(path_buf, sizeof path_buf, required_env("OAUTH2CC_TEST_KEYS"), name);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fputs(text, f) >= 0);
  CHECK(fclose(f) == 0);
}

static void assertion_file(void) {
  const char *path = required_env("OAUTH2CC_TEST_ASSERTION_FILE");
  oauth2cc_config *config = NULL;
  oauth2cc_client *client = NULL;
  oauth2cc_authorization *auth = NULL;

  CHECK_STATUS(oauth2cc_config_new("entra-app", NULL, &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, required_env("OAUTH2CC_TEST_ASSERTION_URL")),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_client_assertion_file(config, path), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_client_assertion_file(NULL, path),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  client = client_from(config);

  /* Not mounted yet: CONFIG naming the file, and nothing sent. */
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), path);
  write_file(path, "  not a jwt\n");
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "does not hold a JWT");
  CHECK(strstr(oauth2cc_last_error_message(), "not a jwt") == NULL);

  write_file(path, JWT_1 "\n");
  check_client_token(client, "tok-1");
  /* Rotated by the platform: the next token request reads the new one. */
  write_file(path, JWT_2);
  oauth2cc_client_invalidate(client);
  check_client_token(client, "tok-2");
  /* Not rotated: the server refuses the replay, and that is the status. */
  oauth2cc_client_invalidate(client);
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_UNAUTHORIZED);
  CHECK_STR(oauth2cc_last_error_oauth_error(), "invalid_client");
  CHECK(auth == NULL);
  oauth2cc_client_free(client);
}

static void jwt_bearer(void) {
  oauth2cc_config *config = NULL;
  oauth2cc_authorization *auth = NULL;

  CHECK_STATUS(oauth2cc_config_new("svc-client", NULL, &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, required_env("OAUTH2CC_TEST_BEARER_URL")),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_bearer(config, "user@example.com"), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_bearer(NULL, NULL), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  /* No key yet: CONFIG, nothing sent. */
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "private key");
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_file("p256.pk8.pem"), "kid-1"),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_scope(config, "api"), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_authorization_access_token(auth), "tok-user@example.com");
  CHECK_STR(oauth2cc_authorization_scope(auth), "api");
  oauth2cc_authorization_free(auth);
  oauth2cc_config_free(config);
}

/* One DPoP client: its token is bound, its header says DPoP, its requests pass the server's
 * proof checks, and its proofs for other HTTP libraries are well formed. */
static void dpop_client(const char *base, const char *key) {
  char url[512], header[4096], proof[8192];
  size_t needed = 0;
  oauth2cc_config *config = test_config("dpop-client", "dpop-secret", base, "/token", 5000);
  oauth2cc_client *client = NULL;
  oauth2cc_response *response = NULL;
  const char *headers[] = {"Content-Type: application/json", NULL};

  if (key == NULL) {
    CHECK_STATUS(oauth2cc_config_set_dpop(config, 1), OAUTH2CC_STATUS_OK);
  } else {
    CHECK_STATUS(oauth2cc_config_set_dpop_key_file(config, key_file(key)), OAUTH2CC_STATUS_OK);
  }
  client = client_from(config);
  CHECK_STATUS(oauth2cc_client_authorization_header(client, header, sizeof header, NULL),
               OAUTH2CC_STATUS_OK);
  CHECK(strncmp(header, "DPoP dpop-tok-", 14) == 0);

  snprintf(url, sizeof url, "%s/api/items?page=1", base);
  CHECK_STATUS(oauth2cc_client_get(client, url, &response), OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  oauth2cc_response_free(response);
  CHECK_STATUS(oauth2cc_client_request(client, "POST", url, headers, (const uint8_t *)"{}", 2,
                                       &response),
               OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  oauth2cc_response_free(response);

  /* A proof for another HTTP library: the size first, then the text. */
  CHECK_STATUS(oauth2cc_client_dpop_proof(client, "GET", url, NULL, NULL, 0, &needed),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK(needed > 100 && needed < sizeof proof);
  CHECK_STATUS(oauth2cc_client_dpop_proof(client, "GET", url, header + 5, proof, sizeof proof,
                                          &needed),
               OAUTH2CC_STATUS_OK);
  CHECK(strlen(proof) == needed);
  CHECK(strchr(proof, '.') != NULL && strchr(strchr(proof, '.') + 1, '.') != NULL);
  printf("proof %s\n", proof);
  CHECK_STATUS(oauth2cc_client_dpop_proof(client, "GET", url, NULL, proof, 10, NULL),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK_STATUS(oauth2cc_client_dpop_proof(client, "G T", url, NULL, proof, sizeof proof, NULL),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_client_dpop_proof(client, "GET", "ftp://x/", NULL, proof, sizeof proof,
                                          NULL),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_client_dpop_proof(client, NULL, url, NULL, proof, sizeof proof, NULL),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_client_dpop_proof(NULL, "GET", url, NULL, proof, sizeof proof, NULL),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  oauth2cc_client_free(client);
}

static void dpop(void) {
  const char *base = required_env("OAUTH2CC_TEST_DPOP_BASE");
  char proof[64];
  oauth2cc_config *config = NULL;
  oauth2cc_client *client = NULL;

  dpop_client(base, NULL);
  dpop_client(base, "ed25519.pk8.pem");
  dpop_client(base, "rsa2048.pk8.pem");

  /* Refusals: a key that is not one, DPoP off. */
  config = test_config("dpop-client", "dpop-secret", base, "/token", 5000);
  CHECK_STATUS(oauth2cc_config_set_dpop_key_file(config, key_file("p256.cert.pem")),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "p256.cert.pem");
  CHECK_STATUS(oauth2cc_config_set_dpop_key_file(config, ""), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_dpop(NULL, 1), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_dpop(config, 1), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_dpop(config, 0), OAUTH2CC_STATUS_OK);
  client = client_from(config);
  CHECK_STATUS(oauth2cc_client_dpop_proof(client, "GET", base, "t", proof, sizeof proof, NULL),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "DPoP is off");
  oauth2cc_client_free(client);
}

int main(void) {
  assertion_file();
  jwt_bearer();
  dpop();
  return checks_passed("identities");
}
