// asr/common/testing/status_matchers.h: GoogleTest helpers for absl::Status
// and absl::StatusOr (Abseil 20220623 ships none), shared by every test.
//
//   ASSERT_OK(store->Commit(batch));
//   EXPECT_OK(file->Sync());
//   ASSERT_OK_AND_ASSIGN(std::unique_ptr<VirtualDisk> disk, OpenDisk(path, mode, {}));
//   EXPECT_THAT(OpenDisk("/missing", mode, {}), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(lock.TryLock(path), StatusIs(absl::StatusCode::kFailedPrecondition,
//                                            HasSubstr("is locked")));
//   EXPECT_THAT(status_or, IsOk());
//
// The matchers accept an absl::Status or any absl::StatusOr<T>; a failure
// prints the whole status.
// Thread safety: as GoogleTest's own assertions.
#ifndef ASR_COMMON_TESTING_STATUS_MATCHERS_H_
#define ASR_COMMON_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::testing {
namespace internal_status {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// The IsOk() matcher, for both Status and StatusOr<T>.
class IsOkMatcher {
 public:
  template <typename T>
  bool MatchAndExplain(const T& actual, ::testing::MatchResultListener* listener) const {
    const absl::Status& s = GetStatus(actual);
    if (!s.ok()) *listener << "which is " << s.ToString();
    return s.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

// The StatusIs(code, message_matcher) matcher.
class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code, ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}
  template <typename T>
  bool MatchAndExplain(const T& actual, ::testing::MatchResultListener* listener) const {
    const absl::Status& s = GetStatus(actual);
    if (s.code() != code_) {
      *listener << "which is " << s.ToString();
      return false;
    }
    ::testing::StringMatchResultListener inner;
    const std::string message(s.message());
    if (!message_.MatchAndExplain(message, &inner)) {
      *listener << "whose message \"" << message << "\" does not match";
      if (!inner.str().empty()) *listener << ", " << inner.str();
      return false;
    }
    return true;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << absl::StatusCodeToString(code_) << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status code " << absl::StatusCodeToString(code_)
        << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

}  // namespace internal_status

// Matches an OK Status or a StatusOr holding a value.
inline ::testing::PolymorphicMatcher<internal_status::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(internal_status::IsOkMatcher());
}

// Matches a status (or StatusOr) with `code`, and a message matching
// `message` (anything when left out).
inline ::testing::PolymorphicMatcher<internal_status::StatusIsMatcher> StatusIs(
    absl::StatusCode code, ::testing::Matcher<const std::string&> message = ::testing::_) {
  return ::testing::MakePolymorphicMatcher(
      internal_status::StatusIsMatcher(code, std::move(message)));
}

}  // namespace asr::testing

#define ASR_STATUS_MATCHERS_CONCAT_INNER_(a, b) a##b
#define ASR_STATUS_MATCHERS_CONCAT_(a, b) ASR_STATUS_MATCHERS_CONCAT_INNER_(a, b)

// Fails the test (fatally, or not) unless `expr`, a Status or StatusOr, is OK.
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::asr::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::asr::testing::IsOk())

// Evaluates `rexpr` (a StatusOr<T>); fails the test fatally unless it holds a
// value, else moves the value into `lhs` (a declaration or an lvalue).
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASR_ASSERT_OK_AND_ASSIGN_IMPL_(ASR_STATUS_MATCHERS_CONCAT_(asr_status_or_, __LINE__), lhs, rexpr)
#define ASR_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  ASSERT_TRUE(statusor.ok()) << statusor.status();           \
  lhs = std::move(statusor).value()

#endif  // ASR_COMMON_TESTING_STATUS_MATCHERS_H_
