#include "asr/common/crc32c.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace asr {
namespace {

// Bit at a time, straight from the definition: the reference for the others.
uint32_t BitwiseCrc32c(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
  }
  return ~crc;
}

std::vector<uint8_t> RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> data(size);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  return data;
}

TEST(Crc32c, CheckValue) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(Crc32c, EmptyIsZero) { EXPECT_EQ(Crc32c("", 0), 0u); }

TEST(Crc32c, ExtendEqualsWhole) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  for (size_t cut : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
    uint32_t a = Crc32c(data.data(), cut);
    EXPECT_EQ(Crc32cExtend(a, data.data() + cut, data.size() - cut), Crc32c(data)) << cut;
  }
}

TEST(Crc32c, KnownVector32Zeros) {
  // RFC 3720 B.4: 32 bytes of zeros.
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
}

TEST(Crc32c, MoreKnownVectors) {
  // RFC 3720 B.4: 32 incrementing and 32 decrementing bytes.
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(down), 0x113FDB5Cu);
  // The same check values through the portable path.
  EXPECT_EQ(internal::Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(internal::Crc32cExtendPortable(0, up.data(), up.size()), 0x46DD794Eu);
}

TEST(Crc32c, LongBuffersMatchBitwiseDefinition) {
  // Long enough for every interleaved block size, odd lengths, odd start.
  const std::vector<uint8_t> data = RandomBytes(100003, 1);
  for (size_t len : {size_t{24576}, size_t{27651}, size_t{100000}}) {
    for (size_t off : {size_t{0}, size_t{3}}) {
      EXPECT_EQ(Crc32c(data.data() + off, len), BitwiseCrc32c(0, data.data() + off, len))
          << len << " at +" << off;
    }
  }
  std::vector<uint8_t> zeros(3 * 8192 + 3 * 1024 + 3 * 128 + 8, 0);
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), BitwiseCrc32c(0, zeros.data(), zeros.size()));
  std::vector<uint8_t> ones(zeros.size(), 0xFF);
  EXPECT_EQ(Crc32cExtend(0x12345678u, ones.data(), ones.size()),
            BitwiseCrc32c(0x12345678u, ones.data(), ones.size()));
}

// Lengths 0..200 KiB: every length up to 1100, every length within 9 bytes of
// a multiple of each interleaved block size (3 x 128, 3 x 1 KiB, 3 x 8 KiB)
// and of sums of them, and random lengths.
std::vector<size_t> TestLengths() {
  constexpr size_t kMax = 200 << 10;
  std::set<size_t> lengths;
  for (size_t n = 0; n <= 1100; ++n) lengths.insert(n);
  auto around = [&](size_t center) {
    for (size_t d = 0; d <= 9; ++d) {
      if (center >= d) lengths.insert(center - d);
      if (center + d <= kMax) lengths.insert(center + d);
    }
  };
  const size_t blocks[] = {3 * 128, 3 * 1024, 3 * 8192};
  for (size_t block : blocks) {
    for (size_t m = block; m <= kMax; m += block) around(m);
  }
  for (size_t l = 0; l <= 8; ++l) {
    for (size_t m = 0; m <= 2; ++m) {
      for (size_t s = 0; s <= 2; ++s) around(l * blocks[2] + m * blocks[1] + s * blocks[0]);
    }
  }
  for (size_t a : {size_t{64}, size_t{4096}, size_t{65536}, size_t{131072}, kMax}) around(a);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) lengths.insert(rng() % (kMax + 1));
  return {lengths.begin(), lengths.end()};
}

TEST(Crc32c, MatchesPortablePathForManyLengthsAndAlignments) {
  if (!internal::Crc32cUsesHardware()) {
    GTEST_SKIP() << "no SSE4.2: Crc32cExtend is the portable path";
  }
  constexpr size_t kMax = 200 << 10;
  const std::vector<uint8_t> data = RandomBytes(kMax + 8, 2);
  const std::vector<size_t> lengths = TestLengths();
  std::mt19937 rng(3);
  size_t checked = 0;
  for (size_t len : lengths) {
    const size_t off = checked++ % 8;  // every alignment of the start
    const uint8_t* p = data.data() + off;
    const uint32_t seed = (checked % 3 == 0) ? 0 : static_cast<uint32_t>(rng());
    ASSERT_EQ(Crc32cExtend(seed, p, len), internal::Crc32cExtendPortable(seed, p, len))
        << "length " << len << " at +" << off << " seed " << seed;
  }
  EXPECT_GT(checked, 3000u);
}

TEST(Crc32c, IncrementalExtendEqualsOneShot) {
  constexpr size_t kSize = 150000;
  const std::vector<uint8_t> data = RandomBytes(kSize, 4);
  const uint32_t whole = Crc32c(data.data(), data.size());
  EXPECT_EQ(whole, internal::Crc32cExtendPortable(0, data.data(), data.size()));
  std::mt19937 rng(5);
  for (int round = 0; round < 50; ++round) {
    // Random pieces: tiny ones, ones around the block sizes, large ones.
    uint32_t crc = 0;
    size_t pos = 0;
    while (pos < kSize) {
      size_t piece;
      switch (rng() % 4) {
        case 0:
          piece = rng() % 16;
          break;
        case 1:
          piece = 3 * 128 + rng() % 40 - 20;
          break;
        case 2:
          piece = 3 * 8192 + rng() % 40 - 20;
          break;
        default:
          piece = rng() % 70000;
          break;
      }
      if (piece > kSize - pos) piece = kSize - pos;
      crc = Crc32cExtend(crc, data.data() + pos, piece);
      pos += piece;
    }
    ASSERT_EQ(crc, whole) << "round " << round;
  }
  // Two pieces, split at every position near the block boundaries.
  for (size_t cut = 0; cut <= kSize; cut += (cut % 1024 < 16 || cut % 1024 > 1008) ? 1 : 97) {
    uint32_t a = Crc32c(data.data(), cut);
    ASSERT_EQ(Crc32cExtend(a, data.data() + cut, kSize - cut), whole) << cut;
  }
}

}  // namespace
}  // namespace asr
