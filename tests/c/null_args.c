/*
 * null_args.c: every function in oauth2cc.h, called with NULL in each pointer position,
 * with strings that are not UTF-8, empty and 1 MiB long, and with out-of-range integers.
 * Each call gets the documented answer (INVALID_ARGUMENT with a message naming the
 * parameter, NULL, -1, true or a no-op), never a crash; an out-parameter is left alone.
 *
 * tests/c_api.rs checks that every function declared in the header is called here.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_TOKEN_URL  a local token endpoint that accepts any credentials
 *   OAUTH2CC_TEST_API_URL    a local API URL answering 200 with a body and an X-Test header
 *   OAUTH2CC_TEST_BASE       http://127.0.0.1:PORT of that server
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"

#define NOT_UTF8 "\xff\xfe"
#define MIB (1024u * 1024u)

/* INVALID_ARGUMENT, a message naming `param`, and no stale details from an older error. */
#define CHECK_INVALID(call, param)                                       \
  do {                                                                   \
    CHECK_STATUS(call, OAUTH2CC_STATUS_INVALID_ARGUMENT);                \
    CHECK_CONTAINS(oauth2cc_last_error_message(), param);                \
    CHECK_INT(oauth2cc_last_error_http_status(), 0);                     \
    CHECK_INT(oauth2cc_last_error_retry_after(), -1);                    \
    CHECK(oauth2cc_last_error_oauth_error() == NULL);                    \
    CHECK(oauth2cc_last_error_description() == NULL);                    \
    CHECK(oauth2cc_last_error_uri() == NULL);                            \
  } while (0)

/* Distinct addresses used as "untouched" markers for out-parameters; never dereferenced. */
static char marker_config, marker_auth, marker_client, marker_response;
#define CONFIG_MARK ((oauth2cc_config *)(void *)&marker_config)
#define AUTH_MARK ((oauth2cc_authorization *)(void *)&marker_auth)
#define CLIENT_MARK ((oauth2cc_client *)(void *)&marker_client)
#define RESPONSE_MARK ((oauth2cc_response *)(void *)&marker_response)

static char *big_string(const char *prefix) {
  size_t prefix_len = strlen(prefix);
  char *s = malloc(prefix_len + MIB + 1);
  CHECK(s != NULL);
  memcpy(s, prefix, prefix_len);
  memset(s + prefix_len, 'a', MIB);
  s[prefix_len + MIB] = '\0';
  return s;
}

static oauth2cc_config *local_config(const char *token_url) {
  oauth2cc_config *config = NULL;
  CHECK_STATUS(oauth2cc_config_new("null-args-client", "null-args-secret", &config),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, token_url), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, 10000), OAUTH2CC_STATUS_OK);
  return config;
}

static void statics(void) {
  static const struct {
    int value;
    const char *name;
  } names[] = {
#define NAME(s) {s, #s}
      NAME(OAUTH2CC_STATUS_OK),           NAME(OAUTH2CC_STATUS_INVALID_ARGUMENT),
      NAME(OAUTH2CC_STATUS_CONFIG),       NAME(OAUTH2CC_STATUS_BAD_REQUEST),
      NAME(OAUTH2CC_STATUS_UNAUTHORIZED), NAME(OAUTH2CC_STATUS_RATE_LIMITED),
      NAME(OAUTH2CC_STATUS_SERVER_ERROR), NAME(OAUTH2CC_STATUS_HTTP_STATUS),
      NAME(OAUTH2CC_STATUS_TIMEOUT),      NAME(OAUTH2CC_STATUS_NETWORK),
      NAME(OAUTH2CC_STATUS_TLS),          NAME(OAUTH2CC_STATUS_INVALID_RESPONSE),
      NAME(OAUTH2CC_STATUS_BUFFER_TOO_SMALL), NAME(OAUTH2CC_STATUS_PANIC),
#undef NAME
  };
  static const int unknown[] = {-1, 14, 15, 100, INT_MAX, INT_MIN};
  size_t i;

  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    CHECK_INT(names[i].value, i); /* the values are 0..13, in order, never renumbered */
    CHECK_STR(oauth2cc_status_str(names[i].value), names[i].name);
  }
  for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    CHECK_STR(oauth2cc_status_str(unknown[i]), "unknown status");

  CHECK_STR(oauth2cc_version(), OAUTH2CC_VERSION_STRING);

  /* No failure yet on this thread. */
  CHECK_STR(oauth2cc_last_error_message(), "");
  CHECK(oauth2cc_last_error_oauth_error() == NULL);
  CHECK(oauth2cc_last_error_description() == NULL);
  CHECK(oauth2cc_last_error_uri() == NULL);
  CHECK_INT(oauth2cc_last_error_http_status(), 0);
  CHECK_INT(oauth2cc_last_error_retry_after(), -1);
}

