/* token_bench: oauth2cc against libcurl, in one process, against the same endpoint.
 *
 *   token_bench keepalive URL CAFILE ITERS   token fetch over a kept-alive connection:
 *                                            oauth2cc client (invalidate + token) vs one
 *                                            reused libcurl easy handle
 *   token_bench get URL CAFILE API_URL ITERS authorized GET of API_URL over a kept-alive
 *                                            connection: oauth2cc_client_get on a warm client
 *                                            (a valid token) vs one reused libcurl easy handle
 *                                            sending the same `Authorization: Bearer ...`
 *   token_bench reconnect URL CAFILE ITERS   as keepalive, against a URL whose server closes the
 *                                            connection after every answer: each fetch is a new
 *                                            connection with a resumed TLS session (the client's
 *                                            shared rustls config; the easy handle's session cache,
 *                                            CURLOPT_SSL_SESSIONID_CACHE, on by default)
 *   token_bench fresh URL CAFILE ITERS       one-shot fetch on a fresh connection:
 *                                            oauth2cc_request_token vs a fresh libcurl handle
 *   token_bench loop MODE oauth2cc|libcurl URL CAFILE [API_URL] ITERS
 *                                            ITERS iterations of MODE by one contender alone,
 *                                            untimed, printing nothing: for strace -c and
 *                                            callgrind, which count what it does
 *
 * URL is the token endpoint; CAFILE is "-" for an http:// URL; ITERS comes last. The cache hit is measured by
 * benches/hot_path.c. The two contenders of a mode run interleaved (one iteration of each in
 * turn, who goes first alternating), so that load from elsewhere on the machine hits both
 * alike. Each result is printed as one JSON line:
 *   {"name":..., "unit":"us"|"x", "median":..., "p10":..., "p90":..., "n":...}
 *
 * What each side does per iteration:
 *   oauth2cc: the whole library call. A token fetch builds the request (Basic auth), sends
 *             it, reads the response, parses the JSON fully and validates it, returns a token
 *             handle; a GET adds the cached token's header, sends, reads the body and returns
 *             a response handle. The handle is freed inside the timed region.
 *   libcurl:  a token fetch is a POST grant_type=client_credentials with Basic auth; a GET
 *             sends the header oauth2cc_client_authorization_header gave for the same token.
 *             The status must be 200 and the body is collected in a buffer and only checked
 *             with strstr (for "access_token", or "id") -- no JSON parsing, no copy of the
 *             token. This favours libcurl slightly. The oauth2cc GET is checked the same way.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oauth2cc.h"

#define CLIENT_ID "oauth2cc-bench"
#define CLIENT_SECRET "bench-secret"
#define WARMUP 20
#define TOKEN_KEY "\"access_token\""
#define API_KEY "\"id\""

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "token_bench: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static void die_oauth(const char *what, oauth2cc_status st) {
  fprintf(stderr, "token_bench: %s: %s: %s\n", what, oauth2cc_status_str(st),
          oauth2cc_last_error_message());
  exit(1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Prints median, p10 and p90 of `v` (sorted in place). */
static void report(const char *name, const char *unit, double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  printf("{\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.3f,\"p10\":%.3f,\"p90\":%.3f,"
         "\"n\":%zu}\n",
         name, unit, median, v[n / 10], v[n * 9 / 10], n);
  fflush(stdout);
}

/* The timings of one contest: oauth2cc against libcurl, iteration by iteration. */
struct contest {
  double *ours, *theirs;
  size_t n;
};

static struct contest contest_new(size_t n) {
  struct contest c = {calloc(n, sizeof(double)), calloc(n, sizeof(double)), n};
  if (c.ours == NULL || c.theirs == NULL) die("calloc", NULL);
  return c;
}

/* Records iteration `i` of WARMUP + n (the warm-up iterations are dropped). */
static void contest_record(struct contest *c, size_t i, double ours, double theirs) {
  if (i < WARMUP) return;
  c->ours[i - WARMUP] = ours;
  c->theirs[i - WARMUP] = theirs;
}

/* Reports MODE_TAG_paired (the median of ours[i] / theirs[i]: each pair ran back to back, so
   load that comes and goes on the machine mostly cancels out), then MODE_TAG_oauth2cc and
   MODE_TAG_libcurl, and frees the contest. */
static void contest_report(struct contest *c, const char *mode, const char *tag) {
  char name[96];
  double *r = calloc(c->n, sizeof *r);
  if (r == NULL) die("calloc", NULL);
  for (size_t i = 0; i < c->n; i++) r[i] = c->ours[i] / c->theirs[i];
  snprintf(name, sizeof name, "%s_%s_paired", mode, tag);
  report(name, "x", r, c->n);
  snprintf(name, sizeof name, "%s_%s_oauth2cc", mode, tag);
  report(name, "us", c->ours, c->n);
  snprintf(name, sizeof name, "%s_%s_libcurl", mode, tag);
  report(name, "us", c->theirs, c->n);
  free(r);
  free(c->ours);
  free(c->theirs);
}

