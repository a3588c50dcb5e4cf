// Offline initial replication: a package exported from a VHDX, imported into
// an empty replica, then delta cycles over mutual TLS to a normal receiver;
// and the refusals of a tampered, incomplete, edited or truncated package,
// and of a replica that already holds data.
#include "asr/replication/offline_package.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/net/pki.h"
#include "asr/net/tls.h"
#include "asr/platform/env.h"
#include "asr/replication/manifest.h"
#include "asr/replication/protocol.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replication_test_util.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using ::asr::testing::StatusIs;
using testing::CreateSourceDisk;
using ::testing::HasSubstr;
using testing::ReadDisk;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 16 << 20;
constexpr uint32_t kBlock = 64 << 10;

uint32_t Load32(const std::string& s, size_t pos) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data() + pos);
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
void Store32(std::string* s, size_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[pos + i] = static_cast<char>(v >> (8 * i));
}

// A frame of a part file: where it starts and its header's fields.
struct PartFrame {
  size_t pos = 0;
  FrameType type = FrameType::kError;
  uint32_t length = 0;
};
std::vector<PartFrame> FramesOf(const std::string& bytes) {
  std::vector<PartFrame> out;
  for (size_t pos = 0; pos + kFrameHeaderSize <= bytes.size();) {
    PartFrame f{pos, static_cast<FrameType>(bytes[pos + 4]), Load32(bytes, pos + 8)};
    out.push_back(f);
    pos += kFrameHeaderSize + f.length;
  }
  return out;
}

std::string Sha256Hex(const std::string& bytes) {
  Sha256Stream s;
  s.Update(bytes.data(), bytes.size());
  return DigestHex(s.Finish());
}

class OfflinePackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = asr::testing::TestDir("offline");
    src_ = JoinPath(dir_, "src.vhdx");
    pkg_ = JoinPath(dir_, "package");
    replica_ = JoinPath(dir_, "replica");
    CreateSourceDisk(src_, kDiskSize);
    WritePattern(src_, 0, 2 << 20, 1);
    WritePattern(src_, 9 << 20, 300000, 2);
    WritePattern(src_, 15 << 20, 1 << 20, 3);
  }

  ExportResult Export() {
    ExportOptions o;
    o.part_bytes = 1 << 20;  // several parts
    o.source_time = absl::FromUnixSeconds(1700000000);
    o.source_name = "hv-01";
    auto r = ExportInitialPackage(src_, pkg_, o);
    EXPECT_OK(r);
    return r.ok() ? *r : ExportResult();
  }
  static ReplicaOptions Options() {
    ReplicaOptions o;
    o.writer = "primary-host";
    o.additional_points = 2;
    o.point_interval = absl::ZeroDuration();
    return o;
  }
  std::string Part(int n) const { return JoinPath(pkg_, absl::StrFormat("part-%04d.asrpkg", n)); }
  // Makes the manifest describe part `n` as it now is (size and SHA-256),
  // as someone who edits both would.
  void FixManifestFor(int n) {
    auto m = ReadPackageManifest(pkg_);
    ASSERT_OK(m);
    const std::string bytes = disk::testing::ReadFileBytes(Part(n));
    m->mutable_parts(n - 1)->set_size(bytes.size());
    m->mutable_parts(n - 1)->set_sha256(Sha256Hex(bytes));
    uint64_t total = 0;
    for (const auto& p : m->parts()) total += p.size();
    m->mutable_totals()->set_bytes(total);
    ASSERT_OK(WritePackageManifest(pkg_, *m));
  }
  void ExpectNoReplica() {
    auto info = ReadReplicaInfo(replica_);  // NotFound: not even a state file
    if (info.ok()) {
      EXPECT_FALSE(info->has_replica);
    } else {
      EXPECT_THAT(info, StatusIs(absl::StatusCode::kNotFound));
    }
    EXPECT_FALSE(PathExists(JoinPath(replica_, "replica.vhdx")));
    EXPECT_FALSE(PathExists(JoinPath(replica_, "replica.vhdx.tmp")));
  }

  std::string dir_, src_, pkg_, replica_;
};

