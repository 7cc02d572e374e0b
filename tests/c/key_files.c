/*
 * key_files.c: a key, certificate, CA or config file path that names something other than a
 * file is a CONFIG error at once, naming the path and what it is (issue 21).
 *
 * Opening a FIFO for reading waits for a writer, forever; /dev/zero never ends. Each setter
 * that reads a file must refuse them without waiting: here within 100 ms, measured around
 * the call. A watchdog (alarm, 10 s) turns a blocked call into a failure.
 *
 * Environment (set by tests/c_api.rs):
 *   OAUTH2CC_TEST_KEYS  the folder of test keys (p256.cert.pem, p256.pk8.pem)
 *   OAUTH2CC_TEST_DIR   an empty folder for the FIFO
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "oauth2cc.h"

#define AT_ONCE_MS 100.0

static void on_alarm(int sig) {
  static const char message[] = "key_files: a call blocked for 10 s (watchdog)\n";
  ssize_t written = write(2, message, sizeof message - 1);
  (void)sig;
  (void)written;
  _exit(3);
}

static double now_ms(void) {
  struct timespec ts;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* What the setters are handed. */
enum setter { PRIVATE_KEY, CERT_CHAIN, CERT_KEY, CA_FILE, CONFIG_FILE };

static const char *setter_name(enum setter s) {
  switch (s) {
    case PRIVATE_KEY: return "oauth2cc_config_set_private_key_file";
    case CERT_CHAIN: return "oauth2cc_config_set_client_certificate_file (chain)";
    case CERT_KEY: return "oauth2cc_config_set_client_certificate_file (key)";
    case CA_FILE: return "oauth2cc_config_set_ca_file";
    case CONFIG_FILE: return "oauth2cc_config_from_file";
  }
  return "?";
}

static char cert_path[4096];
static char key_path[4096];

/* Hands `path` to setter `s` on a fresh config: CONFIG within AT_ONCE_MS, and the message
 * names the path and says `why`. */
static void check_refused(enum setter s, const char *path, const char *why) {
  oauth2cc_config *config = NULL;
  oauth2cc_config *loaded = NULL;
  enum oauth2cc_status status = OAUTH2CC_STATUS_OK;
  double start, took;
  const char *message;
  CHECK_STATUS(oauth2cc_config_new("files-client", "files-secret", &config), OAUTH2CC_STATUS_OK);
  start = now_ms();
  switch (s) {
    case PRIVATE_KEY: status = oauth2cc_config_set_private_key_file(config, path, NULL); break;
    case CERT_CHAIN:
      status = oauth2cc_config_set_client_certificate_file(config, path, key_path);
      break;
    case CERT_KEY:
      status = oauth2cc_config_set_client_certificate_file(config, cert_path, path);
      break;
    case CA_FILE: status = oauth2cc_config_set_ca_file(config, path); break;
    case CONFIG_FILE: status = oauth2cc_config_from_file(path, &loaded); break;
  }
  took = now_ms() - start;
  message = oauth2cc_last_error_message();
  printf("  %s(%s): %.3f ms: %s\n", setter_name(s), path, took, message ? message : "(none)");
  CHECK_STATUS(status, OAUTH2CC_STATUS_CONFIG);
  CHECK(loaded == NULL);
  CHECK(took < AT_ONCE_MS);
  CHECK_CONTAINS(message, path);
  CHECK_CONTAINS(message, why);
  oauth2cc_config_free(config);
}

int main(void) {
  const char *keys = required_env("OAUTH2CC_TEST_KEYS");
  const char *dir = required_env("OAUTH2CC_TEST_DIR");
  char fifo[4096];
  enum setter s;

  signal(SIGALRM, on_alarm);
  alarm(10);
  join_path(cert_path, sizeof cert_path, keys, "p256.cert.pem");
  join_path(key_path, sizeof key_path, keys, "p256.pk8.pem");
  join_path(fifo, sizeof fifo, dir, "key.pem");
  CHECK(mkfifo(fifo, 0600) == 0);

  /* The files themselves are good: the same calls with them succeed. */
  {
    oauth2cc_config *config = NULL;
    CHECK_STATUS(oauth2cc_config_new("files-client", "files-secret", &config),
                 OAUTH2CC_STATUS_OK);
    CHECK_STATUS(oauth2cc_config_set_private_key_file(config, key_path, NULL),
                 OAUTH2CC_STATUS_OK);
    CHECK_STATUS(oauth2cc_config_set_client_certificate_file(config, cert_path, key_path),
                 OAUTH2CC_STATUS_OK);
    oauth2cc_config_free(config);
  }

  for (s = PRIVATE_KEY; s <= CONFIG_FILE; s++) {
    check_refused(s, fifo, "is a FIFO, not a regular file");
    check_refused(s, dir, "is a directory, not a regular file");
    check_refused(s, "/dev/null", "is a character device, not a regular file");
    check_refused(s, "/dev/zero", "is a character device, not a regular file");
  }
  CHECK(unlink(fifo) == 0);
  return checks_passed("key_files");
}
