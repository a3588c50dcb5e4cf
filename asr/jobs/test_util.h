// asr/jobs/test_util.h: test helpers for rule errors.
//
//   EXPECT_STATUS(fabric.PairClouds("gold1", "gold1"), kInvalidArgument,
//                 "cannot pair with itself");
//
// Works on absl::Status and absl::StatusOr<T>. Thread safety: test-only.
#ifndef ASR_JOBS_TEST_UTIL_H_
#define ASR_JOBS_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::testing {

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace asr::testing

// Expects `expr` to fail with absl::StatusCode::`want` and a message
// containing `text`.
#define EXPECT_STATUS(expr, want, text)                                               \
  do {                                                                                \
    absl::Status asr_s_ = ::asr::testing::StatusOf(expr);                             \
    EXPECT_EQ(asr_s_.code(), absl::StatusCode::want) << asr_s_;                       \
    EXPECT_THAT(std::string(asr_s_.message()), ::testing::HasSubstr(text)) << asr_s_; \
  } while (false)

#endif  // ASR_JOBS_TEST_UTIL_H_
