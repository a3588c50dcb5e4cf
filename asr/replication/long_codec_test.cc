// Tests of the long codec (long_range_codec.h, protocol 6): the stream's
// pieces on their own, and whole cycles over a socket pair against a real
// replica directory of VHDX files, including a receiver killed mid-apply
// whose journal of long-coded groups is rolled forward after the restart.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/model/json.h"
#include "asr/net/stream.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/long_range_codec.h"
#include "asr/replication/protocol.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using disk::testing::TempPath;
using testing::CreateSourceDisk;
using testing::ReadDisk;
using testing::RunCycle;
using testing::WritePattern;

constexpr uint32_t kBlock = 64 << 10;

std::string TempDir(const std::string& name) {
  std::string d = TempPath(name);
  EXPECT_OK(MakeDirectories(d));
  return d;
}

std::vector<uint8_t> Bytes(size_t n, uint32_t seed) { return disk::testing::Pattern(n, seed); }

TEST(LongRangeCodecTest, PiecesDecodeInOrderAndReachBackAcrossPieces) {
  // Four 1 MiB pieces: the third repeats the first (shifted by 4 KiB), as a
  // file copied inside a guest would. A per-piece zstd frame cannot see the
  // repeat; the stream sends the third piece as little more than a reference.
  std::vector<std::vector<uint8_t>> pieces;
  for (uint32_t i = 0; i < 4; ++i) pieces.push_back(Bytes(1 << 20, 100 + i));
  std::memcpy(pieces[2].data() + 4096, pieces[0].data(), (1 << 20) - 4096);
  LongRangeCompressor c;
  ASSERT_OK(c.Start(1, 4 << 20));
  EXPECT_EQ(c.window_bytes(), 4u << 20);
  std::vector<std::string> wire;
  for (const auto& p : pieces) {
    auto piece = c.Next(p.data(), p.size());
    ASSERT_OK(piece);
    wire.emplace_back(*piece);
  }
  EXPECT_GT(wire[0].size(), 1000000u);  // the pattern does not compress
  EXPECT_LT(wire[2].size(), 20000u) << "the repeat was not found";

  BlockDecompressor d;
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::vector<uint8_t> out(pieces[i].size());
    ASSERT_OK(
        d.Decode(static_cast<uint8_t>(BlockCodec::kZstdLong), wire[i], out.data(), out.size()));
    EXPECT_EQ(out, pieces[i]) << "piece " << i;
  }
  // Without the pieces before it, a piece does not decode: a fresh stream
  // expects a frame header.
  BlockDecompressor fresh;
  std::vector<uint8_t> out(1 << 20);
  EXPECT_TRUE(absl::IsDataLoss(
      fresh.Decode(static_cast<uint8_t>(BlockCodec::kZstdLong), wire[2], out.data(), out.size())));
  // A piece announced with the wrong size is refused.
  BlockDecompressor wrong;
  std::vector<uint8_t> big(2 << 20);
  EXPECT_TRUE(absl::IsDataLoss(
      wrong.Decode(static_cast<uint8_t>(BlockCodec::kZstdLong), wire[0], big.data(), big.size())));
  // The one-shot decoder refuses codec 2 rather than guessing.
  std::string s;
  EXPECT_TRUE(absl::IsInvalidArgument(
      DecodeBlock(static_cast<uint8_t>(BlockCodec::kZstdLong), wire[0], 1 << 20, &s)));
}

// The pieces of one stream of `n` 1 MiB pieces (seeded), and their bytes.
std::vector<std::string> EncodeStream(int n, uint32_t seed,
                                      std::vector<std::vector<uint8_t>>* raw) {
  raw->clear();
  LongRangeCompressor c;
  EXPECT_OK(c.Start(1, uint64_t(n) << 20));
  std::vector<std::string> wire;
  for (int i = 0; i < n; ++i) {
    raw->push_back(Bytes(1 << 20, seed + i));
    // Half of each piece repeats the one before: the stream refers back.
    if (i > 0) std::memcpy(raw->back().data(), (*raw)[i - 1].data() + 512, 1 << 19);
    auto piece = c.Next(raw->back().data(), raw->back().size());
    EXPECT_OK(piece);
    wire.emplace_back(piece.ok() ? std::string(*piece) : std::string());
  }
  return wire;
}

