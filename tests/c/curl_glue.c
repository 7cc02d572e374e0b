/*
 * curl_glue.c: oauth2cc_curl_perform (include/oauth2cc_curl.h) with a real libcurl.
 *
 * Environment (set by tests/curl_glue.rs):
 *   OAUTH2CC_TEST_TOKEN_URL    a token endpoint that issues tok-1, tok-2, ... to glue-client
 *   OAUTH2CC_TEST_API_URL      an API that answers 401 to tok-1 (and to anything it did not
 *                              issue) and 200 to tok-2, echoing in its body
 *                              {"auth":"<Authorization>","x_test":"<X-Test>","n":<count>}
 *                              where count is how many Authorization headers it got
 *   OAUTH2CC_TEST_REFUSED_URL  a loopback URL where nothing listens
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oauth2cc.h"
#include "oauth2cc_curl.h"

/* The body of the last answer that was not a 401: the pattern the header recommends. */
struct body {
    CURL *easy;
    char data[4096];
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
    struct body *body = (struct body *)userdata;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(body->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code == 401) {
        body->len = 0; /* a 401 that oauth2cc_curl_perform may retry: not the answer */
        body->data[0] = '\0';
        return n;
    }
    if (body->len + n >= sizeof body->data)
        return 0;
    memcpy(body->data + body->len, ptr, n);
    body->len += n;
    body->data[body->len] = '\0';
    return n;
}

static CURL *new_easy(const char *url, struct body *body) {
    CURL *easy = curl_easy_init();
    CHECK(easy != NULL);
    body->easy = easy;
    body->len = 0;
    body->data[0] = '\0';
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_URL, url), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_NOPROXY, "*"), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_WRITEDATA, body), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L), CURLE_OK);
    return easy;
}

static oauth2cc_client *new_client(const char *token_url, const char *secret) {
    oauth2cc_config *config = NULL;
    oauth2cc_client *client = NULL;
    CHECK_STATUS(oauth2cc_config_new("glue-client", secret, &config), OAUTH2CC_STATUS_OK);
    CHECK_STATUS(oauth2cc_config_set_token_url(config, token_url), OAUTH2CC_STATUS_OK);
    CHECK_STATUS(oauth2cc_config_set_timeout_ms(config, 10000), OAUTH2CC_STATUS_OK);
    CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
    oauth2cc_config_free(config);
    return client;
}

/* oauth2cc_curl_perform fails with `status` (and a last error message containing `message`
 * unless that is NULL) before curl runs: *result is left as it was. */
static void check_perform_fails(oauth2cc_client *client, CURL *easy, oauth2cc_status status,
                                const char *message) {
    CURLcode result = CURLE_AGAIN;
    CHECK_STATUS(oauth2cc_curl_perform(client, easy, NULL, &result), status);
    if (message != NULL) CHECK_CONTAINS(oauth2cc_last_error_message(), message);
    CHECK_INT(result, CURLE_AGAIN);
}

static long response_code(CURL *easy) {
    long code = 0;
    CHECK_INT(curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
    return code;
}

int main(void) {
    const char *token_url = getenv("OAUTH2CC_TEST_TOKEN_URL");
    const char *api_url = getenv("OAUTH2CC_TEST_API_URL");
    const char *refused_url = getenv("OAUTH2CC_TEST_REFUSED_URL");
    oauth2cc_client *client;
    struct curl_slist *headers = NULL;
    struct body body;
    CURL *easy;
    CURLcode result = CURLE_AGAIN; /* until a perform writes it */

    CHECK(token_url != NULL && api_url != NULL && refused_url != NULL);
    CHECK_INT(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    client = new_client(token_url, "glue-secret");

    /* NULL arguments: INVALID_ARGUMENT, nothing sent, *result untouched. */
    easy = new_easy(api_url, &body);
    check_perform_fails(NULL, easy, OAUTH2CC_STATUS_INVALID_ARGUMENT, "client");
    check_perform_fails(client, NULL, OAUTH2CC_STATUS_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(oauth2cc_curl_perform(client, easy, NULL, NULL),
                 OAUTH2CC_STATUS_INVALID_ARGUMENT);

    /* The first token (tok-1) gets a 401: invalidated, tok-2 fetched, performed again. The
     * caller's own Authorization entry is left out; X-Test is sent. */
    headers = curl_slist_append(headers, "X-Test: yes");
    CHECK(headers != NULL);
    headers = curl_slist_append(headers, "authorization: Bearer caller");
    CHECK(headers != NULL);
    CHECK_STATUS(oauth2cc_curl_perform(client, easy, headers, &result), OAUTH2CC_STATUS_OK);
    CHECK_INT(result, CURLE_OK);
    CHECK_INT(response_code(easy), 200);
    CHECK_STR(body.data, "{\"auth\":\"Bearer tok-2\",\"x_test\":\"yes\",\"n\":1}");

    /* The caller's list is as it was, and the handle points at it again: a plain perform
     * sends the caller's headers (and gets a 401 for its Authorization). */
    CHECK_STR(headers->data, "X-Test: yes");
    CHECK_STR(headers->next->data, "authorization: Bearer caller");
    CHECK(headers->next->next == NULL);
    body.len = 0;
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, NULL), CURLE_OK);
    CHECK_INT(curl_easy_setopt(easy, CURLOPT_WRITEDATA, stdout), CURLE_OK);
    printf("plain perform with the caller's list: ");
    CHECK_INT(curl_easy_perform(easy), CURLE_OK);
    printf("\n");
    CHECK_INT(response_code(easy), 401);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);

    /* NULL headers: only ours; the cached tok-2, no new token request. */
    easy = new_easy(api_url, &body);
    CHECK_STATUS(oauth2cc_curl_perform(client, easy, NULL, &result), OAUTH2CC_STATUS_OK);
    CHECK_INT(result, CURLE_OK);
    CHECK_INT(response_code(easy), 200);
    CHECK_STR(body.data, "{\"auth\":\"Bearer tok-2\",\"x_test\":\"\",\"n\":1}");
    curl_easy_cleanup(easy);

    /* curl's own failure: OK from the token side, curl's code in *result. */
    easy = new_easy(refused_url, &body);
    CHECK_STATUS(oauth2cc_curl_perform(client, easy, NULL, &result), OAUTH2CC_STATUS_OK);
    CHECK_INT(result, CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(easy);
    oauth2cc_client_free(client);

    /* A token failure: the token endpoint's status, and curl never runs. */
    client = new_client(token_url, "wrong-secret");
    easy = new_easy(api_url, &body);
    check_perform_fails(client, easy, OAUTH2CC_STATUS_BAD_REQUEST, "invalid_client");
    CHECK_INT(response_code(easy), 0);
    curl_easy_cleanup(easy);
    oauth2cc_client_free(client);

    curl_global_cleanup();
    printf("curl_glue: all %lu checks passed\n", checks_run);
    return 0;
}
