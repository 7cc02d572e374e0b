/* token_bench: oauth2cc against libcurl, in one process, against the same token endpoint.
 *
 *   token_bench keepalive URL CAFILE ITERS   token fetch over a kept-alive connection:
 *                                            oauth2cc client (invalidate + token) vs one
 *                                            reused libcurl easy handle
 *   token_bench fresh URL CAFILE ITERS       one-shot fetch on a fresh connection:
 *                                            oauth2cc_request_token vs a fresh libcurl handle
 *   token_bench cachehit URL CAFILE THREADS BATCHES BATCH
 *                                            oauth2cc_client_token + oauth2cc_authorization_free
 *                                            on a warm client, ns per call
 *   token_bench loop oauth2cc|libcurl URL CAFILE ITERS
 *                                            ITERS kept-alive fetches by one contender alone,
 *                                            untimed, printing nothing: for strace -c and
 *                                            callgrind, which count what it does
 *
 * CAFILE is "-" for an http:// URL. The two contenders of a mode run interleaved (one
 * iteration of each in turn, who goes first alternating), so that load from elsewhere on the
 * machine hits both alike.
 * Each result is printed as one JSON line:
 *   {"name":..., "unit":"us"|"ns", "median":..., "p10":..., "p90":..., "n":...}
 *
 * What each side does per iteration:
 *   oauth2cc: the whole library call: builds the request (Basic auth), sends it, reads the
 *             response, parses the JSON fully and validates it, returns a token handle; the
 *             handle is freed inside the timed region.
 *   libcurl:  POST grant_type=client_credentials with Basic auth; the body is collected in a
 *             buffer and only checked with strstr for "access_token" -- no JSON parsing, no
 *             copy of the token. This favours libcurl slightly.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oauth2cc.h"

#define CLIENT_ID "oauth2cc-bench"
#define CLIENT_SECRET "bench-secret"
#define WARMUP 20

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
static void oauth2cc_refresh(oauth2cc_client *client) {
  oauth2cc_authorization *auth = NULL;
  oauth2cc_client_invalidate(client);
  oauth2cc_status st = oauth2cc_client_token(client, &auth);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("client_token", st);
  check_token(auth);
  oauth2cc_authorization_free(auth);
}

/* One fetch on a fresh connection. */
static void oauth2cc_fresh(const oauth2cc_config *config) {
  oauth2cc_authorization *auth = NULL;
  oauth2cc_status st = oauth2cc_request_token(config, &auth);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("request_token", st);
  check_token(auth);
  oauth2cc_authorization_free(auth);
}

/* ---- libcurl ----------------------------------------------------------------------------- */

struct buffer {
  char data[65536];
  size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  struct buffer *b = userdata;
  size_t n = size * nmemb;
  if (n >= sizeof b->data - b->len) return 0; /* over the cap: fail the transfer */
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

static void curl_setup(CURL *h, const char *url, const char *cafile, const char *agent,
                       struct buffer *body) {
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
  curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
  curl_easy_setopt(h, CURLOPT_USERNAME, CLIENT_ID);
  curl_easy_setopt(h, CURLOPT_PASSWORD, CLIENT_SECRET);
  curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (strcmp(cafile, "-") != 0) curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
}

static void curl_fetch(CURL *h, struct buffer *body) {
  body->len = 0;
  body->data[0] = '\0';
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) die("libcurl", curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200 || strstr(body->data, "\"access_token\"") == NULL)
    die("libcurl", "no access_token in the response");
}

/* ---- modes ------------------------------------------------------------------------------- */

static double elapsed_us(uint64_t t0) { return (double)(now_ns() - t0) / 1000.0; }

static double timed_oauth2cc_refresh(oauth2cc_client *client) {
  uint64_t t0 = now_ns();
  oauth2cc_refresh(client);
  return elapsed_us(t0);
}

static double timed_curl_fetch(CURL *h, struct buffer *body) {
  uint64_t t0 = now_ns();
  curl_fetch(h, body);
  return elapsed_us(t0);
}

static double timed_oauth2cc_fresh(const oauth2cc_config *config) {
  uint64_t t0 = now_ns();
  oauth2cc_fresh(config);
  return elapsed_us(t0);
}

/* A fresh easy handle per fetch: set up, perform, clean up, all timed. */
static double timed_curl_fresh(const char *url, const char *cafile, struct buffer *body) {
  uint64_t t0 = now_ns();
  CURL *h = curl_easy_init();
  if (h == NULL) die("curl_easy_init", NULL);
  curl_setup(h, url, cafile, "libcurl-bench-fresh", body);
  curl_fetch(h, body);
  curl_easy_cleanup(h);
  return elapsed_us(t0);
}

static void mode_keepalive(const char *url, const char *cafile, size_t iters, const char *tag) {
  oauth2cc_config *config = make_config(url, cafile, "oauth2cc-bench-keepalive");
  oauth2cc_client *client = NULL;
  oauth2cc_status st = oauth2cc_client_new(config, &client);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("client_new", st);
  static struct buffer body;
  CURL *h = curl_easy_init();
  if (h == NULL) die("curl_easy_init", NULL);
  curl_setup(h, url, cafile, "libcurl-bench-keepalive", &body);

  struct contest c = contest_new(iters);
  for (size_t i = 0; i < WARMUP + iters; i++) {
    /* Alternate who goes first, so neither always runs right after the other. */
    double ours = 0, theirs = 0;
    if (i % 2) theirs = timed_curl_fetch(h, &body);
    ours = timed_oauth2cc_refresh(client);
    if (i % 2 == 0) theirs = timed_curl_fetch(h, &body);
    contest_record(&c, i, ours, theirs);
  }
  contest_report(&c, "keepalive", tag);
  curl_easy_cleanup(h);
  oauth2cc_client_free(client);
  oauth2cc_config_free(config);
}

