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

#define CHECK(cond)                                                 \
  do {                                                              \
    if (cond) {                                                     \
      ++g_passed;                                                   \
    } else {                                                        \
      ++g_failed;                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", \
              __FILE__, __LINE__, #cond, asr_last_error_message()); \
    }                                                               \
  } while (0)

/* Prints the closing "N passed, N failed" line; returns the exit code. */
static inline int check_summary(void) {
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

#endif /* ASR_CAPI_TESTS_C_CHECK_H_ */