/* ---- what a mode works with ---------------------------------------------------------------- */

struct buffer {
  char data[65536];
  size_t len;
};

/* Everything both sides of a mode use, set up once before the iterations. */
struct bench {
  const char *url, *cafile, *api_url; /* api_url: NULL but for `get` */
  char agent[64];                     /* libcurl's User-Agent (oauth2cc's is in config) */
  oauth2cc_config *config;
  oauth2cc_client *client; /* NULL for `fresh` */
  CURL *h;                 /* the reused handle; NULL for `fresh` */
  struct curl_slist *headers;
  struct buffer body;
};

/* ---- oauth2cc ---------------------------------------------------------------------------- */

static oauth2cc_config *make_config(const char *url, const char *cafile, const char *agent) {
  oauth2cc_config *config = NULL;
  oauth2cc_status st = oauth2cc_config_new(CLIENT_ID, CLIENT_SECRET, &config);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("config_new", st);
  st = oauth2cc_config_set_token_url(config, url);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("set_token_url", st);
  st = oauth2cc_config_set_user_agent(config, agent); /* tells the runs apart in nginx's log */
  if (st != OAUTH2CC_STATUS_OK) die_oauth("set_user_agent", st);
  if (strcmp(cafile, "-") != 0) {
    st = oauth2cc_config_set_ca_file(config, cafile);
    if (st != OAUTH2CC_STATUS_OK) die_oauth("set_ca_file", st);
  }
  return config;
}

static void check_token(const oauth2cc_authorization *auth) {
  const char *token = oauth2cc_authorization_access_token(auth);
  if (token == NULL || token[0] == '\0') die("oauth2cc", "empty access token");
}

/* One kept-alive refresh: invalidate, then token (which fetches), then free. */
static void oauth2cc_refresh(struct bench *b) {
  oauth2cc_authorization *auth = NULL;
  oauth2cc_client_invalidate(b->client);
  oauth2cc_status st = oauth2cc_client_token(b->client, &auth);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("client_token", st);
  check_token(auth);
  oauth2cc_authorization_free(auth);
}

/* One authorized GET with the cached token: get, check, free. */
static void oauth2cc_get(struct bench *b) {
  oauth2cc_response *response = NULL;
  oauth2cc_status st = oauth2cc_client_get(b->client, b->api_url, &response);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("client_get", st);
  const char *body = (const char *)oauth2cc_response_body(response, NULL);
  if (oauth2cc_response_status(response) != 200 || strstr(body, API_KEY) == NULL)
    die("oauth2cc", "the API did not answer 200 with an id");
  oauth2cc_response_free(response);
}

/* One fetch on a fresh connection. */
static void oauth2cc_fresh(struct bench *b) {
  oauth2cc_authorization *auth = NULL;
  oauth2cc_status st = oauth2cc_request_token(b->config, &auth);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("request_token", st);
  check_token(auth);
  oauth2cc_authorization_free(auth);
}

/* ---- libcurl ----------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  struct buffer *b = userdata;
  size_t n = size * nmemb;
  if (n >= sizeof b->data - b->len) return 0; /* over the cap: fail the transfer */
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* A handle for a token POST (headers NULL) or for a GET of api_url sending `headers`. */
static CURL *curl_open(struct bench *b, const struct curl_slist *headers) {
  CURL *h = curl_easy_init();
  if (h == NULL) die("curl_easy_init", NULL);
  if (headers == NULL) {
    curl_easy_setopt(h, CURLOPT_URL, b->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, CLIENT_ID);
    curl_easy_setopt(h, CURLOPT_PASSWORD, CLIENT_SECRET);
  } else {
    curl_easy_setopt(h, CURLOPT_URL, b->api_url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  }
  curl_easy_setopt(h, CURLOPT_USERAGENT, b->agent);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b->body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (strcmp(b->cafile, "-") != 0) curl_easy_setopt(h, CURLOPT_CAINFO, b->cafile);
  return h;
}

/* Performs `h` and checks the answer: 200, with `key` in the body. */
static void curl_perform(CURL *h, struct buffer *body, const char *key) {
  body->len = 0;
  body->data[0] = '\0';
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) die("libcurl", curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200 || strstr(body->data, key) == NULL) die("libcurl", "no 200 with the expected body");
}

/* One request on the reused handle: a token POST, or the GET when the mode has an API URL. */
static void curl_reused(struct bench *b) {
  curl_perform(b->h, &b->body, b->api_url ? API_KEY : TOKEN_KEY);
}

/* A fresh easy handle per fetch: set up, perform, clean up. */
static void curl_fresh(struct bench *b) {
  CURL *h = curl_open(b, NULL);
  curl_perform(h, &b->body, TOKEN_KEY);
  curl_easy_cleanup(h);
}

/* ---- modes ------------------------------------------------------------------------------- */

typedef void (*step_fn)(struct bench *);

