/*
 * cache_file.c: a cache file path where a FIFO shows up never blocks a client (issue 4).
 *
 * Anyone who can write the cache file's folder can put a FIFO there, or a symlink to one.
 * Opening a FIFO for reading waits for a writer, forever. The client must ignore such a
 * file and get its token from the endpoint, in oauth2cc_client_new (which reads the file)
 * and in a refresh (which reads it again in case another process refreshed).
 *
 *   1. A symlink to a FIFO at the path.
 *   2. A FIFO at the path.
 *   3. A thread renames, in turn, a regular file (0600, ours, not a token) and a symlink
 *      to the FIFO over the path while this thread makes clients and refreshes: a check
 *      of the path followed by an open of the path meets the FIFO sooner or later.
 *
 * A watchdog (alarm, 10 s per step) turns a blocked call into a failure.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_TOKEN_URL  a local endpoint that issues "tok-<n>" to fifo-client/fifo-secret
 *   OAUTH2CC_TEST_DIR        an empty folder for the cache file and the FIFO
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "check.h"
#include "oauth2cc.h"

#define CLIENTS 2000 /* oauth2cc_client_new calls while the path changes under them */
#define REFRESHES 100

static char cache_path[4096];
static char fifo_path[4096];
static const char *token_url;

/* The step running, for the watchdog's message. */
static volatile sig_atomic_t step = '0';

static void on_alarm(int sig) {
  static const char before[] = "cache_file: a call in step ";
  static const char after[] = " blocked for 10 s (watchdog)\n";
  char digit = (char)step;
  ssize_t written = write(2, before, sizeof before - 1);
  written = write(2, &digit, 1);
  written = write(2, after, sizeof after - 1);
  (void)sig;
  (void)written;
  _exit(3);
}

static void join(char *out, const char *dir, const char *name) {
  int n = snprintf(out, 4096, "%s/%s", dir, name);
  CHECK(n > 0 && n < 4096);
}

static oauth2cc_config *make_config(void) {
  oauth2cc_config *config = NULL;
  CHECK_STATUS(oauth2cc_config_new("fifo-client", "fifo-secret", &config), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_token_url(config, token_url), OAUTH2CC_STATUS_OK);
  CHECK_STATUS(oauth2cc_config_set_cache_file(config, cache_path), OAUTH2CC_STATUS_OK);
  return config;
}

/* A token from the endpoint (the FIFO, or the swapper's file, never holds one). */
static void check_token(oauth2cc_client *client) {
  oauth2cc_authorization *auth = NULL;
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  CHECK(strncmp(oauth2cc_authorization_access_token(auth), "tok-", 4) == 0);
  oauth2cc_authorization_free(auth);
}

/* Steps 1 and 2: whatever sits at the path is ignored and replaced by the new token. */
static void fetch_past(const oauth2cc_config *config) {
  oauth2cc_client *client = NULL;
  struct stat st;
  alarm(10);
  CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
  check_token(client);
  oauth2cc_client_free(client);
  alarm(0);
  CHECK(lstat(cache_path, &st) == 0 && S_ISREG(st.st_mode));
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int stop = 0;
static unsigned long swaps = 0;

static int stopped(void) {
  int value;
  pthread_mutex_lock(&lock);
  value = stop;
  pthread_mutex_unlock(&lock);
  return value;
}

static void *swapper(void *dir) {
  static const char not_a_token[] = "{\"not\":\"a token\"}";
  char regular[4096];
  char link[4096];
  join(regular, dir, "regular.tmp");
  join(link, dir, "link.tmp");
  while (!stopped()) {
    FILE *f = fopen(regular, "w");
    CHECK(f != NULL);
    CHECK(fwrite(not_a_token, 1, sizeof not_a_token - 1, f) == sizeof not_a_token - 1);
    CHECK(fclose(f) == 0);
    CHECK(chmod(regular, 0600) == 0);
    CHECK(rename(regular, cache_path) == 0);
    unlink(link);
    CHECK(symlink(fifo_path, link) == 0);
    CHECK(rename(link, cache_path) == 0);
    swaps++;
  }
  return NULL;
}

int main(void) {
  const char *dir = required_env("OAUTH2CC_TEST_DIR");
  oauth2cc_config *config;
  pthread_t thread;
  int i;

  token_url = required_env("OAUTH2CC_TEST_TOKEN_URL");
  join(cache_path, dir, "token.json");
  join(fifo_path, dir, "fifo");
  CHECK(signal(SIGALRM, on_alarm) != SIG_ERR);
  CHECK(mkfifo(fifo_path, 0600) == 0);
  config = make_config();

  /* 1. A symlink to the FIFO. */
  step = '1';
  CHECK(symlink(fifo_path, cache_path) == 0);
  fetch_past(config);

  /* 2. The FIFO itself. */
  step = '2';
  CHECK(unlink(cache_path) == 0);
  CHECK(mkfifo(cache_path, 0600) == 0);
  fetch_past(config);

  /* 3. The path changes under the client. */
  step = '3';
  CHECK(pthread_create(&thread, NULL, swapper, (void *)dir) == 0);
  for (i = 0; i < CLIENTS; i++) {
    oauth2cc_client *client = NULL;
    alarm(10);
    CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
    oauth2cc_client_free(client);
  }
  for (i = 0; i < REFRESHES; i++) {
    oauth2cc_client *client = NULL;
    alarm(10);
    CHECK_STATUS(oauth2cc_client_new(config, &client), OAUTH2CC_STATUS_OK);
    check_token(client);
    oauth2cc_client_invalidate(client);
    check_token(client);
    oauth2cc_client_free(client);
  }
  alarm(0);
  pthread_mutex_lock(&lock);
  stop = 1;
  pthread_mutex_unlock(&lock);
  CHECK(pthread_join(thread, NULL) == 0);
  printf("cache_file: %lu swaps while %d clients were made and %d refreshed twice\n", swaps,
         CLIENTS, REFRESHES);

  oauth2cc_config_free(config);
  return checks_passed("cache_file");
}
