/*
 * oauth2cc_curl.h: libcurl glue for oauth2cc, header-only.
 *
 * One function, oauth2cc_curl_perform(): curl_easy_perform() with the client's
 * Authorization header, and one refresh and retry when the server answers 401. Everything
 * here is `static inline` over the public functions of oauth2cc.h and libcurl's: liboauth2cc
 * gains no link dependency; the program that includes this header links libcurl itself.
 *
 *   cc app.c $(pkg-config --cflags --libs oauth2cc libcurl)
 *
 * Compiles as C99 and later, and as C++ (C++11 and later).
 */
#ifndef OAUTH2CC_CURL_H
#define OAUTH2CC_CURL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "oauth2cc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Internal: "Authorization: " and the header value of one token. */
#define OAUTH2CC_CURL_AUTH_PREFIX_ "Authorization: "
#define OAUTH2CC_CURL_AUTH_PREFIX_LEN_ 15
/* Internal: "DPoP: " and a proof, for a DPoP-bound token (its header value starts "DPoP "). */
#define OAUTH2CC_CURL_DPOP_PREFIX_ "DPoP: "
#define OAUTH2CC_CURL_DPOP_PREFIX_LEN_ 6

/* Internal: overwrites n bytes at p in a way the compiler may not drop as a dead store
 * (the memory holds the access token and is about to be freed). */
static inline void oauth2cc_curl_wipe_(char *p, size_t n) {
    volatile char *v = p;
    while (n-- > 0)
        *v++ = 0;
}

/* Internal: whether a "Name: value" line is an Authorization header (any case). */
static inline int oauth2cc_curl_is_authorization_(const char *line) {
    const char *name = "authorization";
    size_t i;
    for (i = 0; name[i] != '\0'; i++) {
        char c = line[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return 0;
    }
    return line[i] == ':' || line[i] == ';';
}

/* Internal: whether a "Name: value" line is a DPoP header (any case). */
static inline int oauth2cc_curl_is_dpop_(const char *line) {
    return (line[0] == 'D' || line[0] == 'd') && (line[1] == 'P' || line[1] == 'p') &&
           (line[2] == 'O' || line[2] == 'o') && (line[3] == 'P' || line[3] == 'p') &&
           (line[4] == ':' || line[4] == ';');
}

/* Internal: frees a list this header built, wiping its entries from the first of ours on
 * (our Authorization header holds the token, our DPoP header a proof; after a failed
 * append, a copy of the caller's entry). `ours` is how many of the caller's come first. */
static inline void oauth2cc_curl_free_list_(struct curl_slist *list, size_t ours) {
    struct curl_slist *node = list;
    size_t i = 0;
    for (; node != NULL; node = node->next, i++)
        if (i >= ours && node->data != NULL)
            oauth2cc_curl_wipe_(node->data, strlen(node->data));
    curl_slist_free_all(list);
}

/* Internal: "DPoP: <proof>" for `method` to the URL set on `easy`, with `ath` over `token`,
 * in a malloc'ed line (NULL when out of memory; *status is the library's status). */
static inline char *oauth2cc_curl_dpop_line_(oauth2cc_client *client, CURL *easy,
                                             const char *method, const char *token,
                                             oauth2cc_status *status) {
    char *url = NULL, *line;
    size_t needed = 0, size;
    if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || url == NULL)
        url = (char *)(uintptr_t) "";
    *status = oauth2cc_client_dpop_proof(client, method, url, token, NULL, 0, &needed);
    if (*status != OAUTH2CC_STATUS_BUFFER_TOO_SMALL)
        return NULL;
    size = OAUTH2CC_CURL_DPOP_PREFIX_LEN_ + needed + 1;
    line = (char *)malloc(size);
    if (line == NULL) {
        *status = OAUTH2CC_STATUS_OK;
        return NULL;
    }
    memcpy(line, OAUTH2CC_CURL_DPOP_PREFIX_, OAUTH2CC_CURL_DPOP_PREFIX_LEN_);
    *status = oauth2cc_client_dpop_proof(client, method, url, token,
                                         line + OAUTH2CC_CURL_DPOP_PREFIX_LEN_, needed + 1,
                                         &needed);
    if (*status != OAUTH2CC_STATUS_OK) {
        free(line);
        return NULL;
    }
    return line;
}

/* Internal: one attempt. Returns the token status; when it is OK, *result is curl's code
 * (CURLE_OUT_OF_MEMORY when building the header list failed: curl did not run then). */