TEST(LongRangeCodecTest, FinishedCyclesContextsServeTheNextCyclesWithinTheBudget) {
  SetLongCodecIdleBudget(kDefaultLongCodecIdleBudget);
  std::vector<std::vector<uint8_t>> raw1, raw2;
  const std::vector<std::string> first = EncodeStream(3, 10, &raw1);
  // The compressor's context went idle; the next stream takes it and cuts
  // exactly the pieces a fresh context cuts.
  EXPECT_GE(IdleLongCompressors().contexts, 1u);
  EXPECT_GT(IdleLongCompressors().bytes, 3u << 20);
  EXPECT_EQ(EncodeStream(3, 10, &raw2), first);
  const std::vector<std::string> second = EncodeStream(3, 50, &raw2);

  const auto kLong = static_cast<uint8_t>(BlockCodec::kZstdLong);
  std::vector<uint8_t> out(1 << 20);
  {
    // A cycle that ends in the middle of its stream, on a cut piece.
    BlockDecompressor d;
    ASSERT_OK(d.Decode(kLong, first[0], out.data(), out.size()));
    EXPECT_TRUE(absl::IsDataLoss(
        d.Decode(kLong, first[1].substr(0, first[1].size() / 2), out.data(), out.size())));
  }
  const LongCodecIdleStats idle = IdleLongDecoders();
  EXPECT_GE(idle.contexts, 1u);
  {
    // The next cycle's decoder is that one, reset: the new stream decodes
    // from its first piece, and only in order.
    BlockDecompressor d;
    EXPECT_TRUE(absl::IsDataLoss(d.Decode(kLong, second[1], out.data(), out.size())));
  }
  {
    BlockDecompressor d;
    for (size_t i = 0; i < second.size(); ++i) {
      ASSERT_OK(d.Decode(kLong, second[i], out.data(), out.size()));
      EXPECT_EQ(out, raw2[i]) << "piece " << i;
    }
    EXPECT_EQ(IdleLongDecoders().contexts, idle.contexts - 1) << "a fresh decoder was made";
  }
  // A budget of 0 frees every idle context and keeps none after.
  SetLongCodecIdleBudget(0);
  EXPECT_EQ(IdleLongDecoders().contexts, 0u);
  EXPECT_EQ(IdleLongCompressors().bytes, 0u);
  EncodeStream(2, 70, &raw1);
  EXPECT_EQ(IdleLongCompressors().contexts, 0u);
  SetLongCodecIdleBudget(kDefaultLongCodecIdleBudget);
}