static void config_constructors(void) {
  oauth2cc_config *config = CONFIG_MARK;

  CHECK_INVALID(oauth2cc_config_new(NULL, "secret", &config), "client_id");
  /* A NULL secret is a client with a key or a certificate: a config, not an error. */
  CHECK_STATUS(oauth2cc_config_new("id", NULL, &config), OAUTH2CC_STATUS_OK);
  CHECK(config != CONFIG_MARK && config != NULL);
  oauth2cc_config_free(config);
  config = CONFIG_MARK;
  CHECK_INVALID(oauth2cc_config_new("id", "secret", NULL), "out");
  CHECK_INVALID(oauth2cc_config_new(NOT_UTF8, "secret", &config), "client_id");
  CHECK_CONTAINS(oauth2cc_last_error_message(), "UTF-8");
  CHECK_INVALID(oauth2cc_config_new("id", NOT_UTF8, &config), "client_secret");
  CHECK_INVALID(oauth2cc_config_new("", "secret", &config), "client_id");
  CHECK_INVALID(oauth2cc_config_new("id", "", &config), "client_secret");
  CHECK(config == CONFIG_MARK);

  CHECK_INVALID(oauth2cc_config_from_file(NULL, &config), "path");
  CHECK_INVALID(oauth2cc_config_from_file("config.json", NULL), "out");
  CHECK_INVALID(oauth2cc_config_from_file(NOT_UTF8, &config), "path");
  CHECK_STATUS(oauth2cc_config_from_file("", &config), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_from_file("/nonexistent/oauth2cc.json", &config),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "/nonexistent/oauth2cc.json");
  CHECK(config == CONFIG_MARK);

  CHECK_INVALID(oauth2cc_config_from_env(NULL), "out");
  /* The harness runs this program without OAUTH2CC_CLIENT_ID. */
  CHECK_STATUS(oauth2cc_config_from_env(&config), OAUTH2CC_STATUS_CONFIG);
  CHECK_CONTAINS(oauth2cc_last_error_message(), "OAUTH2CC_CLIENT_ID");
  CHECK(config == CONFIG_MARK);

  oauth2cc_config_free(NULL);
}

