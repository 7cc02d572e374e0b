/*
 * discovery.c: the token endpoint from the issuer's metadata (RFC 8414 / OpenID Connect
 * Discovery), found at the first token request, kept, and found again after the endpoint
 * moved; AUTO picks the method the server announces; every failure names the metadata URL.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_ISSUER   http://127.0.0.1:PORT/tenant: no OpenID document; an RFC 8414
 *                          document at /.well-known/oauth-authorization-server/tenant naming
 *                          /token-old the first time it is fetched and /token-new after;
 *                          token_endpoint_auth_methods_supported ["client_secret_post"].
 *                          /token-old issues one token, then answers 404.
 *   OAUTH2CC_TEST_BASE     http://127.0.0.1:PORT: /wrong has a document naming another
 *                          issuer, /none has no document at all.
 *   OAUTH2CC_TEST_REFUSED  an http://127.0.0.1 URL where nothing listens
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

static char url_buf[1024];

static const char *join(const char *base, const char *path) {
  snprintf(url_buf, sizeof url_buf, "%s%s", base, path);
  return url_buf;
}

static oauth2cc_config *issuer_config(const char *issuer) {
  oauth2cc_config *config = NULL;
  CHECK_STATUS(oauth2cc_config_new("disco-client", "disco-secret", &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_issuer(config, issuer), OAUTH2CC_STATUS_OK);
  return config;
}

int main(void) {
  const char *issuer = getenv("OAUTH2CC_TEST_ISSUER");
  const char *base = getenv("OAUTH2CC_TEST_BASE");
  oauth2cc_config *config = issuer_config(issuer);
  oauth2cc_client *client = NULL;
  oauth2cc_authorization *auth = NULL;

  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_AUTO),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  /* First request: metadata (OpenID document missing, RFC 8414 one found), then /token-old
     with the body method the server announces. */
  check_client_token(client, "tok-old");
  /* The endpoint moved: a 404, after which the metadata is fetched again... */
  oauth2cc_client_invalidate(client);
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_HTTP_STATUS);
  CHECK_INT(oauth2cc_last_error_http_status(), 404);
  /* ...and names the new endpoint. */
  check_client_token(client, "tok-new");
  /* Kept: this refresh fetches no metadata (the harness counts). */
  oauth2cc_client_invalidate(client);
  check_client_token(client, NULL);
  oauth2cc_client_free(client);
  oauth2cc_config_free(config);

  /* A document naming another issuer: CONFIG, with the URL. */
  auth = NULL;
  config = issuer_config(join(base, "/wrong"));
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "/wrong/.well-known/openid-configuration");
  CHECK_CONTAINS(oauth2cc_last_error_message(), "not the configured issuer");
  oauth2cc_config_free(config);

  /* No document anywhere: CONFIG naming both URLs. */
  config = issuer_config(join(base, "/none"));
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "/none/.well-known/openid-configuration");
  CHECK_CONTAINS(oauth2cc_last_error_message(), "/.well-known/oauth-authorization-server/none");
  oauth2cc_config_free(config);

  /* Nobody listening: NETWORK, with the URL. */
  config = issuer_config(getenv("OAUTH2CC_TEST_REFUSED"));
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_NETWORK);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "authorization server metadata");
  CHECK_CONTAINS(oauth2cc_last_error_message(), "/.well-known/openid-configuration");
  CHECK(auth == NULL);
  oauth2cc_config_free(config);
  return checks_passed("discovery");
}