TEST(LongRangeCodecTest, InPlaceStreamCompressesFromTheCallersBuffer) {
  // The pieces of EncodeStream, written into the stream's own buffer
  // instead of handed over: the same wire bytes (zstd searches the same
  // window, only where it lies differs), and they decode in order. Two
  // rounds: the second takes the first one's context and buffer.
  std::vector<std::vector<uint8_t>> raw;
  const std::vector<std::string> copied = EncodeStream(4, 30, &raw);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    LongRangeCompressor c;
    ASSERT_OK(c.StartInPlace(1, 4u << 20));
    EXPECT_EQ(c.window_bytes(), 4u << 20);
    ASSERT_NE(c.in_place_buffer(), nullptr);
    std::vector<std::string> wire;
    for (const std::vector<uint8_t>& p : raw) {
      std::memcpy(c.in_place_buffer() + c.bytes_in(), p.data(), p.size());
      auto piece = c.NextInPlace(p.size());
      ASSERT_OK(piece);
      wire.emplace_back(*piece);
    }
    EXPECT_EQ(c.bytes_in(), 4u << 20);
    EXPECT_EQ(wire, copied);
    // Full: one byte more is refused, and the copying call is the wrong one.
    EXPECT_TRUE(absl::IsOutOfRange(c.NextInPlace(1).status()));
    EXPECT_TRUE(absl::IsFailedPrecondition(c.Next(raw[0].data(), 1).status()));
    BlockDecompressor d;
    std::vector<uint8_t> out(1 << 20);
    for (size_t i = 0; i < wire.size(); ++i) {
      ASSERT_OK(
          d.Decode(static_cast<uint8_t>(BlockCodec::kZstdLong), wire[i], out.data(), out.size()));
      EXPECT_EQ(out, raw[i]) << "piece " << i;
    }
  }
  // The idle context kept its buffer: counted in the budget.
  EXPECT_GE(IdleLongCompressors().bytes, 4u << 20);
  // A context that streamed in place copies again when started so.
  EXPECT_EQ(EncodeStream(4, 30, &raw), copied);
  LongRangeCompressor c;
  EXPECT_TRUE(absl::IsFailedPrecondition(c.NextInPlace(1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(c.StartInPlace(1, (uint64_t{1} << kMaxLongWindowLog) + 1)));
  EXPECT_TRUE(absl::IsInvalidArgument(c.StartInPlace(0, 1 << 20)));
  ASSERT_OK(c.StartInPlace(1, 0));  // an empty cycle
  auto none = c.NextInPlace(0);
  ASSERT_OK(none);
}

TEST(LongRangeCodecTest, WindowFollowsTheCycleAndLevelZeroIsRefused) {
  EXPECT_EQ(LongWindowLog(0), kMinLongWindowLog);
  EXPECT_EQ(LongWindowLog(3 << 20), 22);
  EXPECT_EQ(LongWindowLog(uint64_t{1} << 40), kMaxLongWindowLog);
  LongRangeCompressor c;
  EXPECT_TRUE(absl::IsInvalidArgument(c.Start(0, 1 << 20)));
  EXPECT_TRUE(absl::IsFailedPrecondition(c.Next(nullptr, 0).status()));
  EXPECT_TRUE(ParseReplicationCodec("long").ok());
  auto bad = ParseReplicationCodec("dict");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("classic"), std::string::npos);
}

TEST(LongRangeCodecTest, LargeWindowReachesBackAndLargerWindowsAreRefused) {
  // A 40 MiB cycle gets a 64 MiB window (the contexts' buffers on huge
  // pages where the system has them): its last piece repeats its first,
  // 37 MiB back, and is sent as a reference; the same compressor then
  // starts a second stream that decodes on a fresh context.
  std::vector<uint8_t> a = Bytes(1 << 20, 7);
  std::vector<uint8_t> filler(36 << 20, 0);
  filler[12345] = 1;
  LongRangeCompressor c;
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK(c.Start(1, 40 << 20));
    EXPECT_EQ(c.window_bytes(), 64u << 20);
    std::vector<std::string> wire;
    for (const std::vector<uint8_t>* p : {&a, &filler, &a}) {
      auto piece = c.Next(p->data(), p->size());
      ASSERT_OK(piece);
      wire.emplace_back(*piece);
    }
    EXPECT_GT(wire[0].size(), 1000000u);
    EXPECT_LT(wire[2].size(), 1000u) << "the repeat 37 MiB back was not found";
    BlockDecompressor d;
    size_t i = 0;
    for (const std::vector<uint8_t>* p : {&a, &filler, &a}) {
      std::vector<uint8_t> out(p->size());
      ASSERT_OK(
          d.Decode(static_cast<uint8_t>(BlockCodec::kZstdLong), wire[i], out.data(), out.size()));
      EXPECT_TRUE(out == *p) << "round " << round << " piece " << i;
      ++i;
    }
  }
  // A stream asking for a window over 2^kMaxLongWindowLog bytes (a peer
  // cannot make the receiver hold more) is refused, not decoded.
  ZSTD_CCtx* big = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(big, ZSTD_c_windowLog, kMaxLongWindowLog + 1);
  ZSTD_CCtx_setParameter(big, ZSTD_c_contentSizeFlag, 0);
  std::string frame(ZSTD_compressBound(a.size()), '\0');
  ZSTD_inBuffer in{a.data(), a.size(), 0};
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(big, &out, &in, ZSTD_e_flush), 0u);
  ZSTD_freeCCtx(big);
  frame.resize(out.pos);
  BlockDecompressor d;
  std::vector<uint8_t> raw(a.size());
  absl::Status st =
      d.Decode(static_cast<uint8_t>(BlockCodec::kZstdLong), frame, raw.data(), raw.size());
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
}

