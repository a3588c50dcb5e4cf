#include "asr/common/crc32c.h"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace asr {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};

const Tables& GetTables() {
  static const Tables* tables = new Tables();
  return *tables;
}

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t n) {
  const Tables& tb = GetTables();
  crc = ~crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    v ^= crc;
    crc = tb.t[7][v & 0xFF] ^ tb.t[6][(v >> 8) & 0xFF] ^ tb.t[5][(v >> 16) & 0xFF] ^
          tb.t[4][(v >> 24) & 0xFF] ^ tb.t[3][(v >> 32) & 0xFF] ^ tb.t[2][(v >> 40) & 0xFF] ^
          tb.t[1][(v >> 48) & 0xFF] ^ tb.t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ tb.t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

#if defined(__x86_64__)

// Three interleaved streams.
//
// Let R(c, D) be the raw CRC register after feeding bytes D to a register
// holding c (no pre- or post-inversion; this is what _mm_crc32_* compute).
// R is linear over GF(2) in c and D together, so for any A and B
//
//   R(c, A B) = R(R(c, A), B) = R(0, B) ^ Z_|B|(R(c, A)),
//
// where Z_n(x) = R(x, n zero bytes) is a linear map on 32-bit values (a
// 32x32 bit matrix). For three blocks A, B, C of L bytes each:
//
//   R(c, A B C) = Z_L(Z_L(R(c, A)) ^ R(0, B)) ^ R(0, C).
//
// R(c, A), R(0, B) and R(0, C) are three independent instruction chains, so
// the CPU runs them in parallel (the instruction's latency is about three
// times its issue rate), and two applications of Z_L join them. Z_L is
// applied with four 256-entry tables, one per byte of x:
// Z_L(x) = T0[x & 0xFF] ^ T1[(x >> 8) & 0xFF] ^ T2[(x >> 16) & 0xFF] ^ T3[x >> 24].
//
// The join sits on the chain (the next block's first stream starts from its
// result) and costs about as much as five instructions of one stream, so
// blocks stay long: 3 x 8 KiB while they fit, then 3 x 1 KiB and 3 x 128
// bytes for the rest. What is left (under 384 bytes), and buffers shorter
// than that, take the one-chain loop. The tables are built on first use of
// a long buffer, from the slicing tables (about 0.1 ms).
constexpr size_t kStrideLong = 8192;
constexpr size_t kStrideMedium = 1024;
constexpr size_t kStrideShort = 128;
constexpr size_t kMinInterleaved = 3 * kStrideShort;

struct ShiftTable {
  uint32_t t[4][256];

  // Z_len for a multiple of 8 bytes.
  explicit ShiftTable(size_t len) {
    const Tables& tb = GetTables();
    // Images of the 32 unit vectors. Eight zero bytes at once with the
    // slicing tables: the data word is zero, so only the register's four
    // bytes index tables 7..4 (see ExtendPortable).
    uint32_t basis[32];
    for (int bit = 0; bit < 32; ++bit) {
      uint32_t x = uint32_t{1} << bit;
      for (size_t i = 0; i < len; i += 8) {
        x = tb.t[7][x & 0xFF] ^ tb.t[6][(x >> 8) & 0xFF] ^ tb.t[5][(x >> 16) & 0xFF] ^
            tb.t[4][x >> 24];
      }
      basis[bit] = x;
    }
    // By linearity, each entry is the XOR of the images of its set bits.
    for (int k = 0; k < 4; ++k) {
      t[k][0] = 0;
      for (uint32_t b = 1; b < 256; ++b) {
        t[k][b] = t[k][b & (b - 1)] ^ basis[8 * k + __builtin_ctz(b)];
      }
    }
  }

  uint64_t Apply(uint64_t x) const {
    return t[0][x & 0xFF] ^ t[1][(x >> 8) & 0xFF] ^ t[2][(x >> 16) & 0xFF] ^ t[3][(x >> 24) & 0xFF];
  }
};

struct ShiftTables {
  ShiftTable long_stride{kStrideLong};
  ShiftTable medium_stride{kStrideMedium};
  ShiftTable short_stride{kStrideShort};
};

const ShiftTables& GetShiftTables() {
  static const ShiftTables* tables = new ShiftTables();
  return *tables;
}

__attribute__((target("sse4.2"))) inline uint64_t Crc64(uint64_t c, const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return _mm_crc32_u64(c, v);
}

// Consumes as many 3 x kStride blocks as fit in [*p, *p + *n) and returns
// the register after them.
template <size_t kStride>
__attribute__((target("sse4.2"))) inline uint64_t Extend3Way(uint64_t c, const uint8_t** p,
                                                             size_t* n, const ShiftTable& z) {
  static_assert(kStride % 32 == 0, "the loop below takes four words per stream");
  const uint8_t* q = *p;
  size_t blocks = *n / (3 * kStride);
  *n -= blocks * 3 * kStride;
  while (blocks--) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    const uint8_t* const end = q + kStride;
    do {
      c = Crc64(c, q);
      c1 = Crc64(c1, q + kStride);
      c2 = Crc64(c2, q + 2 * kStride);
      c = Crc64(c, q + 8);
      c1 = Crc64(c1, q + kStride + 8);
      c2 = Crc64(c2, q + 2 * kStride + 8);
      c = Crc64(c, q + 16);
      c1 = Crc64(c1, q + kStride + 16);
      c2 = Crc64(c2, q + 2 * kStride + 16);
      c = Crc64(c, q + 24);
      c1 = Crc64(c1, q + kStride + 24);
      c2 = Crc64(c2, q + 2 * kStride + 24);
      q += 32;
    } while (q != end);
    c = z.Apply(z.Apply(c) ^ c1) ^ c2;
    q += 2 * kStride;
  }
  *p = q;
  return c;
}

