/* c_check.h: the small check harness shared by the plain-C99 API tests.
 *
 *   CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
 *   ...
 *   return check_summary();   // prints "N passed, N failed"
 *
 * A failed CHECK prints the file, line, condition and the library's last
 * error message, and the test goes on, so one run shows every failure. */
#ifndef ASR_CAPI_TESTS_C_CHECK_H_
#define ASR_CAPI_TESTS_C_CHECK_H_

#include <stdio.h>

#include "asr.h"

static int g_passed = 0;
static int g_failed = 0;

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (cond) {                                                                                \
      ++g_passed;                                                                              \
    } else {                                                                                   \
      ++g_failed;                                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              asr_last_error_message());                                                       \
    }                                                                                          \
  } while (0)

/* Writes a key file (64 hex digits and a newline, mode 0600) at `path`, as
 * `asrctl key-provider init` does; 1 on success. Needs _POSIX_C_SOURCE. */
#ifdef _POSIX_C_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
static inline int write_key_file(const char* path, const char* hex) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  int ok;
  if (fd < 0) return 0;
  ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && write(fd, "\n", 1) == 1;
  return close(fd) == 0 && ok;
}
#endif

/* Prints the closing "N passed, N failed" line; returns the exit code. */
static inline int check_summary(void) {
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

#endif /* ASR_CAPI_TESTS_C_CHECK_H_ */