// A disk whose later cycles rewrite blocks with data that repeats across
// groups: the same 320 KiB at four places more than 1 MiB apart.
void WriteRepeats(const std::string& src, uint32_t seed, ChangeTracker* tracker = nullptr) {
  for (uint64_t at : {1ull << 20, 5ull << 20, 9ull << 20, 13ull << 20}) {
    WritePattern(src, at + (at >> 20) * kBlock, 5 * kBlock, seed, tracker);
  }
}

TEST(LongCodecReplicationTest, RoundTripsAcrossCyclesWithFewerBytesThanClassic) {
  // The same disk history on two disks, one replicated with each codec into
  // its own replica: both replicas equal their source after every cycle,
  // and the long codec sends fewer bytes for the cycles whose changes repeat.
  const std::string srcs[2] = {TempPath("long-src-classic.vhdx"), TempPath("long-src-long.vhdx")};
  std::unique_ptr<ReplicaStore> stores[2];
  SendOptions opts[2];
  opts[0].codec = ReplicationCodec::kClassic;
  opts[1].codec = ReplicationCodec::kLong;
  for (int i = 0; i < 2; ++i) {
    CreateSourceDisk(srcs[i], 16 << 20);
    WritePattern(srcs[i], 0, 4 << 20, 1);
    auto store = ReplicaStore::Open(TempDir(absl::StrCat("long-rt-", i)), testing::WriterOptions());
    ASSERT_OK(store);
    stores[i] = std::move(*store);
    opts[i].use_tracker_file = false;
  }
  auto both = [&](CycleMode mode) -> std::pair<CycleStats, CycleStats> {
    CycleStats st[2];
    for (int i = 0; i < 2; ++i) {
      auto s = RunCycle(srcs[i], mode, *stores[i], opts[i]);
      EXPECT_OK(s);
      if (s.ok()) st[i] = *s;
      EXPECT_EQ(ReadDisk(stores[i]->info().replica_path), ReadDisk(srcs[i])) << i;
    }
    return {st[0], st[1]};
  };
  auto write_both = [&](auto&& fn) {
    for (const std::string& s : srcs) fn(s);
  };
  auto [c1, l1] = both(CycleMode::kInitial);
  EXPECT_EQ(c1.codec_used, ReplicationCodec::kClassic);
  EXPECT_EQ(l1.codec_used, ReplicationCodec::kLong);  // asked for explicitly
  for (uint32_t round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    write_both([&](const std::string& s) {
      WriteRepeats(s, 50 + round);
      WritePattern(s, (2 << 20) + round * kBlock, kBlock, 70 + round);  // one unique block
    });
    auto [c, l] = both(CycleMode::kScan);
    EXPECT_EQ(c.blocks_sent, l.blocks_sent);
    EXPECT_EQ(c.changed_bytes, l.changed_bytes);
    EXPECT_EQ(l.codec_used, ReplicationCodec::kLong);
    EXPECT_GT(l.long_window_bytes, 0u);
    // Four copies of 320 KiB (each half compressible) plus one block: the
    // long codec sends about one copy.
    EXPECT_LT(l.wire_bytes * 2, c.wire_bytes)
        << "long " << l.wire_bytes << " classic " << c.wire_bytes;
    model::CycleStats m = CycleStatsToProto(l, srcs[1]);
    EXPECT_EQ(m.codec(), "long");
    EXPECT_NE(CycleStatsToJson(l, srcs[1]).find("\"codec\":\"long\""), std::string::npos);
    EXPECT_EQ(CycleStatsToProto(c, srcs[0]).codec(), "classic");
  }
  // Zeroed blocks between long-coded groups keep their order.
  write_both([&](const std::string& s) {
    auto d = disk::OpenDisk(s, disk::OpenMode::kReadWrite);
    ASSERT_OK(d);
    std::vector<uint8_t> zeros(3 * kBlock, 0);
    ASSERT_OK((*d)->WriteAt(3 << 20, absl::MakeConstSpan(zeros)));
    ASSERT_OK((*d)->Close());
    WriteRepeats(s, 90);
  });
  auto [c2, l2] = both(CycleMode::kScan);
  EXPECT_GT(l2.zero_ranges, 0u);
}