static void config_setters(const char *token_url) {
  oauth2cc_config *config = local_config(token_url);

  /* NULL config, for every setter. */
  CHECK_INVALID(oauth2cc_config_set_token_url(NULL, token_url), "config");
  CHECK_INVALID(oauth2cc_config_set_scope(NULL, "a"), "config");
  CHECK_INVALID(oauth2cc_config_set_auth_style(NULL, OAUTH2CC_AUTH_STYLE_BASIC), "config");
  CHECK_INVALID(oauth2cc_config_add_param(NULL, "audience", "x"), "config");
  CHECK_INVALID(oauth2cc_config_set_timeout_ms(NULL, 1000), "config");
  CHECK_INVALID(oauth2cc_config_set_connect_timeout_ms(NULL, 1000), "config");
  CHECK_INVALID(oauth2cc_config_set_ca_file(NULL, "/etc/ssl/certs/ca-certificates.crt"),
                "config");
  CHECK_INVALID(oauth2cc_config_set_proxy(NULL, NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_user_agent(NULL, "ua"), "config");
  CHECK_INVALID(oauth2cc_config_set_expiry_leeway(NULL, 1), "config");
  CHECK_INVALID(oauth2cc_config_set_retries(NULL, 1, 1), "config");
  CHECK_INVALID(oauth2cc_config_set_cache_file(NULL, NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_shared_cache(NULL, "redis://127.0.0.1:6379"), "config");
  CHECK_INVALID(oauth2cc_config_set_max_response_bytes(NULL, 1), "config");
  CHECK_INVALID(oauth2cc_config_set_min_refresh_interval_ms(NULL, 1), "config");
  CHECK_INVALID(oauth2cc_config_set_log(NULL, NULL, NULL, OAUTH2CC_LOG_DEBUG), "config");
  CHECK_INVALID(oauth2cc_config_set_background_refresh(NULL, true), "config");
  CHECK_INVALID(oauth2cc_config_set_unauthorized_refresh_interval_ms(NULL, 1), "config");
  CHECK_INVALID(oauth2cc_config_set_private_key_file(NULL, "key.pem", NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_private_key_pem(NULL, "-----BEGIN", NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_jwt_algorithm(NULL, NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_jwt_audience(NULL, NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_client_certificate_file(NULL, "c.pem", "k.pem"), "config");
  CHECK_INVALID(oauth2cc_config_set_issuer(NULL, NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_jwt_bearer(NULL, NULL), "config");
  CHECK_INVALID(oauth2cc_config_set_client_assertion_file(NULL, "token"), "config");
  CHECK_INVALID(oauth2cc_config_set_dpop(NULL, 1), "config");
  CHECK_INVALID(oauth2cc_config_set_dpop_key_file(NULL, "key.pem"), "config");

  /* NULL strings: refused where required, "clear" where documented. */
  CHECK_INVALID(oauth2cc_config_set_token_url(config, NULL), "url");
  CHECK_STATUS(oauth2cc_config_set_scope(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_INVALID(oauth2cc_config_add_param(config, NULL, "x"), "name");
  CHECK_INVALID(oauth2cc_config_add_param(config, "audience", NULL), "value");
  CHECK_INVALID(oauth2cc_config_set_ca_file(config, NULL), "pem_path");
  CHECK_STATUS(oauth2cc_config_set_proxy(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_INVALID(oauth2cc_config_set_user_agent(config, NULL), "user_agent");
  CHECK_STATUS(oauth2cc_config_set_cache_file(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_INVALID(oauth2cc_config_set_private_key_file(config, NULL, NULL), "pem_path");
  CHECK_INVALID(oauth2cc_config_set_private_key_pem(config, NULL, "kid"), "pem");
  CHECK_STATUS(oauth2cc_config_set_jwt_algorithm(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_audience(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_INVALID(oauth2cc_config_set_client_certificate_file(config, NULL, "k.pem"),
                "cert_chain_pem_path");
  CHECK_INVALID(oauth2cc_config_set_client_certificate_file(config, "c.pem", NULL),
                "key_pem_path");
  CHECK_STATUS(oauth2cc_config_set_issuer(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_shared_cache(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_bearer(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_client_assertion_file(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_INVALID(oauth2cc_config_set_dpop_key_file(config, NULL), "path");

  /* Not UTF-8. */
  CHECK_INVALID(oauth2cc_config_set_token_url(config, NOT_UTF8), "url");
  CHECK_INVALID(oauth2cc_config_set_scope(config, NOT_UTF8), "scope");
  CHECK_INVALID(oauth2cc_config_add_param(config, NOT_UTF8, "x"), "name");
  CHECK_INVALID(oauth2cc_config_add_param(config, "audience", NOT_UTF8), "value");
  CHECK_INVALID(oauth2cc_config_set_ca_file(config, NOT_UTF8), "pem_path");
  CHECK_INVALID(oauth2cc_config_set_proxy(config, NOT_UTF8), "proxy_url");
  CHECK_INVALID(oauth2cc_config_set_user_agent(config, NOT_UTF8), "user_agent");
  CHECK_INVALID(oauth2cc_config_set_cache_file(config, NOT_UTF8), "path");
  CHECK_INVALID(oauth2cc_config_set_private_key_file(config, NOT_UTF8, NULL), "pem_path");
  CHECK_INVALID(oauth2cc_config_set_private_key_file(config, "key.pem", NOT_UTF8), "key_id");
  CHECK_INVALID(oauth2cc_config_set_private_key_pem(config, NOT_UTF8, NULL), "pem");
  CHECK_INVALID(oauth2cc_config_set_private_key_pem(config, "-----BEGIN", NOT_UTF8), "key_id");
  CHECK_INVALID(oauth2cc_config_set_jwt_algorithm(config, NOT_UTF8), "alg");
  CHECK_INVALID(oauth2cc_config_set_jwt_audience(config, NOT_UTF8), "audience");
  CHECK_INVALID(oauth2cc_config_set_client_certificate_file(config, NOT_UTF8, "k.pem"),
                "cert_chain_pem_path");
  CHECK_INVALID(oauth2cc_config_set_client_certificate_file(config, "c.pem", NOT_UTF8),
                "key_pem_path");
  CHECK_INVALID(oauth2cc_config_set_issuer(config, NOT_UTF8), "issuer_url");
  CHECK_INVALID(oauth2cc_config_set_shared_cache(config, NOT_UTF8), "redis_url");
  CHECK_INVALID(oauth2cc_config_set_jwt_bearer(config, NOT_UTF8), "subject");
  CHECK_INVALID(oauth2cc_config_set_client_assertion_file(config, NOT_UTF8), "path");
  CHECK_INVALID(oauth2cc_config_set_dpop_key_file(config, NOT_UTF8), "path");
  /* Not a Redis URL: CONFIG, and the message never holds the password. */
  CHECK_STATUS(oauth2cc_config_set_shared_cache(config, "http://:hunter2@127.0.0.1"),
               OAUTH2CC_STATUS_CONFIG);
  CHECK(strstr(oauth2cc_last_error_message(), "hunter2") == NULL);
  CHECK_STATUS(oauth2cc_config_set_shared_cache(config, "redis://127.0.0.1:6379/x"),
               OAUTH2CC_STATUS_CONFIG);

  /* Empty strings. */
  CHECK_STATUS(oauth2cc_config_set_token_url(config, ""), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_scope(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_add_param(config, "", "x"), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_add_param(config, "audience", ""), OAUTH2CC_STATUS_OK);
  CHECK(oauth2cc_config_set_ca_file(config, "") != OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_proxy(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_cache_file(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, "", NULL),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_private_key_pem(config, "", NULL), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_jwt_algorithm(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_audience(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, "", ""),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_issuer(config, ""), OAUTH2CC_STATUS_OK);
  /* The issuer obeys the token URL rules. */
  CHECK_STATUS(oauth2cc_config_set_issuer(config, "http://example.com"), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_issuer(config, "not a url"), OAUTH2CC_STATUS_CONFIG);
  /* Names that are not algorithms. */
  CHECK_INVALID(oauth2cc_config_set_jwt_algorithm(config, "none"), "none");
  CHECK_INVALID(oauth2cc_config_set_jwt_algorithm(config, "rs256"), "rs256");
  CHECK_STATUS(oauth2cc_config_set_shared_cache(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_jwt_bearer(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_client_assertion_file(config, ""), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_dpop_key_file(config, ""), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_dpop(config, INT_MIN), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_dpop(config, 0), OAUTH2CC_STATUS_OK);

  /* Integers out of range. */
  CHECK_INVALID(oauth2cc_config_set_auth_style(config, 99), "style");
  CHECK_INVALID(oauth2cc_config_set_auth_style(config, 6), "style");
  CHECK_INVALID(oauth2cc_config_set_auth_style(config, UINT32_MAX), "style");
  CHECK_STATUS(oauth2cc_config_set_auth_style(config, OAUTH2CC_AUTH_STYLE_AUTO),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, 0), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_connect_timeout_ms(config, 0),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_max_response_bytes(config, 0),
               OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, UINT32_MAX), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_expiry_leeway(config, UINT32_MAX), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_retries(config, UINT32_MAX, UINT32_MAX), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_max_response_bytes(config, SIZE_MAX), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_min_refresh_interval_ms(config, 0), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_min_refresh_interval_ms(config, UINT32_MAX),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_unauthorized_refresh_interval_ms(config, 0),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_unauthorized_refresh_interval_ms(config, UINT32_MAX),
               OAUTH2CC_STATUS_OK);

  /* Parameters the library manages itself. */
  CHECK_INVALID(oauth2cc_config_add_param(config, "grant_type", "password"), "grant_type");
  CHECK_INVALID(oauth2cc_config_add_param(config, "client_id", "x"), "client_id");
  CHECK_INVALID(oauth2cc_config_add_param(config, "client_secret", "x"), "client_secret");
  CHECK_INVALID(oauth2cc_config_add_param(config, "scope", "x"), "scope");

  /* A control character in the User-Agent would split the header. */
  CHECK_INVALID(oauth2cc_config_set_user_agent(config, "agent\r\nX-Evil: 1"), "user_agent");

  oauth2cc_config_free(config);
}

static void one_shot_requests(const char *token_url) {
  oauth2cc_config *config = local_config(token_url);
  oauth2cc_authorization *auth = AUTH_MARK;

  CHECK_INVALID(oauth2cc_request_token(NULL, &auth), "config");
  CHECK_INVALID(oauth2cc_request_token(config, NULL), "out");

  /* None of these reaches the network: the arguments are refused first. */
  CHECK_INVALID(oauth2cc_authenticate(NULL, "secret", &auth), "client_id");
  CHECK_INVALID(oauth2cc_authenticate("id", NULL, &auth), "client_secret");
  CHECK_INVALID(oauth2cc_authenticate("id", "secret", NULL), "out");
  CHECK_INVALID(oauth2cc_authenticate(NOT_UTF8, "secret", &auth), "client_id");
  CHECK_INVALID(oauth2cc_authenticate("id", NOT_UTF8, &auth), "client_secret");
  CHECK_INVALID(oauth2cc_authenticate("", "secret", &auth), "client_id");
  CHECK_INVALID(oauth2cc_authenticate("id", "", &auth), "client_secret");
  CHECK(auth == AUTH_MARK);

  oauth2cc_config_free(config);
}

static void authorization_accessors(const char *token_url) {
  oauth2cc_config *config = local_config(token_url);
  oauth2cc_authorization *auth = NULL;
  char buf[256];
  size_t needed = 12345;

  /* A NULL handle: NULL, -1, expired, no-op. */
  CHECK(oauth2cc_authorization_access_token(NULL) == NULL);
  CHECK(oauth2cc_authorization_token_type(NULL) == NULL);
  CHECK_INT(oauth2cc_authorization_expires_in(NULL), -1);
  CHECK_INT(oauth2cc_authorization_expires_at(NULL), -1);
  CHECK(oauth2cc_authorization_scope(NULL) == NULL);
  CHECK(oauth2cc_authorization_refresh_token(NULL) == NULL);
  CHECK(oauth2cc_authorization_is_expired(NULL, 0));
  CHECK(oauth2cc_authorization_is_expired(NULL, UINT32_MAX));
  CHECK(oauth2cc_authorization_clone(NULL) == NULL);
  oauth2cc_authorization_free(NULL);
  CHECK_INVALID(oauth2cc_authorization_header(NULL, buf, sizeof buf, &needed), "auth");
  CHECK_INT(needed, 12345);

  /* A real token, and its header with bad buffers. */
  CHECK_STATUS(oauth2cc_request_token(config, &auth), OAUTH2CC_STATUS_OK);
  CHECK_INVALID(oauth2cc_authorization_header(auth, NULL, 10, &needed), "buf");
  CHECK_STATUS(oauth2cc_authorization_header(auth, NULL, 0, NULL),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK_STATUS(oauth2cc_authorization_header(auth, buf, 1, NULL),
               OAUTH2CC_STATUS_BUFFER_TOO_SMALL);
  CHECK_STATUS(oauth2cc_authorization_header(auth, buf, sizeof buf, NULL), OAUTH2CC_STATUS_OK);
  CHECK(oauth2cc_authorization_is_expired(auth, UINT32_MAX));
  oauth2cc_authorization_free(auth);
  oauth2cc_config_free(config);
}

static void clients_and_responses(const char *token_url, const char *api_url) {
  oauth2cc_config *config = local_config(token_url);
  oauth2cc_client *client = CLIENT_MARK;
  oauth2cc_authorization *auth = AUTH_MARK;
  oauth2cc_response *response = RESPONSE_MARK;
  size_t len = 777;

  CHECK_INVALID(oauth2cc_client_new(NULL, &client), "config");
  CHECK_INVALID(oauth2cc_client_new(config, NULL), "out");
  CHECK(client == CLIENT_MARK);
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  oauth2cc_config_free(config);

  CHECK_INVALID(oauth2cc_client_token(NULL, &auth), "client");
  CHECK_INVALID(oauth2cc_client_token(client, NULL), "out");
  CHECK(auth == AUTH_MARK);
  oauth2cc_client_invalidate(NULL);
  {
    char header[64];
    size_t needed = 0;
    oauth2cc_client_stats stats = {0};
    stats.struct_size = sizeof stats;
    CHECK_INVALID(oauth2cc_client_authorization_header(NULL, header, sizeof header, &needed),
                  "client");
    CHECK_INVALID(oauth2cc_client_get_stats(NULL, &stats), "client");
    CHECK_INVALID(oauth2cc_client_dpop_proof(NULL, "GET", api_url, NULL, header, sizeof header,
                                             &needed),
                  "client");
    CHECK_INVALID(oauth2cc_client_dpop_proof(client, NULL, api_url, NULL, header, sizeof header,
                                             &needed),
                  "method");
    CHECK_INVALID(oauth2cc_client_dpop_proof(client, "GET", NULL, NULL, header, sizeof header,
                                             &needed),
                  "url");
    CHECK_INVALID(oauth2cc_client_dpop_proof(client, "GET", api_url, NOT_UTF8, header,
                                             sizeof header, &needed),
                  "access_token");
    /* This client has DPoP off. */
    CHECK_STATUS(oauth2cc_client_dpop_proof(client, "GET", api_url, NULL, header, sizeof header,
                                            &needed),
                 OAUTH2CC_STATUS_CONFIG);
    CHECK_INVALID(oauth2cc_client_get_stats(client, NULL), "out");
    stats.struct_size = 0;
    CHECK_INVALID(oauth2cc_client_get_stats(client, &stats), "struct_size");
  }

  CHECK_INVALID(oauth2cc_client_get(NULL, api_url, &response), "client");
  CHECK_INVALID(oauth2cc_client_get(client, NULL, &response), "url");
  CHECK_INVALID(oauth2cc_client_get(client, api_url, NULL), "out");
  CHECK_INVALID(oauth2cc_client_get(client, NOT_UTF8, &response), "url");
  CHECK_STATUS(oauth2cc_client_get(client, "", &response), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_client_get(client, "http://example.com/", &response),
               OAUTH2CC_STATUS_CONFIG);
  CHECK(response == RESPONSE_MARK);

  {
    const char *fine[] = {"Accept: application/json", NULL};
    const char *not_utf8[] = {"X-A: 1", NOT_UTF8, NULL};
    const char *no_colon[] = {"X-A 1", NULL};
    const char *crlf[] = {"X-A: 1\r\nX-Evil: 2", NULL};
    const char *owned[] = {"authorization: Bearer mine", NULL};
    const char *computed[] = {"Content-Length: 3", NULL};
    static const uint8_t body[] = {'{', '}'};
    /* Bad method, headers or body to the right URL: refused, each naming what is wrong. */
    const struct {
      const char *method;
      const char *const *headers;
      const uint8_t *body;
      size_t body_len;
      const char *param;
    } refused[] = {
        {"POST", fine, NULL, 2, "body"},
        {NOT_UTF8, NULL, NULL, 0, "method"},
        {"GET", not_utf8, NULL, 0, "headers[1]"},
        {"GE T", NULL, NULL, 0, "method"},
        {"GET", no_colon, NULL, 0, "colon"},
        {"GET", crlf, NULL, 0, "X-A"},
        {"GET", owned, NULL, 0, "authorization"},
        {"POST", computed, body, 2, "Content-Length"},
    };
    size_t i;

    CHECK_INVALID(oauth2cc_client_request(NULL, "GET", api_url, NULL, NULL, 0, &response),
                  "client");
    CHECK_INVALID(oauth2cc_client_request(client, NULL, api_url, NULL, NULL, 0, &response),
                  "method");
    CHECK_INVALID(oauth2cc_client_request(client, "GET", NULL, NULL, NULL, 0, &response), "url");
    CHECK_INVALID(oauth2cc_client_request(client, "GET", api_url, NULL, NULL, 0, NULL), "out");
    for (i = 0; i < sizeof refused / sizeof refused[0]; ++i)
      CHECK_INVALID(oauth2cc_client_request(client, refused[i].method, api_url, refused[i].headers,
                                            refused[i].body, refused[i].body_len, &response),
                    refused[i].param);
    CHECK_STATUS(oauth2cc_client_request(client, "GET", "http://example.com/", NULL, NULL, 0,
                                         &response),
                 OAUTH2CC_STATUS_CONFIG);
    CHECK(response == RESPONSE_MARK);
    CHECK_STATUS(oauth2cc_client_request(client, "GET", api_url, fine, NULL, 0, &response),
                 OAUTH2CC_STATUS_OK);
    CHECK_INT(oauth2cc_response_status(response), 200);
    oauth2cc_response_free(response);
    response = RESPONSE_MARK;
  }

  /* A NULL response. */
  CHECK_INT(oauth2cc_response_status(NULL), 0);
  CHECK(oauth2cc_response_body(NULL, &len) == NULL);
  CHECK_INT(len, 0);
  CHECK(oauth2cc_response_body(NULL, NULL) == NULL);
  CHECK(oauth2cc_response_header(NULL, "content-type") == NULL);
  CHECK_INT(oauth2cc_response_header_count(NULL), 0);
  {
    const char *name = "untouched", *value = "untouched";
    CHECK_INVALID(oauth2cc_response_header_at(NULL, 0, &name, &value), "response");
    CHECK(name[0] == 'u' && value[0] == 'u');
  }
  oauth2cc_response_free(NULL);

  /* A real response, asked odd questions. */
  CHECK_STATUS(oauth2cc_client_get(client, api_url, &response), OAUTH2CC_STATUS_OK);
  CHECK_INT(oauth2cc_response_status(response), 200);
  CHECK(oauth2cc_response_body(response, NULL) != NULL);
  CHECK_STR(oauth2cc_response_header(response, "X-Test"), "yes");
  CHECK(oauth2cc_response_header(response, NULL) == NULL);
  CHECK(oauth2cc_response_header(response, NOT_UTF8) == NULL);
  CHECK(oauth2cc_response_header(response, "") == NULL);
  CHECK(oauth2cc_response_header(response, "X-Missing") == NULL);
  {
    const char *name = NULL, *value = NULL;
    CHECK(oauth2cc_response_header_count(response) >= 1);
    CHECK_INVALID(oauth2cc_response_header_at(response, 0, NULL, &value), "name");
    CHECK_INVALID(oauth2cc_response_header_at(response, 0, &name, NULL), "value");
    CHECK_INVALID(oauth2cc_response_header_at(response, SIZE_MAX, &name, &value), "index");
    CHECK(name == NULL && value == NULL);
  }
  oauth2cc_response_free(response);

  oauth2cc_client_free(client);
  oauth2cc_client_free(NULL);
}

/* 1 MiB strings everywhere one can go. Nothing crashes; valid ones are accepted. */
static void huge_strings(const char *token_url, const char *api_url, const char *base) {
  char *big = big_string("");
  char *big_url = big_string(base);
  oauth2cc_config *config = NULL;
  oauth2cc_config *huge_id = NULL;
  oauth2cc_client *client = NULL;
  oauth2cc_response *response;

  big_url[strlen(base)] = '/';

  /* Ids, secrets and user agents travel in request headers: over 16 KiB is refused up
     front, with a message that does not echo the credential. */
  CHECK_STATUS(oauth2cc_config_new("id", big, &huge_id), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_new(big, "secret", &huge_id), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK(huge_id == NULL);
  CHECK(strstr(oauth2cc_last_error_message(), "aaaaaaaaaaaaaaaa") == NULL);
  CHECK(strstr(oauth2cc_last_error_message(), "client_id") != NULL);

  config = local_config(token_url);
  /* URLs are limited to 64 KiB (as in the http crate): longer is a bad URL. */
  CHECK_STATUS(oauth2cc_config_set_token_url(config, big_url), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_scope(config, big), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_scope(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_add_param(config, big, "x"), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_add_param(config, "resource", big), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_user_agent(config, big), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_ca_file(config, big), OAUTH2CC_STATUS_CONFIG);
  CHECK(oauth2cc_config_set_proxy(config, big) != OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_cache_file(config, big), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_private_key_pem(config, big, NULL), OAUTH2CC_STATUS_CONFIG);
  CHECK(strstr(oauth2cc_last_error_message(), "aaaaaaaaaaaaaaaa") == NULL);
  CHECK_STATUS(oauth2cc_config_set_private_key_file(config, big, big), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_jwt_algorithm(config, big), OAUTH2CC_STATUS_INVALID_ARGUMENT);
  CHECK_STATUS(oauth2cc_config_set_jwt_audience(config, big), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, big, big),
               OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_issuer(config, big_url), OAUTH2CC_STATUS_CONFIG);
  CHECK_STATUS(oauth2cc_config_set_jwt_audience(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_cache_file(config, NULL), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_shared_cache(config, big), OAUTH2CC_STATUS_CONFIG);
  oauth2cc_config_free(config);

  CHECK_STATUS(oauth2cc_config_from_file(big, &config), OAUTH2CC_STATUS_CONFIG);

  /* The same for an API URL; nothing is sent. */
  config = local_config(token_url);
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  oauth2cc_config_free(config);
  response = RESPONSE_MARK;
  CHECK_STATUS(oauth2cc_client_get(client, big_url, &response), OAUTH2CC_STATUS_CONFIG);
  CHECK(response == RESPONSE_MARK);
  /* A 1 MiB header name is just a name no response has. */
  CHECK_STATUS(oauth2cc_client_get(client, api_url, &response), OAUTH2CC_STATUS_OK);
  CHECK(oauth2cc_response_header(response, big) == NULL);
  oauth2cc_response_free(response);
  oauth2cc_client_free(client);

  free(big);
  free(big_url);
}

int main(void) {
  const char *token_url = required_env("OAUTH2CC_TEST_TOKEN_URL");
  const char *api_url = required_env("OAUTH2CC_TEST_API_URL");
  const char *base = required_env("OAUTH2CC_TEST_BASE");

  statics();
  config_constructors();
  config_setters(token_url);
  one_shot_requests(token_url);
  authorization_accessors(token_url);
  clients_and_responses(token_url, api_url);
  huge_strings(token_url, api_url, base);
  return checks_passed("null_args");
}