static inline oauth2cc_status oauth2cc_curl_attempt_(oauth2cc_client *client, CURL *easy,
                                                     const char *method,
                                                     const struct curl_slist *headers,
                                                     CURLcode *result) {
    oauth2cc_authorization *auth = NULL;
    oauth2cc_status status;
    size_t needed = 0, size, copied = 0;
    char *line, *dpop = NULL;
    struct curl_slist *list = NULL, *grown;
    const struct curl_slist *h;
    int out_of_memory = 0;

    status = oauth2cc_client_token(client, &auth);
    if (status != OAUTH2CC_STATUS_OK)
        return status;
    status = oauth2cc_authorization_header(auth, NULL, 0, &needed);
    if (status != OAUTH2CC_STATUS_BUFFER_TOO_SMALL && status != OAUTH2CC_STATUS_OK) {
        oauth2cc_authorization_free(auth);
        return status;
    }
    size = OAUTH2CC_CURL_AUTH_PREFIX_LEN_ + needed + 1;
    line = (char *)malloc(size);
    if (line == NULL) {
        oauth2cc_authorization_free(auth);
        *result = CURLE_OUT_OF_MEMORY;
        return OAUTH2CC_STATUS_OK;
    }
    memcpy(line, OAUTH2CC_CURL_AUTH_PREFIX_, OAUTH2CC_CURL_AUTH_PREFIX_LEN_);
    status = oauth2cc_authorization_header(auth, line + OAUTH2CC_CURL_AUTH_PREFIX_LEN_,
                                           needed + 1, &needed);
    oauth2cc_authorization_free(auth);
    if (status != OAUTH2CC_STATUS_OK) {
        oauth2cc_curl_wipe_(line, size);
        free(line);
        return status;
    }
    /* A DPoP-bound token goes with a proof for this request: ath over the token. */
    if (strncmp(line + OAUTH2CC_CURL_AUTH_PREFIX_LEN_, "DPoP ", 5) == 0) {
        dpop = oauth2cc_curl_dpop_line_(client, easy, method != NULL ? method : "GET",
                                        line + OAUTH2CC_CURL_AUTH_PREFIX_LEN_ + 5, &status);
        if (dpop == NULL) {
            oauth2cc_curl_wipe_(line, size);
            free(line);
            if (status == OAUTH2CC_STATUS_OK)
                *result = CURLE_OUT_OF_MEMORY;
            return status;
        }
    }

    /* A fresh list: copies of the caller's entries (but an Authorization or DPoP header:
     * those are ours), then ours. curl_slist_append copies each string. */
    for (h = headers; h != NULL && !out_of_memory; h = h->next) {
        if (h->data == NULL || oauth2cc_curl_is_authorization_(h->data) ||
            oauth2cc_curl_is_dpop_(h->data))
            continue;
        grown = curl_slist_append(list, h->data);
        if (grown == NULL)
            out_of_memory = 1;
        else
            list = grown, copied++;
    }
    if (!out_of_memory) {
        grown = curl_slist_append(list, line);
        if (grown == NULL)
            out_of_memory = 1;
        else
            list = grown;
    }
    if (!out_of_memory && dpop != NULL) {
        grown = curl_slist_append(list, dpop);
        if (grown == NULL)
            out_of_memory = 1;
        else
            list = grown;
    }
    oauth2cc_curl_wipe_(line, size);
    free(line);
    if (dpop != NULL) {
        oauth2cc_curl_wipe_(dpop, strlen(dpop));
        free(dpop);
    }
    if (out_of_memory) {
        oauth2cc_curl_free_list_(list, copied);
        *result = CURLE_OUT_OF_MEMORY;
        return OAUTH2CC_STATUS_OK;
    }

    *result = curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
    if (*result == CURLE_OK)
        *result = curl_easy_perform(easy);
    /* Leave the handle pointing at the caller's list, never at ours. */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, (struct curl_slist *)(uintptr_t)headers);
    oauth2cc_curl_free_list_(list, copied);
    return OAUTH2CC_STATUS_OK;
}

