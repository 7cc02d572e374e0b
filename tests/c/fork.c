/*
 * fork.c: one oauth2cc_client used on both sides of fork().
 *
 *   1. Pooled connection: the client made a request (so a kept-alive connection sits in its
 *      pool), then the process forks, and parent and child each make 50 GETs to URLs of
 *      their own. Every answer must be the one to the process's own request: the server
 *      echoes the query, and an answer that went to the other process is counted.
 *   2. Refresh in flight: timeout 5 s, a token endpoint that answers after 2 s. A thread
 *      starts the refresh, the process forks while it runs, and the child asks for a token.
 *      The child has no copy of that thread: it must make its own refresh, not wait for
 *      the parent's forever (alarm(12) turns a hang into a failure).
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_BASE  http://127.0.0.1:PORT of a server with
 *     POST /fast/token  a token at once      POST /slow/token  a token after 2 s
 *     GET  /echo?...    200 with the query as the body (/echo?slow-seen: how many
 *                       requests /slow/token has received)
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "oauth2cc.h"

#define GETS 50

static const char *base;

static oauth2cc_client *client_for(const char *token_path) {
  return client_from(test_config("fork-client", "fork-secret", base, token_path, 5000));
}

/* GETs /echo?who=WHO&i=N GETS times; returns how many answers were not this request's. */
static int echo_round(oauth2cc_client *client, const char *who) {
  int wrong = 0;
  for (int i = 0; i < GETS; i++) {
    char url[256], query[64];
    oauth2cc_response *response = NULL;
    snprintf(query, sizeof query, "who=%s&i=%d", who, i);
    snprintf(url, sizeof url, "%s/echo?%s", base, query);
    if (oauth2cc_client_get(client, url, &response) != OAUTH2CC_STATUS_OK) {
      fprintf(stderr, "%s: GET %d failed: %s\n", who, i, oauth2cc_last_error_message());
      wrong++;
      continue;
    }
    size_t len = 0;
    const char *body = (const char *)oauth2cc_response_body(response, &len);
    if (oauth2cc_response_status(response) != 200 || strcmp(body, query) != 0) {
      fprintf(stderr, "%s: asked for %s, got %d %s\n", who, query,
              oauth2cc_response_status(response), body);
      wrong++;
    }
    oauth2cc_response_free(response);
  }
  return wrong;
}

/* Waits for `child`; true when it exited with 0 (not killed by a signal). */
static int child_succeeded(pid_t child, const char *what) {
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "%s: child killed by signal %d\n", what, WTERMSIG(status));
    return 0;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void pooled_connection(void) {
  oauth2cc_client *client = client_for("/fast/token");
  oauth2cc_response *warm = NULL;
  char url[256];
  snprintf(url, sizeof url, "%s/echo?warm", base);
  CHECK_STATUS(oauth2cc_client_get(client, url, &warm), OAUTH2CC_STATUS_OK);
  oauth2cc_response_free(warm);

  /* Both processes start their GETs at the same moment (the child waits on a pipe), so
     their first requests go out before the first answer comes back. */
  int go[2];
  CHECK(pipe(go) == 0);
  fflush(NULL);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    char byte;
    alarm(60);
    close(go[1]);
    CHECK(read(go[0], &byte, 1) == 1);
    int wrong = echo_round(client, "child");
    oauth2cc_client_free(client);
    _exit(wrong == 0 ? 0 : 1);
  }
  close(go[0]);
  CHECK(write(go[1], "g", 1) == 1);
  close(go[1]);
  int wrong = echo_round(client, "parent");
  CHECK_INT(wrong, 0);
  CHECK(child_succeeded(child, "pooled connection"));
  oauth2cc_client_free(client);
}

static void *refresh(void *client) {
  oauth2cc_authorization *auth = NULL;
  CHECK_STATUS(oauth2cc_client_token(client, &auth), OAUTH2CC_STATUS_OK);
  oauth2cc_authorization_free(auth);
  return NULL;
}

/* How many requests the slow token endpoint has received, asked with another client. */
static int slow_requests_seen(oauth2cc_client *observer) {
  char url[256];
  oauth2cc_response *response = NULL;
  snprintf(url, sizeof url, "%s/echo?slow-seen", base);
  CHECK_STATUS(oauth2cc_client_get(observer, url, &response), OAUTH2CC_STATUS_OK);
  int seen = atoi((const char *)oauth2cc_response_body(response, NULL));
  oauth2cc_response_free(response);
  return seen;
}

static void refresh_in_flight(void) {
  oauth2cc_client *client = client_for("/slow/token");
  oauth2cc_client *observer = client_for("/fast/token");
  pthread_t thread;
  struct timespec pause = {0, 10 * 1000 * 1000};
  CHECK(pthread_create(&thread, NULL, refresh, client) == 0);
  /* Fork only once the refresh is waiting for the slow endpoint. */
  while (slow_requests_seen(observer) < 1) {
    nanosleep(&pause, NULL);
  }
  oauth2cc_client_free(observer);

  fflush(NULL);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    oauth2cc_authorization *auth = NULL;
    alarm(12);
    oauth2cc_status status = oauth2cc_client_token(client, &auth);
    if (status != OAUTH2CC_STATUS_OK) {
      fprintf(stderr, "child: %s: %s\n", oauth2cc_status_str(status),
              oauth2cc_last_error_message());
    }
    oauth2cc_authorization_free(auth);
    /* The parent's refreshing thread does not exist here: what it had allocated for its
       request is unreachable in this process. exec, always fine after fork(), replaces the
       process without a leak check seeing that (under valgrind, which checks every exit). */
    execl("/bin/sh", "sh", "-c", status == OAUTH2CC_STATUS_OK ? "exit 0" : "exit 2", (char *)NULL);
    _exit(status == OAUTH2CC_STATUS_OK ? 0 : 2);
  }
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK(child_succeeded(child, "refresh in flight"));
  oauth2cc_client_free(client);
}

int main(void) {
  base = required_env("OAUTH2CC_TEST_BASE");
  pooled_connection();
  refresh_in_flight();
  return checks_passed("fork");
}
