#include "asr/platform/socket.h"

#include <string>

#include "absl/time/clock.h"
#include "asr/common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::platform {
namespace {

using ::asr::testing::StatusIs;

TEST(SocketTest, PairCarriesBytesAndPeeks) {
  ASSERT_OK_AND_ASSIGN(auto pair, MakeSocketPair());
  ASSERT_OK_AND_ASSIGN(size_t sent, SocketSend(pair.first, "ping", 4));
  EXPECT_EQ(sent, 4u);
  char buf[8] = {};
  ASSERT_OK(WaitSocket(pair.second, false, absl::Now() + absl::Seconds(5), "no data"));
  ASSERT_OK_AND_ASSIGN(size_t peeked, SocketReceive(pair.second, buf, 1, /*peek=*/true));
  EXPECT_EQ(peeked, 1u);
  ASSERT_OK_AND_ASSIGN(size_t got, SocketReceive(pair.second, buf, sizeof(buf)));
  EXPECT_EQ(std::string(buf, got), "ping");
  EXPECT_THAT(WaitSocket(pair.second, false, absl::Now() + absl::Milliseconds(20), "quiet"),
              StatusIs(absl::StatusCode::kDeadlineExceeded, "quiet"));
  ShutdownSocket(pair.first, /*both=*/false);
  ASSERT_OK_AND_ASSIGN(size_t eof, SocketReceive(pair.second, buf, sizeof(buf)));
  EXPECT_EQ(eof, 0u);
  CloseSocket(pair.first);
  CloseSocket(pair.second);
}

TEST(SocketTest, ListenAcceptConnect) {
  ASSERT_OK_AND_ASSIGN(ListeningSocket l, ListenTcp("127.0.0.1", 0));
  EXPECT_GT(l.port, 0);
  EXPECT_EQ(l.address, "127.0.0.1:" + std::to_string(l.port));
  ASSERT_OK_AND_ASSIGN(ConnectedSocket c,
                       ConnectTcp("127.0.0.1", l.port, absl::Now() + absl::Seconds(5), "slow"));
  ASSERT_OK_AND_ASSIGN(AcceptedSocket a, AcceptSocket(l.handle));
  EXPECT_EQ(c.peer, l.address);
  ConfigureStreamSocket(a.handle);
  ASSERT_OK(SetSocketBlocking(c.handle, true));
  ASSERT_OK_AND_ASSIGN(size_t sent, SocketSend(c.handle, "x", 1));
  EXPECT_EQ(sent, 1u);
  ASSERT_OK(WaitSocket(a.handle, false, absl::Now() + absl::Seconds(5), "no data"));
  char b = 0;
  ASSERT_OK_AND_ASSIGN(size_t got, SocketReceive(a.handle, &b, 1));
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(b, 'x');
  CloseSocket(a.handle);
  CloseSocket(c.handle);
  CloseSocket(l.handle);
}

TEST(SocketTest, AddressLiterals) {
  EXPECT_TRUE(IsIpAddressLiteral("10.1.2.3"));
  EXPECT_TRUE(IsIpAddressLiteral("::1"));
  EXPECT_FALSE(IsIpAddressLiteral("vmm.example"));
  const unsigned char v4[4] = {192, 168, 0, 1};
  EXPECT_EQ(IpAddressToString(v4, 4), "192.168.0.1");
  EXPECT_EQ(IpAddressToString(v4, 3), "");
}

}  // namespace
}  // namespace asr::platform