TEST(LongCodecReplicationTest, AutoUsesLongAfterTheInitialCopyAndTrackedCyclesToo) {
  const std::string src = TempPath("long-auto.vhdx");
  CreateSourceDisk(src, 16 << 20);
  WritePattern(src, 0, 3 << 20, 2);
  auto store = ReplicaStore::Open(TempDir("long-auto"), testing::WriterOptions());
  ASSERT_OK(store);
  auto st = RunCycle(src, CycleMode::kInitial, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->codec_used, ReplicationCodec::kClassic);
  for (int i = 0; i < 2; ++i) {
    auto tracker = ChangeTracker::Open(src, 16 << 20, kBlock);
    ASSERT_OK(tracker);
    WriteRepeats(src, 200 + i, tracker->get());
    ASSERT_OK((*tracker)->Close());
    st = RunCycle(src, CycleMode::kTracked, **store);
    ASSERT_OK(st);
    EXPECT_EQ(st->mode_used, CycleMode::kTracked) << st->fallback_reason;
    EXPECT_EQ(st->codec_used, ReplicationCodec::kLong);
    EXPECT_EQ(st->blocks_sent, 20u);
    EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
  }
}

TEST(LongCodecReplicationTest, TrackedBlocksThatDidNotChangeAreLeftOutOfTheStream) {
  // A tracked cycle reads its blocks straight into the stream's buffer
  // (LongRangeCompressor::StartInPlace); blocks the tracker marked that
  // read as before, or as zeros, lie between the changed ones there and
  // must not reach the stream: the changed ones move up past them.
  const std::string src = TempPath("long-inplace-skips.vhdx");
  CreateSourceDisk(src, 16 << 20);
  WritePattern(src, 0, 8 << 20, 5);
  auto store = ReplicaStore::Open(TempDir("long-inplace-skips"), testing::WriterOptions());
  ASSERT_OK(store);
  SendOptions so;
  so.codec = ReplicationCodec::kLong;
  so.read_chunk_bytes = 8 * kBlock;  // several items, each with skips inside
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store, so));
  for (uint32_t round = 0; round < 2; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::vector<uint8_t> before = ReadDisk(src);
    auto tracker = ChangeTracker::Open(src, 16 << 20, kBlock);
    ASSERT_OK(tracker);
    uint64_t changed = 0;
    {
      auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
      ASSERT_OK(d);
      const std::vector<uint8_t> zeros(kBlock, 0);
      for (uint64_t b = 0; b < 40; ++b) {
        const uint64_t at = (b * 3 + round) * kBlock;  // all within the data
        std::vector<uint8_t> data;
        if (b % 4 == 1) {  // the same bytes again
          data.assign(before.begin() + at, before.begin() + at + kBlock);
        } else if (b % 4 == 3) {  // zeros where data was
          data = zeros;
        } else {
          data = Bytes(kBlock, 400 + round * 100 + b);
          ++changed;
        }
        ASSERT_OK((*d)->WriteAt(at, absl::MakeConstSpan(data)));
        ASSERT_OK((*tracker)->RecordWrite(at, kBlock));
      }
      ASSERT_OK((*d)->Close());
    }
    ASSERT_OK((*tracker)->Close());
    auto st = RunCycle(src, CycleMode::kTracked, **store, so);
    ASSERT_OK(st);
    EXPECT_EQ(st->mode_used, CycleMode::kTracked) << st->fallback_reason;
    EXPECT_EQ(st->codec_used, ReplicationCodec::kLong);
    EXPECT_EQ(st->bytes_read, 40u * kBlock);
    EXPECT_EQ(st->blocks_sent, changed);
    EXPECT_EQ(st->zero_ranges, 10u);  // each zeroed block lies between sent ones
    EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
  }
}

