// KeptBytes: reserved room never moves while the buffer grows, and its
// chunks go back to a bounded pool for the next cycle.
#include "asr/replication/kept_bytes.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace asr::replication {
namespace {

TEST(KeptBytesTest, RoomStaysWhereItWasAndChunksAreReusedWithinTheBudget) {
  SetKeptPoolBudget(0);  // an empty pool to start with
  SetKeptPoolBudget(kDefaultKeptPoolBytes);
  std::vector<uint8_t*> at;
  {
    KeptBytes kept;
    // 9 MiB in 64 KiB pieces, then a piece larger than a chunk.
    for (int i = 0; i < 144; ++i) {
      at.push_back(kept.Reserve(64 << 10));
      std::memset(at.back(), i, 64 << 10);
    }
    uint8_t* big = kept.Reserve(kKeptChunkBytes + 1);
    std::memset(big, 0xee, kKeptChunkBytes + 1);
    for (int i = 0; i < 144; ++i) {
      ASSERT_EQ(at[i][0], static_cast<uint8_t>(i)) << "piece " << i << " moved or was overwritten";
      ASSERT_EQ(at[i][(64 << 10) - 1], static_cast<uint8_t>(i));
    }
    EXPECT_EQ(kept.size(), 144u * (64 << 10) + kKeptChunkBytes + 1);
    EXPECT_EQ(kept.capacity(), 3 * kKeptChunkBytes + kKeptChunkBytes + 1);
  }
  // The three full-size chunks are idle now; the large one was freed.
  EXPECT_EQ(KeptPoolBytes(), 3 * kKeptChunkBytes);
  {
    KeptBytes next;
    uint8_t* p = next.Reserve(100);
    EXPECT_TRUE(p == at[128] || p == at[64] || p == at[0])
        << "a fresh chunk instead of an idle one";
    EXPECT_EQ(KeptPoolBytes(), 2 * kKeptChunkBytes);
  }
  SetKeptPoolBudget(kKeptChunkBytes);
  EXPECT_EQ(KeptPoolBytes(), kKeptChunkBytes);
  SetKeptPoolBudget(0);
  EXPECT_EQ(KeptPoolBytes(), 0u);
  {
    KeptBytes none;
    none.Reserve(10);
  }
  EXPECT_EQ(KeptPoolBytes(), 0u);
  SetKeptPoolBudget(kDefaultKeptPoolBytes);
}

}  // namespace
}  // namespace asr::replication
