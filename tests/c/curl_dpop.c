/*
 * curl_dpop.c: oauth2cc_curl_perform and oauth2cc_curl_perform_method with a DPoP-bound
 * token and a real libcurl: `Authorization: DPoP <token>` and a fresh proof per request.
 *
 * Environment (set by tests/curl_glue.rs):
 *   OAUTH2CC_TEST_DPOP_BASE  http://127.0.0.1:port of a DPoP token endpoint (/token) and API
 *                            (/api/...) that verify every proof as RFC 9449 §4.3 says
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"
#include "oauth2cc_curl.h"

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static CURL *new_easy(const char *url) {
    CURL *easy = curl_easy_init();
    CHECK(easy != NULL);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_URL, url), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_NOPROXY, "*"), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L), CURLE_OK);
    return easy;
}

static long perform(oauth2cc_client *client, CURL *easy, const char *method,
                    const struct curl_slist *headers) {
    CURLcode result = CURLE_AGAIN;
    long code = 0;
    if (method == NULL) {
        CHECK_STATUS(oauth2cc_curl_perform(client, easy, headers, &result), OAUTH2CC_STATUS_OK);
    } else {
        CHECK_STATUS(oauth2cc_curl_perform_method(client, easy, method, headers, &result),
                     OAUTH2CC_STATUS_OK);
    }
    CHECK_INT(result, CURLE_OK);
    CHECK_INT(curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
    return code;
}

int main(void) {
    const char *base = required_env("OAUTH2CC_TEST_DPOP_BASE");
    char url[512];
    oauth2cc_config *config = test_config("curl-dpop", "curl-secret", base, "/token", 10000);
    oauth2cc_client *client = NULL;
    struct curl_slist *headers = NULL;
    CURL *easy;

    CHECK_STATUS(oauth2cc_config_set_dpop(config, 1), OAUTH2CC_STATUS_OK);
    client = client_from(config);
    CHECK_INT(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);

    /* GET with the query (htu leaves it out), twice: a fresh proof each time. */
    snprintf(url, sizeof url, "%s/api/items?page=1", base);
    easy = new_easy(url);
    CHECK_INT(perform(client, easy, NULL, NULL), 200);
    CHECK_INT(perform(client, easy, NULL, NULL), 200);
    curl_easy_cleanup(easy);

    /* POST, with the caller's own (stale) DPoP and Authorization headers left out. */
    snprintf(url, sizeof url, "%s/api/items", base);
    easy = new_easy(url);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "{}"), CURLE_OK);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "DPoP: stale");
    headers = curl_slist_append(headers, "Authorization: Bearer stale");
    CHECK(headers != NULL);
    CHECK_INT(perform(client, easy, "POST", headers), 200);
    /* The same POST with a GET proof: the server refuses it (htm), twice (the 401 retry). */
    CHECK_INT(perform(client, easy, NULL, headers), 401);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);

    oauth2cc_client_free(client);
    curl_global_cleanup();
    return checks_passed("curl_dpop");
}