// The one-chain loop; `c` is the register, returned without the final
// inversion.
__attribute__((target("sse4.2"))) inline uint32_t ExtendSerial(uint64_t c, const uint8_t* p,
                                                               size_t n) {
  while (n >= 8) {
    c = Crc64(c, p);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// Buffers of kMinInterleaved bytes or more. Out of line so that short
// buffers do not pay for its stack frame.
__attribute__((target("sse4.2"), noinline)) uint32_t ExtendInterleaved(uint32_t c32,
                                                                       const uint8_t* p, size_t n) {
  // Word loads that straddle cache lines cost a few percent: start on an
  // 8-byte boundary.
  for (; (reinterpret_cast<uintptr_t>(p) & 7) != 0; --n) c32 = _mm_crc32_u8(c32, *p++);
  const ShiftTables& z = GetShiftTables();
  uint64_t c = c32;
  c = Extend3Way<kStrideLong>(c, &p, &n, z.long_stride);
  c = Extend3Way<kStrideMedium>(c, &p, &n, z.medium_stride);
  c = Extend3Way<kStrideShort>(c, &p, &n, z.short_stride);
  return ExtendSerial(c, p, n);
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  if (n >= kMinInterleaved) return ~ExtendInterleaved(~crc, p, n);
  return ~ExtendSerial(~crc, p, n);
}

bool HasSse42() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & bit_SSE4_2) != 0;
}

bool UseHardware() {
  static const bool hw = HasSse42();
  return hw;
}
#endif

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
#if defined(__x86_64__)
  if (UseHardware()) return ExtendHardware(crc, p, size);
#endif
  return ExtendPortable(crc, p, size);
}

namespace internal {

uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size) {
  return ExtendPortable(crc, static_cast<const uint8_t*>(data), size);
}

bool Crc32cUsesHardware() {
#if defined(__x86_64__)
  return UseHardware();
#else
  return false;
#endif
}

}  // namespace internal
}  // namespace asr