TEST_F(OfflinePackageTest, ImportedReplicaContinuesWithDeltasOverTls) {
  // A stale part of an interrupted export is replaced, not kept.
  ASSERT_OK(MakeDirectories(pkg_));
  disk::testing::WriteFileBytes(Part(9), "debris");
  const ExportResult ex = Export();
  ASSERT_GE(ex.files.size(), 4u);  // three parts or more, then the manifest
  EXPECT_EQ(ex.files.back(), kPackageManifestFile);
  EXPECT_EQ(ex.point_id, 1u);
  EXPECT_GT(ex.blocks, 0u);
  auto names = platform::Env::Default()->ListDirectory(pkg_);
  ASSERT_OK(names);
  EXPECT_EQ(names->size(), ex.files.size());  // the debris is gone
  auto m = ReadPackageManifest(pkg_);
  ASSERT_OK(m);
  EXPECT_EQ(m->parts_size() + 1, static_cast<int>(ex.files.size()));
  EXPECT_EQ(m->replication_id(), ex.replication_id);
  EXPECT_EQ(m->virtual_size(), kDiskSize);
  EXPECT_EQ(m->source_time(), "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(m->totals().blocks(), ex.blocks);
  for (const auto& p : m->parts()) {
    EXPECT_EQ(disk::testing::FileSize(JoinPath(pkg_, p.file())), p.size());
    EXPECT_LE(p.first_block(), p.last_block());
  }
  EXPECT_EQ(m->parts(0).first_block(), 0u);
  EXPECT_EQ(m->parts().rbegin()->last_block(), kDiskSize / kBlock - 1);
  // The sender's state is committed, as after a receiver's ACK.
  auto state = LoadManifest(ManifestPath(src_));
  ASSERT_OK(state);
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->cycle, 1u);
  EXPECT_EQ((*state)->replication_id, ex.replication_id);
  EXPECT_FALSE(PathExists(PendingManifestPath(src_)));
  // An export never overwrites a package.
  EXPECT_THAT(ExportInitialPackage(src_, pkg_, {}),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already holds a package")));

  const std::vector<uint8_t> exported = ReadDisk(src_);
  auto point = ImportInitialPackage(pkg_, replica_, Options());
  ASSERT_OK(point);
  EXPECT_EQ(*point, 1u);
  auto info = ReadReplicaInfo(replica_);
  ASSERT_OK(info);
  EXPECT_TRUE(info->has_replica);
  EXPECT_EQ(info->replication_id, ex.replication_id);
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(info->replica_path), exported), -1);
  auto points = ListRecoveryPoints(replica_);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].source_time, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ((*points)[0].mode, CycleMode::kInitial);

  // Guest writes through the host's tracker: blocks 80, 81 and 192.
  auto tracker = ChangeTracker::Open(src_, kDiskSize, kBlock);
  ASSERT_OK(tracker);
  EXPECT_FALSE((*tracker)->needs_scan()) << (*tracker)->needs_scan_reason();
  WritePattern(src_, 5 << 20, 100000, 4, tracker->get());
  WritePattern(src_, (12 << 20) + 4096, 10, 5, tracker->get());

  // A normal receiver on the imported replica, over mutual TLS.
  const std::string pki = JoinPath(dir_, "pki");
  ASSERT_OK(net::InitVaultPki(pki, {}));
  net::TlsConfig recovery = net::VaultTlsConfig(pki, "recovery");
  net::TlsConfig primary = net::VaultTlsConfig(pki, "primary");
  primary.expected_peer_name = "recovery-host";
  auto store = ReplicaStore::Open(replica_, Options());
  ASSERT_OK(store);
  auto listener = net::TlsListener::Listen("127.0.0.1", 0, recovery);
  ASSERT_OK(listener);
  absl::Status served;
  std::thread server([&] {
    auto conn = (*listener)->Accept();
    ServeOptions serve;
    serve.receiver_identity = "recovery-host";
    served = conn.ok() ? ServeConnection(**conn, **store, serve) : conn.status();
  });
  auto stream = net::TlsConnect("127.0.0.1", (*listener)->port(), primary, absl::Seconds(10));
  ASSERT_OK(stream);
  SendOptions so;
  so.tracker = tracker->get();
  auto st = ReplicateDisk(src_, CycleMode::kTracked, **stream, so);
  ASSERT_OK((*stream)->Close());
  server.join();
  ASSERT_OK(st);
  EXPECT_OK(served);
  EXPECT_EQ(st->mode_used, CycleMode::kTracked) << st->fallback_reason;
  EXPECT_EQ(st->base_cycle, 1u);
  EXPECT_EQ(st->point_id, 2u);
  EXPECT_EQ(st->blocks_sent, 3u);
  EXPECT_EQ(st->bytes_read, 3u * kBlock);
  EXPECT_EQ((*tracker)->marked_blocks(), 0u);
  ASSERT_OK((*tracker)->Close());
  store->reset();
  info = ReadReplicaInfo(replica_);
  ASSERT_OK(info);
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(info->replica_path), ReadDisk(src_)), -1);
  // The imported point is still there, as it was exported.
  const std::string restored = JoinPath(dir_, "restored-1.vhdx");
  ASSERT_OK(RestorePoint(replica_, 1, restored, {}));
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(restored), exported), -1);
}

