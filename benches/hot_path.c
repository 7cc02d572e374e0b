/* hot_path: the cost of a cache hit, in ns per call, at 1 and 2 threads.
 *
 *   hot_path URL THREADS BATCHES BATCH
 *   hot_path URL count token|header N   N hits of one kind on one thread, printing nothing:
 *                                       for valgrind, which counts the allocations (a run of
 *                                       BASE + N hits less a run of BASE, over N)
 *
 * Three contenders on one warm client, interleaved batch by batch (who goes first
 * alternating) so that load from elsewhere on the machine hits all alike:
 *   token   oauth2cc_client_token + oauth2cc_authorization_free
 *   header  oauth2cc_client_authorization_header into a stack buffer
 *   clock   clock_gettime(CLOCK_MONOTONIC) alone: the floor a hit that read the precise
 *           clock could not go under, measured in the same run as a baseline
 * Each is printed as one JSON line: {"name":..., "unit":"ns", "median":..., "p10":...,
 * "p90":..., "n":...} where each sample is one batch's mean (medians over batches, threads
 * pooled).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oauth2cc.h"

enum { TOKEN, HEADER, CLOCK, KINDS };
static const char *names[KINDS] = {"hit_token_free", "hit_header", "clock_gettime_monotonic"};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct job {
  oauth2cc_client *client;
  pthread_barrier_t *start;
  size_t batches, batch;
  double *samples[KINDS]; /* batches each */
};

static double run_batch(int kind, oauth2cc_client *client, size_t batch) {
  char buf[256];
  struct timespec ts;
  double t0 = now_ns();
  for (size_t i = 0; i < batch; i++) {
    if (kind == TOKEN) {
      oauth2cc_authorization *auth = NULL;
      if (oauth2cc_client_token(client, &auth) != OAUTH2CC_STATUS_OK) abort();
      oauth2cc_authorization_free(auth);
    } else if (kind == HEADER) {
      if (oauth2cc_client_authorization_header(client, buf, sizeof buf, NULL) != OAUTH2CC_STATUS_OK)
        abort();
    } else {
      clock_gettime(CLOCK_MONOTONIC, &ts);
      __asm__ volatile("" : : "r"(&ts) : "memory");
    }
  }
  return (now_ns() - t0) / (double)batch;
}

static void *worker(void *arg) {
  struct job *job = arg;
  pthread_barrier_wait(job->start);
  for (size_t b = 0; b < job->batches; b++) {
    for (int k = 0; k < KINDS; k++) {
      int kind = (int)((k + b) % KINDS); /* rotate who goes first */
      job->samples[kind][b] = run_batch(kind, job->client, job->batch);
    }
  }
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int count = argc == 5 && strcmp(argv[2], "count") == 0;
  int count_kind = count && strcmp(argv[3], "token") == 0    ? TOKEN
                   : count && strcmp(argv[3], "header") == 0 ? HEADER
                                                             : -1;
  if (argc != 5 || (count && count_kind < 0)) {
    fprintf(stderr, "usage: hot_path URL THREADS BATCHES BATCH\n"
                    "       hot_path URL count token|header N\n");
    return 2;
  }
  const char *url = argv[1];
  size_t threads = strtoul(argv[2], NULL, 10), batches = strtoul(argv[3], NULL, 10),
         batch = strtoul(argv[4], NULL, 10);
  oauth2cc_config *config = NULL;
  oauth2cc_client *client = NULL;
  oauth2cc_authorization *first = NULL;
  /* The User-Agent tells its one token request apart in the endpoint's log. */
  if (oauth2cc_config_new("oauth2cc-bench", "bench-secret", &config) != OAUTH2CC_STATUS_OK ||
      oauth2cc_config_set_user_agent(config, "oauth2cc-bench-hot-path") != OAUTH2CC_STATUS_OK ||
      oauth2cc_config_set_token_url(config, url) != OAUTH2CC_STATUS_OK ||
      oauth2cc_client_new(config, &client) != OAUTH2CC_STATUS_OK ||
      oauth2cc_client_token(client, &first) != OAUTH2CC_STATUS_OK) {
    fprintf(stderr, "hot_path: %s\n", oauth2cc_last_error_message());
    return 1;
  }
  oauth2cc_authorization_free(first);
  oauth2cc_config_free(config);
  if (count) { /* one batch of N, its time unused */
    run_batch(count_kind, client, batch);
    oauth2cc_client_free(client);
    return 0;
  }

  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads);
  struct job *jobs = calloc(threads, sizeof *jobs);
  pthread_t *ids = calloc(threads, sizeof *ids);
  for (size_t t = 0; t < threads; t++) {
    jobs[t] = (struct job){client, &start, batches, batch, {0}};
    for (int k = 0; k < KINDS; k++) jobs[t].samples[k] = calloc(batches, sizeof(double));
    pthread_create(&ids[t], NULL, worker, &jobs[t]);
  }
  for (size_t t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  for (int k = 0; k < KINDS; k++) {
    size_t n = threads * batches;
    double *all = calloc(n, sizeof *all);
    for (size_t t = 0; t < threads; t++) memcpy(all + t * batches, jobs[t].samples[k], batches * sizeof *all);
    qsort(all, n, sizeof *all, cmp);
    printf("{\"name\":\"%s_%zut\",\"unit\":\"ns\",\"median\":%.2f,\"p10\":%.2f,\"p90\":%.2f,\"n\":%zu}\n",
           names[k], threads, all[n / 2], all[n / 10], all[n * 9 / 10], n);
    free(all);
  }
  oauth2cc_client_stats stats = {0};
  stats.struct_size = sizeof stats;
  oauth2cc_client_get_stats(client, &stats);
  fprintf(stderr, "hot_path: %llu token requests, %llu hits\n",
          (unsigned long long)stats.token_requests, (unsigned long long)stats.cache_hits);
  oauth2cc_client_free(client);
  return 0;
}