TEST(LongCodecReplicationTest, CyclesReadingMoreThanTheLargestWindowCompressThroughACopy) {
  // A scan that reads more than 2^kMaxLongWindowLog bytes cannot keep them
  // all in one buffer: zstd keeps its own 128 MiB window, fed a copy of each
  // group. The replica still ends up equal to the source.
  const std::string src = TempPath("long-copy-path.vhdx");
  const uint64_t size = 160ull << 20;
  CreateSourceDisk(src, size);
  {
    auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
    ASSERT_OK(d);
    std::vector<uint8_t> chunk = Bytes(4 << 20, 9);
    for (uint64_t at = 0; at < (136ull << 20); at += chunk.size()) {
      std::memcpy(chunk.data(), &at, sizeof(at));  // no two chunks alike
      ASSERT_OK((*d)->WriteAt(at, absl::MakeConstSpan(chunk)));
    }
    ASSERT_OK((*d)->Close());
  }
  auto store = ReplicaStore::Open(TempDir("long-copy-path"), testing::WriterOptions());
  ASSERT_OK(store);
  SendOptions so;
  so.use_tracker_file = false;
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store, so));
  WriteRepeats(src, 77);
  so.codec = ReplicationCodec::kLong;
  auto st = RunCycle(src, CycleMode::kScan, **store, so);
  ASSERT_OK(st);
  EXPECT_EQ(st->codec_used, ReplicationCodec::kLong);
  EXPECT_GT(st->bytes_read, uint64_t{1} << kMaxLongWindowLog);
  EXPECT_EQ(st->long_window_bytes, uint64_t{1} << kMaxLongWindowLog);
  EXPECT_EQ(st->blocks_sent, 20u);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
}

TEST(LongCodecReplicationTest, OlderReceiversAndCompressionOffGetClassic) {
  for (uint32_t version : {3u, 4u, 5u}) {
    SCOPED_TRACE(absl::StrCat("receiver version ", version));
    const std::string src = TempPath(absl::StrCat("long-old-", version, ".vhdx"));
    CreateSourceDisk(src, 16 << 20);
    WritePattern(src, 0, 2 << 20, 3);
    auto store =
        ReplicaStore::Open(TempDir(absl::StrCat("long-old-", version)), testing::WriterOptions());
    ASSERT_OK(store);
    ServeOptions serve;
    serve.max_protocol_version = version;
    SendOptions so;
    so.codec = ReplicationCodec::kLong;
    ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store, so, serve));
    WriteRepeats(src, 300 + version);
    auto st = RunCycle(src, CycleMode::kScan, **store, so, serve);
    ASSERT_OK(st);
    EXPECT_EQ(st->codec_used, ReplicationCodec::kClassic);
    EXPECT_EQ(st->long_window_bytes, 0u);
    EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
  }
  const std::string src = TempPath("long-raw.vhdx");
  CreateSourceDisk(src, 8 << 20);
  WritePattern(src, 0, 1 << 20, 4);
  auto store = ReplicaStore::Open(TempDir("long-raw"), testing::WriterOptions());
  ASSERT_OK(store);
  SendOptions so;
  so.codec = ReplicationCodec::kLong;
  so.compression_level = 0;
  auto st = RunCycle(src, CycleMode::kInitial, **store, so);
  ASSERT_OK(st);
  EXPECT_EQ(st->codec_used, ReplicationCodec::kClassic);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
}