TEST_F(OfflinePackageTest, TamperedPartIsRefusedNamingTheFileAndTheBlock) {
  Export();
  // A byte of part 2's first block group's data.
  std::string bytes = disk::testing::ReadFileBytes(Part(2));
  PartFrame group;
  for (const PartFrame& f : FramesOf(bytes)) {
    if (f.type == FrameType::kBlockGroup) {
      group = f;
      break;
    }
  }
  ASSERT_EQ(group.type, FrameType::kBlockGroup);
  const std::string payload = bytes.substr(group.pos + kFrameHeaderSize, group.length);
  auto gh = DecodeBlockGroupHeader(payload);
  ASSERT_OK(gh);
  ASSERT_GT(gh->blocks.size(), 1u);
  const std::string block =
      absl::StrCat("blocks ", gh->blocks[0].offset / kBlock, "..",
                   gh->blocks.back().offset / kBlock, " from disk offset ", gh->blocks[0].offset);
  const size_t at = group.pos + kFrameHeaderSize + gh->data_pos + 100;
  bytes[at] = static_cast<char>(bytes[at] ^ 0x5a);
  disk::testing::WriteFileBytes(Part(2), bytes);

  // The SHA-256 check names the file before anything is applied.
  auto r = ImportInitialPackage(pkg_, replica_, Options());
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("part-0002.asrpkg is damaged")));
  ExpectNoReplica();

  // With the manifest edited to match, the frame's CRC names the block.
  FixManifestFor(2);
  r = ImportInitialPackage(pkg_, replica_, Options());
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("part-0002.asrpkg")));
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("BLOCK_GROUP frame at byte ", group.pos, " (", block)));
  EXPECT_THAT(r.status().message(), HasSubstr("fails its checksum"));
  ExpectNoReplica();

  // And with the frame's CRCs forged too, its decoding does.
  const size_t h = group.pos;
  const std::string forged_payload = bytes.substr(h + kFrameHeaderSize, group.length);
  Store32(&bytes, h + 12, Crc32c(forged_payload.data(), forged_payload.size()));
  Store32(&bytes, h + 16, Crc32c(bytes.data() + h, 16));
  disk::testing::WriteFileBytes(Part(2), bytes);
  FixManifestFor(2);
  r = ImportInitialPackage(pkg_, replica_, Options());
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("part-0002.asrpkg")));
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("frame at byte ", group.pos, " (", block)));
  EXPECT_THAT(r.status().message(), HasSubstr("is refused"));
  ExpectNoReplica();
}

TEST_F(OfflinePackageTest, MissingPartIsRefused) {
  const ExportResult ex = Export();
  ASSERT_GE(ex.files.size(), 4u);
  ASSERT_OK(platform::Env::Default()->Unlink(Part(3)));
  EXPECT_THAT(ImportInitialPackage(pkg_, replica_, Options()),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("package is incomplete: part-0003.asrpkg is missing")));
  ExpectNoReplica();
  // Without its manifest a package is incomplete too.
  ASSERT_OK(platform::Env::Default()->Unlink(JoinPath(pkg_, kPackageManifestFile)));
  EXPECT_THAT(ImportInitialPackage(pkg_, replica_, Options()),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("package is incomplete: manifest.json is missing")));
}