static const struct mode {
  const char *name;
  step_fn ours, theirs;
  int kept_alive; /* one client and one reused handle, set up before the iterations */
  int api;        /* needs API_URL and a token before the first iteration */
} MODES[] = {
    {"keepalive", oauth2cc_refresh, curl_reused, 1, 0},
    {"get", oauth2cc_get, curl_reused, 1, 1},
    {"fresh", oauth2cc_fresh, curl_fresh, 0, 0},
    {"reconnect", oauth2cc_refresh, curl_reused, 1, 0},
};

static const struct mode *find_mode(const char *name) {
  for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++)
    if (strcmp(MODES[i].name, name) == 0) return &MODES[i];
  return NULL;
}

/* Sets up both sides of `m`; `role` ("bench" or "loop") goes into the User-Agent. */
static void bench_open(struct bench *b, const struct mode *m, const char *role) {
  snprintf(b->agent, sizeof b->agent, "oauth2cc-%s-%s", role, m->name);
  b->config = make_config(b->url, b->cafile, b->agent);
  snprintf(b->agent, sizeof b->agent, "libcurl-%s-%s", role, m->name);
  if (!m->kept_alive) return;
  oauth2cc_status st = oauth2cc_client_new(b->config, &b->client);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("client_new", st);
  if (m->api) {
    /* The one token fetch: every GET below sends this token, libcurl's included. */
    char header[512] = "Authorization: ";
    size_t used = strlen(header);
    st = oauth2cc_client_authorization_header(b->client, header + used, sizeof header - used, NULL);
    if (st != OAUTH2CC_STATUS_OK) die_oauth("client_authorization_header", st);
    b->headers = curl_slist_append(NULL, header);
    if (b->headers == NULL) die("curl_slist_append", NULL);
  }
  b->h = curl_open(b, b->headers);
}

static void bench_close(struct bench *b) {
  if (b->h) curl_easy_cleanup(b->h);
  curl_slist_free_all(b->headers);
  oauth2cc_client_free(b->client);
  oauth2cc_config_free(b->config);
}

static double timed(step_fn step, struct bench *b) {
  uint64_t t0 = now_ns();
  step(b);
  return (double)(now_ns() - t0) / 1000.0;
}

/* The contest: WARMUP + iters iterations of both sides, interleaved, then the report. */
static void mode_contest(const struct mode *m, struct bench *b, size_t iters, const char *tag) {
  bench_open(b, m, "bench");
  struct contest c = contest_new(iters);
  for (size_t i = 0; i < WARMUP + iters; i++) {
    /* Alternate who goes first, so neither always runs right after the other. */
    double ours = 0, theirs = 0;
    if (i % 2) theirs = timed(m->theirs, b);
    ours = timed(m->ours, b);
    if (i % 2 == 0) theirs = timed(m->theirs, b);
    contest_record(&c, i, ours, theirs);
  }
  contest_report(&c, m->name, tag);
  bench_close(b);
}

/* One contender alone, untimed: its iterations as the contest does them. Both sides are set up
   (the same in every run, so a difference of two runs does not see it). */
static void mode_loop(const struct mode *m, const char *who, struct bench *b, size_t iters) {
  step_fn step = strcmp(who, "oauth2cc") == 0  ? m->ours
                 : strcmp(who, "libcurl") == 0 ? m->theirs
                                               : NULL;
  if (step == NULL) die("loop: not oauth2cc or libcurl", who);
  bench_open(b, m, "loop");
  for (size_t i = 0; i < iters; i++) step(b);
  bench_close(b);
}

static size_t count_arg(const char *s) {
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0' || v == 0 || v > 1000000000) die("not a count in 1..1e9", s);
  return (size_t)v;
}

int main(int argc, char **argv) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init", NULL);
  static struct bench b; /* holds a 64 KiB body buffer */
  const char *usage =
      "usage: token_bench keepalive|fresh|reconnect URL CAFILE ITERS\n"
      "       token_bench get URL CAFILE API_URL ITERS\n"
      "       token_bench loop keepalive|get|fresh|reconnect oauth2cc|libcurl URL CAFILE [API_URL] ITERS\n";
  int loop = argc > 1 && strcmp(argv[1], "loop") == 0;
  char **args = argv + 2 + 2 * loop; /* URL CAFILE [API_URL] ITERS */
  int nargs = argc - 2 - 2 * loop;
  const struct mode *m = argc > 1 + loop ? find_mode(argv[1 + loop]) : NULL;
  if (m == NULL || nargs != 3 + m->api) {
    fputs(usage, stderr);
    return 2;
  }
  b.url = args[0];
  b.cafile = args[1];
  b.api_url = m->api ? args[2] : NULL;
  size_t iters = count_arg(args[2 + m->api]);
  if (loop) {
    mode_loop(m, argv[3], &b, iters);
  } else {
    mode_contest(m, &b, iters, strncmp(b.url, "https:", 6) == 0 ? "https" : "http");
  }
  curl_global_cleanup();
  return 0;
}