// ---- a hand-driven session: what the receiver refuses ----------------------

class LongFramesTest : public ::testing::Test {
 protected:
  void Begin(uint32_t max_version) {
    dir_ = TempDir(absl::StrCat("long-frames-",
                                ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    auto store = ReplicaStore::Open(dir_, testing::WriterOptions());
    ASSERT_OK(store);
    store_ = std::move(*store);
    auto pair = testing::MakeWriterStreamPair();
    ASSERT_OK(pair);
    client_ = std::move(pair->first);
    server_ = std::move(pair->second);
    thread_ = std::thread([this] {
      served_ = ServeConnection(*server_, *store_, {});
      (void)server_->Close();
    });
    Hello hello;
    hello.replication_id = "r-long";
    hello.virtual_size = 1 << 20;
    hello.block_size = kBlock;
    hello.max_version = max_version;
    ASSERT_OK(WriteFrame(*client_, FrameType::kHello, hello.Encode()));
    auto reply = HelloReply::Decode(Read());
    ASSERT_OK(reply);
    ASSERT_OK(reply->status);
    ASSERT_EQ(reply->version, max_version);
    CycleStart c;
    c.cycle = 1;
    c.flags = kCycleFull;
    ASSERT_OK(WriteFrame(*client_, FrameType::kCycleStart, c.Encode()));
    auto ready = CycleReply::Decode(Read());
    ASSERT_OK(ready);
    ASSERT_OK(ready->status);
  }
  void TearDown() override {
    if (client_) (void)client_->Close();
    if (thread_.joinable()) thread_.join();
  }
  Frame Read() {
    auto f = ReadFrame(*client_);
    EXPECT_OK(f);
    return f.ok() ? *f : Frame{};
  }
  // Sends blocks 0..n-1 as long-coded groups of one block each (pieces of
  // one stream); `corrupt` flips a byte of the last piece.
  void SendLongGroups(int n, bool corrupt) {
    LongRangeCompressor c;
    ASSERT_OK(c.Start(1, n * kBlock));
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> data = Bytes(kBlock, 7);  // every block the same
      BlockGroupHeader h;
      h.codec = static_cast<uint8_t>(BlockCodec::kZstdLong);
      h.raw_crc = Crc32c(data.data(), data.size());
      h.blocks.push_back({uint64_t(i) * kBlock, kBlock});
      auto piece = c.Next(data.data(), data.size());
      ASSERT_OK(piece);
      std::string body(*piece);
      if (corrupt && i == n - 1) body[body.size() / 2] ^= 0x5a;
      std::string payload;
      EncodeBlockGroupHeader(h, &payload);
      payload += body;
      ASSERT_OK(WriteFrame(*client_, FrameType::kBlockGroup, payload));
    }
  }
  // Ends the cycle (n blocks, no digest: the outcome is decided before it
  // matters) and returns the receiver's verdict: an error ACK's status or
  // an ERROR frame's.
  absl::Status EndCycle(int n) {
    CycleEnd e;
    e.blocks = n;
    e.raw_bytes = uint64_t(n) * kBlock;
    EXPECT_OK(WriteFrame(*client_, FrameType::kCycleEnd, e.Encode()));
    Frame f = Read();
    if (f.type == FrameType::kError) return ErrorFromFrame(f);
    auto ack = CycleReply::Decode(f);
    EXPECT_OK(ack);
    return ack.ok() ? ack->status : ack.status();
  }
  std::string dir_;
  std::unique_ptr<ReplicaStore> store_;
  std::unique_ptr<net::ByteStream> client_, server_;
  std::thread thread_;
  absl::Status served_;
};

TEST_F(LongFramesTest, CorruptPieceIsDataLossAndNothingIsApplied) {
  Begin(kProtocolVersion);
  SendLongGroups(3, /*corrupt=*/true);
  absl::Status s = EndCycle(3);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_FALSE(store_->info().has_replica);
}

TEST_F(LongFramesTest, LongGroupOnAnOlderSessionIsAProtocolViolation) {
  Begin(4);
  SendLongGroups(1, /*corrupt=*/false);
  absl::Status s = EndCycle(1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("codec 2"), std::string::npos) << s;
  EXPECT_FALSE(store_->info().has_replica);
}

TEST_F(LongFramesTest, RepeatedBlocksAreSentOnceAndApplied) {
  Begin(kProtocolVersion);
  SendLongGroups(8, /*corrupt=*/false);
  // By CRC (version 3+): each block's place, then its frame's CRC.
  Sha256Stream digest;
  const std::vector<uint8_t> data = Bytes(kBlock, 7);
  for (int i = 0; i < 8; ++i) {
    DigestBlockPlace(digest, uint64_t(i) * kBlock, kBlock);
    DigestFrameCrc(digest, Crc32c(data.data(), data.size()));
  }
  CycleEnd e;
  e.blocks = 8;
  e.raw_bytes = 8 * kBlock;
  e.digest = digest.Finish();
  ASSERT_OK(WriteFrame(*client_, FrameType::kCycleEnd, e.Encode()));
  auto ack = CycleReply::Decode(Read());
  ASSERT_OK(ack);
  ASSERT_OK(ack->status);
  std::vector<uint8_t> replica = ReadDisk(store_->info().replica_path);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(std::equal(data.begin(), data.end(), replica.begin() + i * kBlock)) << i;
  }
}