/* Internal: oauth2cc_curl_perform with the request's method for a DPoP proof. */
static inline oauth2cc_status oauth2cc_curl_perform_(oauth2cc_client *client, CURL *easy,
                                                     const char *method,
                                                     const struct curl_slist *headers,
                                                     CURLcode *result) {
    oauth2cc_status status;
    long http_status = 0;
    int attempt;
    oauth2cc_authorization *unused = NULL;

    if (client == NULL) /* the library names the parameter in the last error */
        return oauth2cc_client_token(NULL, &unused);
    if (easy == NULL || result == NULL)
        return OAUTH2CC_STATUS_INVALID_ARGUMENT;
    for (attempt = 0; attempt < 2; attempt++) {
        status = oauth2cc_curl_attempt_(client, easy, method, headers, result);
        if (status != OAUTH2CC_STATUS_OK || *result != CURLE_OK)
            return status;
        if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status) != CURLE_OK ||
            http_status != 401)
            return status;
        if (attempt == 0)
            oauth2cc_client_invalidate(client);
    }
    return status;
}

/*
 * Performs the transfer set up on `easy` with the client's token: sets CURLOPT_HTTPHEADER to
 * `headers` (NULL for none) plus `Authorization: <token_type> <access_token>` from
 * oauth2cc_client_token() (cached, or refreshed when about to expire), runs
 * curl_easy_perform(), and when the server answers HTTP 401, invalidates the token
 * (oauth2cc_client_invalidate), gets a new one and performs once more.
 *
 * Returns the token's status: OK when curl ran, whatever the HTTP status (read it with
 * curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, ...)), with curl's code in `*result`
 * (CURLE_OUT_OF_MEMORY when the header list could not be built; curl did not run then).
 * Any other status comes from oauth2cc_client_token (the last-error functions say more) and
 * curl did not run, or not the second time; `*result` is then left as it was, or holds the
 * first run's code. INVALID_ARGUMENT for a NULL `client`, `easy` or `result` (the
 * last-error message names a NULL `client`; for the others it is not set).
 *
 * Ownership: `headers` stays the caller's and is neither changed nor freed; the list this
 * function makes (copies of the caller's entries, then its own) is freed before it returns,
 * its token wiped. On return the handle's CURLOPT_HTTPHEADER is `headers` again, so the
 * caller may free `headers` after the call as usual. An `Authorization` entry in `headers`
 * is left out: the library's header replaces it.
 *
 * On a retry curl sends the request again as it is set up (a body from CURLOPT_READFUNCTION
 * needs CURLOPT_SEEKFUNCTION to be rewound), and the write and header callbacks see the 401
 * answer before the retried one: a callback that keeps the body can skip data while
 * curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, ...) says 401 (tests/c/curl_glue.c does).
 * Every call that meets a 401 refreshes the token once; unlike oauth2cc_client_get, no
 * interval limits that across calls.
 *
 * DPoP (oauth2cc_config_set_dpop): with a DPoP-bound token the header is `Authorization:
 * DPoP <token>` and a `DPoP` header carries a fresh proof for each attempt, made with
 * oauth2cc_client_dpop_proof for the URL set on `easy` (CURLINFO_EFFECTIVE_URL) and the
 * method GET; for another method use oauth2cc_curl_perform_method. A `DPoP` entry in
 * `headers` is left out too. libcurl's answers are not seen by the library: the nonce of a
 * resource server that demands one (401 `use_dpop_nonce`) is not learnt here; use
 * oauth2cc_client_get / oauth2cc_client_request with such a server.
 *
 * Thread-safety: as libcurl's: one easy handle on one thread at a time. The client is
 * shared by any number of threads.
 */
static inline oauth2cc_status oauth2cc_curl_perform(oauth2cc_client *client, CURL *easy,
                                                    const struct curl_slist *headers,
                                                    CURLcode *result) {
    return oauth2cc_curl_perform_(client, easy, NULL, headers, result);
}

/*
 * oauth2cc_curl_perform for a request whose method is `method` (what CURLOPT_CUSTOMREQUEST,
 * CURLOPT_POST or CURLOPT_UPLOAD make it: "POST", "PUT", "DELETE"...; NULL: GET). The
 * method matters only with a DPoP-bound token: it is the proof's `htm`, which the server
 * compares with the request's. libcurl cannot say before the transfer which method it will
 * use, hence the argument.
 */
static inline oauth2cc_status oauth2cc_curl_perform_method(oauth2cc_client *client, CURL *easy,
                                                           const char *method,
                                                           const struct curl_slist *headers,
                                                           CURLcode *result) {
    return oauth2cc_curl_perform_(client, easy, method, headers, result);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* OAUTH2CC_CURL_H */
