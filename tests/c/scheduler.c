/*
 * scheduler.c: the background refresher through the C API.
 *
 *   1. 1,000 clients with background refresh: the process has one thread more than before
 *      (counted in /proc/self/task), every client gets its token from that thread, and
 *      after the clients are freed the process is back to its threads before.
 *   2. oauth2cc_client_free while the client's background refresh is in flight against a
 *      slow endpoint: the free waits for it, and after it returns the log callback is never
 *      called again and the cache file is not written again.
 *   3. fork() while the refresher runs: the child has no refresher thread until a client it
 *      makes asks for one (then it has its own, which refreshes that client), and freeing
 *      the parent's client there neither waits nor touches the parent's refresher.
 *
 * Environment (set by tests/background.rs):
 *   OAUTH2CC_TEST_BASE   http://127.0.0.1:PORT of a server with
 *     POST /token        tokens tok-N (an hour), Connection: close
 *     POST /slow/token   a token slow-N (an hour) after 1.5 s
 *   OAUTH2CC_TEST_DIR    a folder for the cache file
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "oauth2cc.h"

#define CLIENTS 1000

static const char *base;

static int thread_count(void) {
  DIR *dir = opendir("/proc/self/task");
  struct dirent *entry;
  int n = 0;
  CHECK(dir != NULL);
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] != '.') n++;
  }
  closedir(dir);
  return n;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static uint64_t tokens_issued(oauth2cc_client *client) {
  oauth2cc_client_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_STATUS(oauth2cc_client_get_stats(client, &stats), OAUTH2CC_STATUS_OK);
  return stats.tokens_issued;
}

static void one_thread_for_a_thousand_clients(void) {
  static oauth2cc_client *clients[CLIENTS];
  int before = thread_count();
  for (int i = 0; i < CLIENTS; i++) {
    oauth2cc_config *config = test_config("sched-client", "sched-secret", base, "/token", 5000);
    CHECK_STATUS(oauth2cc_config_set_background_refresh(config, true), OAUTH2CC_STATUS_OK);
    clients[i] = client_from(config);
  }
  int during = thread_count();
  printf("threads: %d before, %d with %d background clients\n", before, during, CLIENTS);
  CHECK_INT(during, before + 1);
  /* The one thread fetches every client's first token, without any caller asking. */
  double deadline = now_s() + 60;
  int done = 0;
  while (done < CLIENTS && now_s() < deadline) {
    done = 0;
    for (int i = 0; i < CLIENTS; i++) done += tokens_issued(clients[i]) == 1;
    if (done < CLIENTS) sleep_ms(50);
  }
  CHECK_INT(done, CLIENTS);
  CHECK_INT(thread_count(), before + 1);
  for (int i = 0; i < CLIENTS; i++) oauth2cc_client_free(clients[i]);
  CHECK_INT(thread_count(), before); /* the last free joined the thread */
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int freed = 0;
static int lines_before_free = 0;
static int lines_after_free = 0;

static void count_line(void *userdata, int level, const char *message) {
  (void)userdata;
  (void)level;
  (void)message;
  pthread_mutex_lock(&log_lock);
  if (freed)
    lines_after_free++;
  else
    lines_before_free++;
  pthread_mutex_unlock(&log_lock);
}

static int file_state(const char *path, struct stat *st) {
  memset(st, 0, sizeof *st);
  return stat(path, st) == 0;
}

static void free_waits_for_the_refresh_in_flight(void) {
  char cache[1024];
  const char *dir = required_env("OAUTH2CC_TEST_DIR");
  join_path(cache, sizeof cache, dir, "sched-cache.json");
  oauth2cc_config *config =
      test_config("sched-client", "sched-secret", base, "/slow/token", 5000);
  CHECK_STATUS(oauth2cc_config_set_background_refresh(config, true), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_log(config, count_line, NULL, OAUTH2CC_LOG_DEBUG),
               OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_cache_file(config, cache), OAUTH2CC_STATUS_OK);
  oauth2cc_client *client = client_from(config);
  sleep_ms(300); /* the refresher's request is now waiting for the slow endpoint */
  CHECK_INT(tokens_issued(client), 0);
  double start = now_s();
  oauth2cc_client_free(client);
  double took = now_s() - start;
  pthread_mutex_lock(&log_lock);
  freed = 1;
  pthread_mutex_unlock(&log_lock);
  struct stat at_free, later;
  int existed = file_state(cache, &at_free);
  printf("client_free took %.3f s with a refresh in flight\n", took);
  CHECK(took > 0.8); /* it waited for the refresh (1.5 s from its start) */
  CHECK(took < 5.0); /* within the request timeout */
  sleep_ms(2500);
  int exists = file_state(cache, &later);
  CHECK_INT(exists, existed);
  CHECK(at_free.st_mtime == later.st_mtime && at_free.st_ino == later.st_ino);
  pthread_mutex_lock(&log_lock);
  CHECK(lines_before_free > 0);
  CHECK_INT(lines_after_free, 0);
  pthread_mutex_unlock(&log_lock);
}

static void wait_for_token(oauth2cc_client *client) {
  double deadline = now_s() + 20;
  while (tokens_issued(client) == 0 && now_s() < deadline) sleep_ms(20);
  CHECK_INT(tokens_issued(client), 1);
}

static void fork_child_has_its_own_refresher(void) {
  int before = thread_count();
  oauth2cc_config *config = test_config("sched-client", "sched-secret", base, "/token", 5000);
  CHECK_STATUS(oauth2cc_config_set_background_refresh(config, true), OAUTH2CC_STATUS_OK);
  oauth2cc_client *parents = client_from(config);
  wait_for_token(parents);
  CHECK_INT(thread_count(), before + 1);
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(30); /* a hang becomes a failure */
    CHECK_INT(thread_count(), 1);
    check_client_token(parents, NULL); /* the parent's token, no refresher needed */
    CHECK_INT(thread_count(), 1);
    config = test_config("sched-child", "sched-secret", base, "/token", 5000);
    CHECK_STATUS(oauth2cc_config_set_background_refresh(config, true), OAUTH2CC_STATUS_OK);
    oauth2cc_client *own = client_from(config);
    CHECK_INT(thread_count(), 2); /* the child's own refresher */
    wait_for_token(own);          /* ...which fetched the child client's token */
    oauth2cc_client_free(own);
    CHECK_INT(thread_count(), 1);
    double start = now_s();
    oauth2cc_client_free(parents); /* registered with the parent's refresher: not waited */
    CHECK(now_s() - start < 1.0);
    printf("fork child: %lu checks passed\n", checks_run);
    fflush(stdout);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_INT(thread_count(), before + 1);
  oauth2cc_client_free(parents);
  CHECK_INT(thread_count(), before);
}

int main(void) {
  base = required_env("OAUTH2CC_TEST_BASE");
  one_thread_for_a_thousand_clients();
  free_waits_for_the_refresh_in_flight();
  fork_child_has_its_own_refresher();
  return checks_passed("scheduler");
}