static void mode_fresh(const char *url, const char *cafile, size_t iters, const char *tag) {
  oauth2cc_config *config = make_config(url, cafile, "oauth2cc-bench-fresh");
  static struct buffer body;
  struct contest c = contest_new(iters);
  for (size_t i = 0; i < WARMUP + iters; i++) {
    double ours = 0, theirs = 0;
    if (i % 2) theirs = timed_curl_fresh(url, cafile, &body);
    ours = timed_oauth2cc_fresh(config);
    if (i % 2 == 0) theirs = timed_curl_fresh(url, cafile, &body);
    contest_record(&c, i, ours, theirs);
  }
  contest_report(&c, "fresh", tag);
  oauth2cc_config_free(config);
}

/* One contender alone, untimed: its kept-alive fetches as `keepalive` does them. */
static void mode_loop(const char *who, const char *url, const char *cafile, size_t iters) {
  if (strcmp(who, "oauth2cc") == 0) {
    oauth2cc_config *config = make_config(url, cafile, "oauth2cc-bench-loop");
    oauth2cc_client *client = NULL;
    oauth2cc_status st = oauth2cc_client_new(config, &client);
    if (st != OAUTH2CC_STATUS_OK) die_oauth("client_new", st);
    for (size_t i = 0; i < iters; i++) oauth2cc_refresh(client);
    oauth2cc_client_free(client);
    oauth2cc_config_free(config);
  } else if (strcmp(who, "libcurl") == 0) {
    static struct buffer body;
    CURL *h = curl_easy_init();
    if (h == NULL) die("curl_easy_init", NULL);
    curl_setup(h, url, cafile, "libcurl-bench-loop", &body);
    for (size_t i = 0; i < iters; i++) curl_fetch(h, &body);
    curl_easy_cleanup(h);
  } else {
    die("loop: not oauth2cc or libcurl", who);
  }
}

struct hit_job {
  oauth2cc_client *client;
  pthread_barrier_t *start;
  size_t batches, batch;
  double *ns_per_call; /* one per batch */
};

static void *cache_hits(void *arg) {
  struct hit_job *job = arg;
  pthread_barrier_wait(job->start);
  for (size_t b = 0; b < job->batches; b++) {
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < job->batch; i++) {
      oauth2cc_authorization *auth = NULL;
      if (oauth2cc_client_token(job->client, &auth) != OAUTH2CC_STATUS_OK)
        die("client_token", oauth2cc_last_error_message());
      oauth2cc_authorization_free(auth);
    }
    job->ns_per_call[b] = (double)(now_ns() - t0) / (double)job->batch;
  }
  return NULL;
}

static void mode_cachehit(const char *url, const char *cafile, size_t threads, size_t batches,
                          size_t batch) {
  oauth2cc_config *config = make_config(url, cafile, "oauth2cc-bench-cachehit");
  oauth2cc_client *client = NULL;
  oauth2cc_status st = oauth2cc_client_new(config, &client);
  if (st != OAUTH2CC_STATUS_OK) die_oauth("client_new", st);
  oauth2cc_authorization *first = NULL;
  st = oauth2cc_client_token(client, &first); /* the one fetch; all calls below are hits */
  if (st != OAUTH2CC_STATUS_OK) die_oauth("client_token", st);
  oauth2cc_authorization_free(first);

  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads);
  pthread_t *tids = calloc(threads, sizeof *tids);
  struct hit_job *jobs = calloc(threads, sizeof *jobs);
  double *all = calloc(threads * batches, sizeof *all);
  if (tids == NULL || jobs == NULL || all == NULL) die("calloc", NULL);
  for (size_t t = 0; t < threads; t++) {
    jobs[t] = (struct hit_job){client, &start, batches, batch, all + t * batches};
    if (pthread_create(&tids[t], NULL, cache_hits, &jobs[t]) != 0) die("pthread_create", NULL);
  }
  for (size_t t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  char name[64];
  snprintf(name, sizeof name, "cachehit_%zut", threads);
  report(name, "ns", all, threads * batches);
  pthread_barrier_destroy(&start);
  oauth2cc_client_free(client);
  oauth2cc_config_free(config);
  free(tids);
  free(jobs);
  free(all);
}

static size_t count_arg(const char *s) {
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0' || v == 0) die("not a positive count", s);
  return (size_t)v;
}

int main(int argc, char **argv) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init", NULL);
  const char *usage =
      "usage: token_bench keepalive|fresh URL CAFILE ITERS\n"
      "       token_bench cachehit URL CAFILE THREADS BATCHES BATCH\n"
      "       token_bench loop oauth2cc|libcurl URL CAFILE ITERS\n";
  if (argc < 5) {
    fputs(usage, stderr);
    return 2;
  }
  const char *mode = argv[1], *url = argv[2], *cafile = argv[3];
  const char *tag = strncmp(url, "https:", 6) == 0 ? "https" : "http";
  if (strcmp(mode, "keepalive") == 0 && argc == 5) {
    mode_keepalive(url, cafile, count_arg(argv[4]), tag);
  } else if (strcmp(mode, "fresh") == 0 && argc == 5) {
    mode_fresh(url, cafile, count_arg(argv[4]), tag);
  } else if (strcmp(mode, "loop") == 0 && argc == 6) {
    mode_loop(argv[2], argv[3], argv[4], count_arg(argv[5]));
  } else if (strcmp(mode, "cachehit") == 0 && argc == 7) {
    mode_cachehit(url, cafile, count_arg(argv[4]), count_arg(argv[5]), count_arg(argv[6]));
  } else {
    fputs(usage, stderr);
    return 2;
  }
  curl_global_cleanup();
  return 0;
}