// ---- a receiver killed mid-apply -------------------------------------------

TEST(LongCodecCrashTest, KilledMidApplyRollsTheLongJournalForward) {
  // The receiver dies after the commit point, before (or while) writing the
  // replica; the reopened store rolls forward from the journal, whose
  // long-coded groups it decodes in order with a fresh stream.
  for (const char* step : {"applying", "apply-write"}) {
    SCOPED_TRACE(step);
    const std::string src = TempPath(absl::StrCat("long-crash-", step, ".vhdx"));
    CreateSourceDisk(src, 16 << 20);
    WritePattern(src, 0, 2 << 20, 5);
    const std::string dir = TempDir(absl::StrCat("long-crash-", step));
    ReplicaOptions o = testing::WriterOptions();
    o.additional_points = 2;
    o.point_interval = absl::ZeroDuration();
    {
      auto store = ReplicaStore::Open(dir, o);
      ASSERT_OK(store);
      ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
    }
    WriteRepeats(src, 400);
    const std::vector<uint8_t> want = ReadDisk(src);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      ReplicaOptions ko = o;
      ko.step_hook = [&](const char* s) {
        if (std::strcmp(s, step) == 0) ::raise(SIGKILL);
      };
      auto store = ReplicaStore::Open(dir, ko);
      if (!store.ok()) ::_exit(3);
      auto stream = net::MakePlainFdStream(fds[1], "socketpair", testing::kTestWriter);
      (void)ServeConnection(*stream, **store, {});
      ::_exit(4);
    }
    ::close(fds[1]);
    auto stream = net::MakePlainFdStream(fds[0]);
    SendOptions so;
    so.use_tracker_file = false;
    so.codec = ReplicationCodec::kLong;
    auto st = ReplicateDisk(src, CycleMode::kScan, *stream, so);
    (void)stream->Close();
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the receiver was not killed at " << step;
    // The ACK goes out at the commit point, so the sender may have seen it.
    if (st.ok()) {
      EXPECT_EQ(st->codec_used, ReplicationCodec::kLong);
    }
    auto store = ReplicaStore::Open(dir, o);
    ASSERT_OK(store);
    EXPECT_EQ((*store)->info().current_cycle, 2u);
    EXPECT_EQ(ReadDisk((*store)->info().replica_path), want);
  }
}

}  // namespace
}  // namespace asr::replication
