#include "asr/net/stream.h"

#include <string>
#include <thread>

#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr::net {
namespace {

using ::asr::testing::StatusIs;

TEST(PlainStream, PairCarriesBytesBothWaysAndReportsEnd) {
  auto pair = MakeStreamPair();
  ASSERT_OK(pair);
  auto& [a, b] = *pair;
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  std::thread writer([&] { ASSERT_OK(a->WriteAll(big.data(), big.size())); });
  std::string got(big.size(), '\0');
  ASSERT_OK(b->ReadExactly(got.data(), got.size()));
  writer.join();
  EXPECT_EQ(got, big);
  ASSERT_OK(b->WriteAll("ok", 2));
  char reply[2];
  ASSERT_OK(a->ReadExactly(reply, 2));
  EXPECT_EQ(std::string(reply, 2), "ok");
  ASSERT_OK(a->Close());
  char one;
  EXPECT_THAT(b->ReadExactly(&one, 1), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(PlainStream, TruncatedMessageIsUnavailable) {
  auto pair = MakeStreamPair();
  ASSERT_OK(pair);
  auto& [a, b] = *pair;
  ASSERT_OK(a->WriteAll("abc", 3));
  ASSERT_OK(a->Close());
  char buf[8];
  absl::Status s = b->ReadExactly(buf, 8);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable)) << s;
  EXPECT_NE(s.message().find("middle of a message"), absl::string_view::npos);
}

}  // namespace
}  // namespace asr::net
