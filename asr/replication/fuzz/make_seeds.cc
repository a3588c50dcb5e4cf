// Writes the seed corpora of the replication fuzz targets (valid inputs made
// by the real encoders) into DIR/<target>/:
//
//   bazel run //asr/replication/fuzz:make_seeds -- $PWD/asr/replication/fuzz/corpus
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/block_log.h"
#include "asr/replication/protocol.h"
#include "asr/replication/replica_state.h"

namespace asr::replication {
namespace {

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  if (!MakeDirectories(dir).ok() || !WriteFileAtomically(JoinPath(dir, name), bytes).ok()) {
    std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i / 64) * 7 + seed);
  return s;
}

std::string BlockPayload(uint64_t offset, const std::string& raw, BlockCodec codec) {
  BlockCompressor c(codec == BlockCodec::kZstd ? 3 : 0);
  EncodedBlock e;
  c.Encode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size(), &e);
  BlockHeader h;
  h.offset = offset;
  h.length = static_cast<uint32_t>(raw.size());
  h.codec = static_cast<uint8_t>(e.codec);
  h.raw_crc = Crc32c(raw);
  std::string out(kBlockHeaderSize, '\0');
  EncodeBlockHeader(h, reinterpret_cast<uint8_t*>(out.data()));
  return out + e.payload;
}

std::string GroupPayload() {
  std::string a = Pattern(4096, 1), b = Pattern(4096, 2);
  BlockGroupHeader g;
  g.codec = static_cast<uint8_t>(BlockCodec::kZstd);
  g.raw_crc = Crc32c(a + b);
  g.blocks = {{8192, 4096}, {65536, 4096}};
  g.raw_bytes = 8192;
  std::string out;
  EncodeBlockGroupHeader(g, &out);
  BlockCompressor c(3);
  EncodedBlock e;
  std::string ab = a + b;
  c.Encode(reinterpret_cast<const uint8_t*>(ab.data()), ab.size(), &e);
  return out + e.payload;
}

void ProtocolSeeds(const std::string& dir) {
  Hello hello;
  hello.replication_id = "rep-1";
  hello.source_disk_id = "disk-1";
  hello.virtual_size = 1 << 20;
  hello.block_size = 4096;
  hello.source_name = "vm1.vhdx";
  CycleStart start;
  start.cycle = 1;
  start.mode = CycleMode::kInitial;
  start.flags = kCycleFull;
  start.source_time_us = 1700000000000000;
  ZeroRange zero{12288, 8192};
  CycleEnd end;
  end.blocks = 4;
  end.zero_ranges = 1;
  end.raw_bytes = 16384;
  VerifyRequest vr;
  vr.block_size = 4096;
  vr.first_block = 0;
  vr.block_count = 4;
  // A sender's whole session, as a receiver reads it.
  std::string sender =
      EncodeFrame(FrameType::kHello, hello.Encode()) +
      EncodeFrame(FrameType::kCycleStart, start.Encode()) +
      EncodeFrame(FrameType::kBlock, BlockPayload(0, Pattern(4096, 3), BlockCodec::kZstd)) +
      EncodeFrame(FrameType::kBlock, BlockPayload(4096, Pattern(4096, 4), BlockCodec::kRaw)) +
      EncodeFrame(FrameType::kBlockGroup, GroupPayload()) +
      EncodeFrame(FrameType::kZeroRange, zero.Encode()) +
      EncodeFrame(FrameType::kCycleEnd, end.Encode()) +
      EncodeFrame(FrameType::kVerifyRequest, vr.Encode());
  // A receiver's answers, as a sender reads them.
  HelloReply reply;
  reply.has_replica = true;
  reply.replication_id = "rep-1";
  reply.current_cycle = 1;
  reply.virtual_size = 1 << 20;
  reply.block_size = 4096;
  CycleReply ready;
  CycleReply ack;
  ack.cycle = 2;
  ack.point_id = 2;
  VerifyDigests digests;
  digests.first_block = 0;
  digests.digests.resize(3);
  digests.digests[1][0] = 1;
  VerifyEnd vend;
  vend.point_id = 2;
  vend.blocks = 3;
  std::string receiver = EncodeFrame(FrameType::kHelloReply, reply.Encode()) +
                         EncodeFrame(FrameType::kCycleReady, ready.Encode()) +
                         EncodeFrame(FrameType::kCycleAck, ack.Encode()) +
                         EncodeFrame(FrameType::kVerifyDigests, digests.Encode()) +
                         EncodeFrame(FrameType::kVerifyEnd, vend.Encode());
  CycleReply refused;
  refused.status = absl::FailedPreconditionError("cycle 3 does not follow cycle 1");
  std::string error = EncodeFrame(FrameType::kHelloReply, reply.Encode()) +
                      EncodeFrame(FrameType::kCycleReady, refused.Encode());
  error += EncodeFrame(FrameType::kError, std::string("\x09\x00\x00\x00\x05\x00\x00\x00nope!", 13));
  // First byte: 1 = repair the checksums, 0 = as is.
  Write(dir, "sender", std::string(1, '\0') + sender);
  Write(dir, "sender_repair", std::string(1, '\1') + sender);
  Write(dir, "receiver", std::string(1, '\0') + receiver);
  Write(dir, "error", std::string(1, '\1') + error);
}

