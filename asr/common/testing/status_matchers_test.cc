#include "asr/common/testing/status_matchers.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace asr::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatusMatchersTest, IsOkMatchesStatusAndStatusOr) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
  EXPECT_THAT(absl::NotFoundError("x"), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(absl::InternalError("y")), Not(IsOk()));
}

TEST(StatusMatchersTest, StatusIsChecksCodeAndMessage) {
  absl::Status s = absl::NotFoundError("cannot open /x: No such file or directory");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, HasSubstr("/x")));
  EXPECT_THAT(s, Not(StatusIs(absl::StatusCode::kInternal)));
  EXPECT_THAT(s, Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("/y"))));
  EXPECT_THAT(absl::StatusOr<std::string>(s), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
}

TEST(StatusMatchersTest, DescriptionsNameTheCode) {
  ::testing::Matcher<absl::Status> m = StatusIs(absl::StatusCode::kNotFound);
  EXPECT_THAT(::testing::DescribeMatcher<absl::Status>(m), HasSubstr("NOT_FOUND"));
  ::testing::StringMatchResultListener listener;
  EXPECT_FALSE(m.MatchAndExplain(absl::InternalError("boom"), &listener));
  EXPECT_THAT(listener.str(), HasSubstr("boom"));
}

TEST(StatusMatchersTest, AssertMacrosPassOnOk) {
  ASSERT_OK(absl::OkStatus());
  EXPECT_OK(absl::StatusOr<int>(1));
  ASSERT_OK_AND_ASSIGN(int v, absl::StatusOr<int>(42));
  EXPECT_EQ(v, 42);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<int> p,
                       absl::StatusOr<std::unique_ptr<int>>(std::make_unique<int>(7)));
  EXPECT_EQ(*p, 7);
  std::string existing;
  ASSERT_OK_AND_ASSIGN(existing, absl::StatusOr<std::string>("value"));
  EXPECT_EQ(existing, "value");
}

void AssignFromError() {
  ASSERT_OK_AND_ASSIGN(int v, absl::StatusOr<int>(absl::UnavailableError("down")));
  (void)v;
}

void ExpectOkOnError() { EXPECT_OK(absl::DataLossError("crc")); }

TEST(StatusMatchersTest, FailuresCarryTheStatus) {
  EXPECT_FATAL_FAILURE(AssignFromError(), "down");
  EXPECT_NONFATAL_FAILURE(ExpectOkOnError(), "crc");
}

}  // namespace
}  // namespace asr::testing
