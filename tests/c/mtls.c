/*
 * mtls.c: mutual TLS (RFC 8705). A client with a certificate and no secret authenticates
 * with the certificate alone (TLS_CLIENT, the default then); the same certificate signs a
 * private_key_jwt assertion with its thumbprint in the header (Entra ID's certificate
 * credential); servers that refuse the certificate are TLS, one that refuses the client
 * is UNAUTHORIZED.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_TOKEN_URL    https token endpoint behind a TLS front that requires a
 *                              client certificate from the test's client CA
 *   OAUTH2CC_TEST_API_URL      an API URL behind the same front (200 with a token)
 *   OAUTH2CC_TEST_CA_FILE      the CA of the front's server certificate
 *   OAUTH2CC_TEST_CERT, OAUTH2CC_TEST_KEY              a client certificate the front accepts
 *   OAUTH2CC_TEST_OTHER_CERT, OAUTH2CC_TEST_OTHER_KEY  one from another CA
 *
 * Token requests that reach the server, in order: 1 mtls-client (TLS_CLIENT), 2 jwt-client
 * (PRIVATE_KEY_JWT with the certificate's key), 3 unknown-client (401).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

static oauth2cc_config *mtls_config(const char *client_id, const char *cert, const char *key) {
  oauth2cc_config *config = NULL;
  CHECK_STATUS(oauth2cc_config_new(client_id, NULL, &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, getenv("OAUTH2CC_TEST_TOKEN_URL")),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_ca_file(config, getenv("OAUTH2CC_TEST_CA_FILE")),
               OAUTH2CC_STATUS_OK);
  if (cert != NULL) {
    CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, cert, key),
                 OAUTH2CC_STATUS_OK);
  }
  return config;
}

int main(void) {
  const char *cert = getenv("OAUTH2CC_TEST_CERT");
  const char *key = getenv("OAUTH2CC_TEST_KEY");
  oauth2cc_config *config;
  oauth2cc_client *client = NULL;
  oauth2cc_authorization *auth = NULL;
  oauth2cc_response *response = NULL;

  /* The certificate alone: TLS_CLIENT by default; the API sees the certificate too. */
  config = mtls_config("mtls-client", cert, key);
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_authorization_access_token(auth), "tok-mtls-client");
  oauth2cc_authorization_free(auth);
  CHECK_STATUS(oauth2cc_client_get(client, getenv("OAUTH2CC_TEST_API_URL"), &response),
               OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  oauth2cc_response_free(response);
  oauth2cc_client_free(client);
  oauth2cc_config_free(config);

  /* The certificate's key signs a private_key_jwt assertion (x5t#S256 in the header). */
  config = mtls_config("jwt-client", cert, key);
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_PRIVATE_KEY_JWT),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_OK);
  CHECK_STR(oauth2cc_authorization_access_token(auth), "tok-jwt-client");
  oauth2cc_authorization_free(auth);
  oauth2cc_config_free(config);

  /* The server knows the certificate but not the client: UNAUTHORIZED, not TLS. */
  config = mtls_config("unknown-client", cert, key);
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_UNAUTHORIZED);
  oauth2cc_config_free(config);

  /* No certificate, or one from another CA: the handshake fails, TLS. */
  auth = NULL;
  config = mtls_config("mtls-client", NULL, NULL);
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_TLS_CLIENT),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_TLS);
  oauth2cc_config_free(config);
  config = mtls_config("mtls-client", getenv("OAUTH2CC_TEST_OTHER_CERT"),
                       getenv("OAUTH2CC_TEST_OTHER_KEY"));
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_TLS);
  CHECK(auth == NULL);

  /* Refusals name the file. */
  CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, "/nonexistent/c.pem", key),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "/nonexistent/c.pem");
  CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, key, key),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "holds no certificate");
  CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, cert, cert),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "key file");
  CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, cert, ""),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  oauth2cc_config_free(config);
  return checks_passed("mtls");
}
