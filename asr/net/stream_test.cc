#include "asr/net/stream.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace asr::net {
namespace {

TEST(PlainStream, PairCarriesBytesBothWaysAndReportsEnd) {
  auto pair = MakeStreamPair();
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto& [a, b] = *pair;
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  std::thread writer([&] { ASSERT_TRUE(a->WriteAll(big.data(), big.size()).ok()); });
  std::string got(big.size(), '\0');
  ASSERT_TRUE(b->ReadExactly(got.data(), got.size()).ok());
  writer.join();
  EXPECT_EQ(got, big);
  ASSERT_TRUE(b->WriteAll("ok", 2).ok());
  char reply[2];
  ASSERT_TRUE(a->ReadExactly(reply, 2).ok());
  EXPECT_EQ(std::string(reply, 2), "ok");
  ASSERT_TRUE(a->Close().ok());
  char one;
  EXPECT_EQ(b->ReadExactly(&one, 1).code(), absl::StatusCode::kOutOfRange);
}

TEST(PlainStream, TruncatedMessageIsUnavailable) {
  auto pair = MakeStreamPair();
  ASSERT_TRUE(pair.ok());
  auto& [a, b] = *pair;
  ASSERT_TRUE(a->WriteAll("abc", 3).ok());
  ASSERT_TRUE(a->Close().ok());
  char buf[8];
  absl::Status s = b->ReadExactly(buf, 8);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("middle of a message"), absl::string_view::npos);
}

}  // namespace
}  // namespace asr::net
