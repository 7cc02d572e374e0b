/* free_check: linked into every C test program on Linux (glibc), except under valgrind or a
 * sanitizer, which bring their own allocator. It replaces free(): every block that code in
 * liboauth2cc hands to free() (the library's allocator, WipingAllocator) must be all zeros
 * over its whole usable size, or the program aborts with a message saying how many bytes
 * were not. So each C test also proves that nothing the library freed while it ran (its own
 * buffers, ring's key pairs, rustls's, ureq's and serde_json's) kept any byte, secret or not.
 *
 * One allowance: Rust's std allocates its thread handles (a thread's id, its parker's state
 * and an address) with the system allocator directly, bypassing the library's, and frees them
 * when a thread is joined. So a block of at most 64 bytes may hold, besides zeros, 8-byte
 * words below 2^47 (small numbers, user-space addresses); anything else still aborts (eight
 * aligned bytes of text or of a key have their high bytes set).
 *
 * Not checked: what a thread frees while it exits (its thread-specific data destructors
 * run). Rust's std frees its handle for the thread then, a block it allocates with the system
 * allocator directly, bypassing the library's (the thread's id and parker: no data of
 * ours). glibc runs those destructors in the order the keys were made; this file's key is
 * made first (at start-up) and given a value in every thread (pthread_create is wrapped to
 * do it before the thread's routine runs), so its destructor marks the thread as exiting
 * before std's runs.
 *
 * With OAUTH2CC_FREE_CHECK_REPORT set, the count of blocks checked is printed to stderr at
 * exit (the tests use it to see that the check saw the library's frees at all).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void __libc_free(void *block);

static void *library_base;
static unsigned long checked;
static pthread_key_t exit_key;
static int have_exit_key;
static __thread int exiting, watched;

static void mark_exiting(void *value) {
  (void)value;
  exiting = 1;
}

/* Gives the exit key a value in this thread, so that its destructor runs when it exits. */
static void watch_this_thread(void) {
  if (have_exit_key && !watched) {
    watched = 1;
    pthread_setspecific(exit_key, &watched);
  }
}

__attribute__((constructor)) static void find_library(void) {
  Dl_info info;
  void *symbol;
  have_exit_key = pthread_key_create(&exit_key, mark_exiting) == 0;
  watch_this_thread();
  symbol = dlsym(RTLD_DEFAULT, "oauth2cc_version");
  if (symbol != NULL && dladdr(symbol, &info) != 0) library_base = info.dli_fbase;
}

struct start {
  void *(*routine)(void *);
  void *arg;
};

static void *watched_start(void *p) {
  struct start start;
  memcpy(&start, p, sizeof start);
  __libc_free(p);
  watch_this_thread();
  return start.routine(start.arg);
}

/* Every thread, the program's and the library's, starts watched. */
int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*routine)(void *),
                   void *arg) {
  static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
  struct start *start;
  int status;
  if (real == NULL) {
    void *symbol = dlsym(RTLD_NEXT, "pthread_create");
    if (symbol == NULL) return EAGAIN;
    memcpy(&real, &symbol, sizeof real);
  }
  start = malloc(sizeof *start);
  if (start == NULL) return EAGAIN;
  start->routine = routine;
  start->arg = arg;
  status = real(thread, attr, watched_start, start);
  if (status != 0) __libc_free(start);
  return status;
}

void free(void *block) {
  Dl_info info;
  watch_this_thread();
  if (block != NULL && library_base != NULL && !exiting &&
      dladdr(__builtin_return_address(0), &info) != 0 && info.dli_fbase == library_base) {
    const unsigned char *bytes = block;
    size_t size = malloc_usable_size(block), i, dirty = 0;
    for (i = 0; i < size; i++) dirty += bytes[i] != 0;
    if (dirty != 0 && size <= 64 && size % 8 == 0) {
      size_t w;
      dirty = 0;
      for (w = 0; w < size; w += 8) {
        unsigned long long word;
        memcpy(&word, bytes + w, 8);
        dirty += word >> 47 != 0; /* neither a small number nor an address */
      }
    }
    if (dirty != 0) {
      void *frames[32];
      fprintf(stderr, "free_check: liboauth2cc freed a block of %zu bytes with %zu not zeroed\n",
              size, dirty);
      exiting = 1; /* backtrace() may allocate and free: not checked */
      backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
      abort();
    }
    __atomic_fetch_add(&checked, 1, __ATOMIC_RELAXED);
  }
  __libc_free(block);
}

__attribute__((destructor)) static void report(void) {
  if (getenv("OAUTH2CC_FREE_CHECK_REPORT") != NULL)
    fprintf(stderr, "free_check: %lu blocks freed by liboauth2cc, all zeroed\n", checked);
}
