/*
 * client_credentials.c: get an OAuth 2.0 access token with the client credentials grant and
 * print it the way the Python pytify client's REPL shows its Authorization tuple:
 *
 *   Authorization(access_token='...', token_type='Bearer', expires_in=3600, scope=None, refresh_token=None)
 *
 * Where the credentials come from, first match wins:
 *   client_credentials CONFIG.json     a JSON config file (see oauth2cc_config_from_file)
 *   OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET [, OAUTH2CC_TOKEN_URL, OAUTH2CC_SCOPE]
 *   SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET   Spotify's accounts service, every default
 *
 * On failure it prints the status name and the message to stderr, then the server's
 * error/description and Retry-After when there are any, and exits 1.
 *
 * Build: make -C examples (see examples/Makefile), or
 *   cc -std=c99 -Iinclude examples/client_credentials.c -Ltarget/release -loauth2cc
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth2cc.h"

/* Prints `s` as Python's repr() prints a str: in single quotes (double quotes when it holds
   a single quote and no double quote), with backslashes and control characters escaped. */
static void print_py_str(const char *s) {
  char quote = (strchr(s, '\'') != NULL && strchr(s, '"') == NULL) ? '"' : '\'';
  const unsigned char *p;
  putchar(quote);
  for (p = (const unsigned char *)s; *p != '\0'; p++) {
    if (*p == '\\' || *p == (unsigned char)quote) {
      printf("\\%c", *p);
    } else if (*p == '\n') {
      fputs("\\n", stdout);
    } else if (*p == '\r') {
      fputs("\\r", stdout);
    } else if (*p == '\t') {
      fputs("\\t", stdout);
    } else if (*p < 0x20 || *p == 0x7f) {
      printf("\\x%02x", *p);
    } else {
      putchar(*p);
    }
  }
  putchar(quote);
}

/* A str or None, like the pytify client's tuple fields. */
static void print_py_opt_str(const char *s) {
  if (s == NULL)
    fputs("None", stdout);
  else
    print_py_str(s);
}

static void print_authorization(const oauth2cc_authorization *auth) {
  int64_t expires_in = oauth2cc_authorization_expires_in(auth);
  fputs("Authorization(access_token=", stdout);
  print_py_opt_str(oauth2cc_authorization_access_token(auth));
  fputs(", token_type=", stdout);
  print_py_opt_str(oauth2cc_authorization_token_type(auth));
  fputs(", expires_in=", stdout);
  if (expires_in < 0)
    fputs("None", stdout);
  else
    printf("%lld", (long long)expires_in);
  fputs(", scope=", stdout);
  print_py_opt_str(oauth2cc_authorization_scope(auth));
  fputs(", refresh_token=", stdout);
  print_py_opt_str(oauth2cc_authorization_refresh_token(auth));
  fputs(")\n", stdout);
}

/* The status and every detail the library kept about the failure. */
static void print_failure(oauth2cc_status status) {
  const char *error = oauth2cc_last_error_oauth_error();
  const char *description = oauth2cc_last_error_description();
  const char *uri = oauth2cc_last_error_uri();
  int64_t retry_after = oauth2cc_last_error_retry_after();

  fprintf(stderr, "oauth2cc: %s: %s\n", oauth2cc_status_str((int)status),
          oauth2cc_last_error_message());
  if (error != NULL || description != NULL || uri != NULL) {
    const char *sep = "";
    if (error != NULL) {
      fprintf(stderr, "error=%s", error);
      sep = " ";
    }
    if (description != NULL) {
      fprintf(stderr, "%sdescription=%s", sep, description);
      sep = " ";
    }
    if (uri != NULL) fprintf(stderr, "%suri=%s", sep, uri);
    fputc('\n', stderr);
  }
  if (retry_after >= 0) fprintf(stderr, "Retry-After: %lld\n", (long long)retry_after);
}

static int is_set(const char *name) {
  const char *value = getenv(name);
  return value != NULL && value[0] != '\0';
}

/* The configuration the command line and the environment ask for. */
static oauth2cc_status load_config(int argc, char **argv, oauth2cc_config **config) {
  if (argc == 2) return oauth2cc_config_from_file(argv[1], config);
  if (!is_set("OAUTH2CC_CLIENT_ID") && !is_set("OAUTH2CC_CLIENT_SECRET") &&
      is_set("SPOTIFY_CLIENT_ID") && is_set("SPOTIFY_CLIENT_SECRET")) {
    oauth2cc_status status = oauth2cc_config_new(getenv("SPOTIFY_CLIENT_ID"),
                                                 getenv("SPOTIFY_CLIENT_SECRET"), config);
    if (status != OAUTH2CC_STATUS_OK) return status;
    status = oauth2cc_config_set_token_url(*config, OAUTH2CC_SPOTIFY_TOKEN_URL);
    if (status != OAUTH2CC_STATUS_OK) {
      oauth2cc_config_free(*config);
      *config = NULL;
    }
    return status;
  }
  return oauth2cc_config_from_env(config);
}

int main(int argc, char **argv) {
  oauth2cc_config *config = NULL;
  oauth2cc_authorization *auth = NULL;
  oauth2cc_status status;

  if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
    fprintf(stderr,
            "usage: %s [CONFIG.json]\n"
            "  without a file: OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET [, OAUTH2CC_TOKEN_URL,\n"
            "  OAUTH2CC_SCOPE], or SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET\n",
            argv[0]);
    return 2;
  }

  status = load_config(argc, argv, &config);
  if (status != OAUTH2CC_STATUS_OK) {
    print_failure(status);
    return 1;
  }
  status = oauth2cc_request_token(config, &auth);
  oauth2cc_config_free(config);
  if (status != OAUTH2CC_STATUS_OK) {
    print_failure(status);
    return 1;
  }
  print_authorization(auth);
  oauth2cc_authorization_free(auth);
  return 0;
}
