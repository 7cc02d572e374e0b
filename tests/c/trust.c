/*
 * trust.c: which certificate authorities an HTTPS token request trusts.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_HTTPS_URL      a loopback HTTPS token endpoint whose certificate a test CA
 *                                issued
 *   OAUTH2CC_TEST_CA_FILE        that CA's PEM, under a name that is not ASCII
 *   OAUTH2CC_TEST_DEFAULT_TRUST  "untrusted": the default roots (the system's store; on
 *                                Windows the certificate store) do not hold the CA;
 *                                "trusted": SSL_CERT_FILE names the CA file
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

static oauth2cc_status fetch(const char *url, const char *ca_file) {
  oauth2cc_config *config = NULL;
  oauth2cc_authorization *auth = NULL;
  oauth2cc_status status;
  CHECK_STATUS(oauth2cc_config_new("trust-client", "trust-secret", &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, url), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, 60000), OAUTH2CC_STATUS_OK);
  if (ca_file != NULL)
    CHECK_STATUS(oauth2cc_config_set_ca_file(config, ca_file), OAUTH2CC_STATUS_OK);
  status = oauth2cc_request_token(config, &auth);
  if (status == OAUTH2CC_STATUS_OK) {
    CHECK_STR(oauth2cc_authorization_access_token(auth), "trusted-token");
    oauth2cc_authorization_free(auth);
  }
  oauth2cc_config_free(config);
  return status;
}

int main(void) {
  const char *url = required_env("OAUTH2CC_TEST_HTTPS_URL");
  const char *ca_file = required_env("OAUTH2CC_TEST_CA_FILE");
  const char *default_trust = required_env("OAUTH2CC_TEST_DEFAULT_TRUST");

  if (strcmp(default_trust, "untrusted") == 0) {
    CHECK_STATUS(fetch(url, NULL), OAUTH2CC_STATUS_TLS);
  } else {
    CHECK_STR(default_trust, "trusted");
    CHECK_STATUS(fetch(url, NULL), OAUTH2CC_STATUS_OK);
  }
  /* A CA file trusts its roots whatever the defaults. */
  CHECK_STATUS(fetch(url, ca_file), OAUTH2CC_STATUS_OK);
  return checks_passed("trust");
}