TEST_F(OfflinePackageTest, EditedManifestIsRefused) {
  Export();
  const std::string path = JoinPath(pkg_, kPackageManifestFile);
  const std::string original = disk::testing::ReadFileBytes(path);
  std::string edited = original;
  const size_t at = edited.find("2023-11-14T22:13:20");
  ASSERT_NE(at, std::string::npos);
  edited.replace(at, 4, "2024");
  disk::testing::WriteFileBytes(path, edited);
  EXPECT_THAT(ImportInitialPackage(pkg_, replica_, Options()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("manifest.json fails its checksum")));
  ExpectNoReplica();

  // Edited with its checksum recomputed: the recorded frames disagree.
  disk::testing::WriteFileBytes(path, original);
  auto m = ReadPackageManifest(pkg_);
  ASSERT_OK(m);
  m->set_virtual_size(kDiskSize * 2);
  ASSERT_OK(WritePackageManifest(pkg_, *m));
  EXPECT_THAT(ImportInitialPackage(pkg_, replica_, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("part-0001.asrpkg: its HELLO frame describes")));
  ExpectNoReplica();

  // A part name that leaves the directory is never opened.
  m->set_virtual_size(kDiskSize);
  m->mutable_parts(0)->set_file("../part-0001.asrpkg");
  ASSERT_OK(WritePackageManifest(pkg_, *m));
  EXPECT_THAT(ImportInitialPackage(pkg_, replica_, Options()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not part-0001.asrpkg")));
}

TEST_F(OfflinePackageTest, TruncatedPartIsRefused) {
  const ExportResult ex = Export();
  const int last = static_cast<int>(ex.files.size()) - 1;
  const std::string part = Part(last);
  disk::testing::TruncateFile(part, disk::testing::FileSize(part) - 100);
  EXPECT_THAT(ImportInitialPackage(pkg_, replica_, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat("package is incomplete: ", part, " has "))));
  ExpectNoReplica();
  // Even when the manifest is made to agree, the cut frame is found.
  FixManifestFor(last);
  auto r = ImportInitialPackage(pkg_, replica_, Options());
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(part)));
  EXPECT_THAT(r.status().message(), HasSubstr("the file ends inside the BLOCK_GROUP frame"));
  EXPECT_THAT(r.status().message(), HasSubstr(" from disk offset "));
  ExpectNoReplica();
}

TEST_F(OfflinePackageTest, ImportIntoAReplicaWithDataIsRefused) {
  Export();
  ReplicaOptions no_writer = Options();
  no_writer.writer.clear();
  EXPECT_THAT(ImportInitialPackage(pkg_, replica_, no_writer),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("writer")));
  ASSERT_OK(ImportInitialPackage(pkg_, replica_, Options()));
  const std::vector<uint8_t> before = ReadDisk(JoinPath(replica_, "replica.vhdx"));
  EXPECT_THAT(
      ImportInitialPackage(pkg_, replica_, Options()),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already holds a replica")));
  auto info = ReadReplicaInfo(replica_);
  ASSERT_OK(info);
  EXPECT_EQ(info->current_cycle, 1u);
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(info->replica_path), before), -1);
}

TEST_F(OfflinePackageTest, FailedExportLeavesNoPartsAndNoCommittedState) {
  ExportOptions o;
  o.compression_level = 42;  // refused by the sender before anything is read
  EXPECT_THAT(ExportInitialPackage(src_, pkg_, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("compression level")));
  o.compression_level = 1;
  o.part_bytes = 1000;
  EXPECT_THAT(ExportInitialPackage(src_, pkg_, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("part size")));
  // A disk that cannot be read: no part stays behind, no state is committed.
  EXPECT_THAT(ExportInitialPackage(JoinPath(dir_, "missing.vhdx"), pkg_, {}),
              StatusIs(absl::StatusCode::kNotFound));
  auto names = platform::Env::Default()->ListDirectory(pkg_);
  ASSERT_OK(names);
  EXPECT_TRUE(names->empty());
  EXPECT_FALSE(PathExists(ManifestPath(src_)));
}

}  // namespace
}  // namespace asr::replication