std::string WithoutCrc(const std::string& s) { return s.substr(0, s.rfind("crc ")); }

void ReplicaStateSeeds(const std::string& dir) {
  ReplicaStore::State s;
  Write(dir, "empty.json", WithoutCrc(SerializeReplicaState(s)));
  s.has_replica = true;
  s.replication_id = "rep-1";
  s.source_disk_id = "disk-1";
  s.virtual_size = 1 << 30;
  s.block_size = 2 << 20;
  s.current_cycle = 3;
  s.generation = 7;
  s.additional_points = 2;
  for (uint64_t id = 1; id <= 3; ++id) {
    RecoveryPoint p;
    p.id = id;
    p.time = absl::FromUnixSeconds(1700000000 + id * 3600);
    p.source_time = p.time - absl::Seconds(2);
    p.app_consistent = id == 2;
    p.mode = id == 1 ? CycleMode::kInitial : CycleMode::kTracked;
    if (id < 3) p.delta_file = absl::StrCat("point-", id, ".delta");
    s.points.push_back(p);
  }
  Write(dir, "points.json", WithoutCrc(SerializeReplicaState(s)));
  s.applying = true;
  s.apply_start.cycle = 4;
  s.apply_start.base_cycle = 3;
  s.apply_start.mode = CycleMode::kScan;
  s.apply_journal = "cycle-4.journal";
  s.apply_undo = "cycle-4.undo";
  s.apply_time_us = 1700020000000000;
  Write(dir, "applying.json", WithoutCrc(SerializeReplicaState(s)));
  // The legacy text format (read, then rewritten as JSON).
  Write(dir, "legacy.txt",
        "asr-replica-state 1\nhas_replica 1\nreplication_id rep-1\nsource_disk_id disk-1\n"
        "virtual_size 1073741824\nblock_size 2097152\nreplica_file replica.vhdx\n"
        "current_cycle 2\ngeneration 3\npolicy 2 3600 86400\n"
        "point 1 1700000000000000 1699999999000000 0 1 point-1.delta\n"
        "point 2 1700003600000000 1700003599000000 1 2 -\n"
        "applying 3 2 3 0 1700007200000000 1700007201000000 cycle-3.journal cycle-3.undo\n");
}

void BlockLogSeeds(const std::string& dir, const std::string& tmp) {
  const std::string path = JoinPath(tmp, "seed.blog");
  BlockLogWriter w;
  if (!w.Create(path, 5, 4096, 1 << 20).ok()) std::exit(1);
  std::string raw = Pattern(4096, 5);
  BlockCompressor z(3);
  EncodedBlock e;
  z.Encode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size(), &e);
  (void)w.AppendBlock(0, raw.size(), static_cast<uint8_t>(e.codec), Crc32c(raw), e.payload);
  (void)w.AppendBlock(4096, raw.size(), 0, Crc32c(raw), raw);
  (void)w.AppendZero(8192, 16384);
  std::string group = GroupPayload();
  (void)w.AppendGroup(8192, 8192, group);
  Digest d = {};
  d[0] = 0xAB;
  if (!w.Seal(d).ok()) std::exit(1);
  auto bytes = ReadFileToString(path);
  if (!bytes.ok()) std::exit(1);
  Write(dir, "sealed", std::string(1, '\0') + *bytes);
  Write(dir, "sealed_repair", std::string(1, '\1') + *bytes);
}

}  // namespace
}  // namespace asr::replication

int main(int argc, char** argv) {
  using namespace asr::replication;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  const char* t = std::getenv("TMPDIR");
  ProtocolSeeds(out + "/protocol_fuzz");
  ReplicaStateSeeds(out + "/replica_state_fuzz");
  BlockLogSeeds(out + "/block_log_fuzz", t ? t : "/tmp");
  return 0;
}
