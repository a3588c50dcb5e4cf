#include "asr/replication/replication_test_util.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/net/stream.h"
#include "asr/platform/socket.h"
#include "asr/replication/receiver.h"
#include "gtest/gtest.h"

namespace asr::replication::testing {

ReplicaOptions WriterOptions() {
  ReplicaOptions o;
  o.writer = kTestWriter;
  return o;
}

absl::StatusOr<std::pair<std::unique_ptr<net::ByteStream>, std::unique_ptr<net::ByteStream>>>
MakeWriterStreamPair(const std::string& identity) {
  absl::StatusOr<std::pair<platform::SocketHandle, platform::SocketHandle>> fds =
      platform::MakeSocketPair();
  if (!fds.ok()) return fds.status();
  return std::make_pair(net::MakePlainFdStream(fds->first, "socketpair end 0"),
                        net::MakePlainFdStream(fds->second, "socketpair end 1", identity));
}

net::TlsConfig WriteHostTls(const std::string& dir, const std::string& name,
                            const net::PemKeyPair& ca, int days) {
  net::TlsConfig c;
  absl::StatusOr<net::PemKeyPair> host =
      net::IssueHostCertificate(ca, net::HostRequest(name, absl::Now(), days));
  EXPECT_TRUE(host.ok()) << host.status();
  if (!host.ok()) return c;
  c.cert_path = JoinPath(dir, name + ".pem");
  c.key_path = JoinPath(dir, name + ".key");
  c.ca_path = JoinPath(dir, name + "-ca.pem");
  EXPECT_TRUE(WriteFileAtomically(c.cert_path, host->certificate_pem).ok());
  EXPECT_TRUE(WriteFileAtomically(c.key_path, host->private_key_pem).ok());
  EXPECT_TRUE(WriteFileAtomically(c.ca_path, ca.certificate_pem).ok());
  return c;
}

absl::StatusOr<CycleStats> RunCycle(const std::string& disk_path, CycleMode mode,
                                    ReplicaStore& store, const SendOptions& options,
                                    const ServeOptions& serve) {
  auto pair = MakeWriterStreamPair();
  if (!pair.ok()) return pair.status();
  std::unique_ptr<net::ByteStream> a = std::move(pair->first);
  std::unique_ptr<net::ByteStream> b = std::move(pair->second);
  absl::Status served;
  std::thread receiver([&] {
    served = ServeConnection(*b, store, serve);
    (void)b->Close();
  });
  absl::StatusOr<CycleStats> stats = ReplicateDisk(disk_path, mode, *a, options);
  (void)a->Close();
  receiver.join();
  if (stats.ok() && !served.ok()) return served;
  return stats;
}

absl::StatusOr<VerifyResult> RunVerify(const std::string& disk_path, ReplicaStore& store,
                                       const VerifyOptions& options, const ServeOptions& serve) {
  auto pair = MakeWriterStreamPair();
  if (!pair.ok()) return pair.status();
  std::unique_ptr<net::ByteStream> a = std::move(pair->first);
  std::unique_ptr<net::ByteStream> b = std::move(pair->second);
  absl::Status served;
  std::thread receiver([&] {
    served = ServeConnection(*b, store, serve);
    (void)b->Close();
  });
  absl::StatusOr<VerifyResult> result = VerifyReplica(disk_path, *a, options);
  (void)a->Close();
  receiver.join();
  if (result.ok() && !served.ok()) return served;
  return result;
}

void CreateSourceDisk(const std::string& path, uint64_t size, uint32_t block_size) {
  disk::CreateOptions o;
  o.format = absl::EndsWith(path, ".vhd") ? disk::DiskFormat::kVhd : disk::DiskFormat::kVhdx;
  o.type = disk::DiskType::kDynamic;
  o.virtual_size = size;
  o.block_size = o.format == disk::DiskFormat::kVhdx ? block_size : 0;
  o.overwrite = true;
  auto d = disk::CreateDisk(path, o);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE((*d)->Close().ok());
}

std::vector<uint8_t> WritePattern(const std::string& path, uint64_t offset, size_t n, uint32_t seed,
                                  ChangeTracker* tracker) {
  std::vector<uint8_t> data = disk::testing::Pattern(n, seed);
  // Half-compressible: repeat the first quarter, so zstd has work to do.
  for (size_t i = n / 4; i < n / 2; ++i) data[i] = data[i - n / 4];
  if (tracker != nullptr) {
    EXPECT_TRUE(tracker->RecordWrite(offset, n).ok());
  }
  auto d = disk::OpenDisk(path, disk::OpenMode::kReadWrite);
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return data;
  EXPECT_TRUE((*d)->WriteAt(offset, absl::MakeConstSpan(data)).ok());
  EXPECT_TRUE((*d)->Close().ok());
  return data;
}

std::vector<uint8_t> ReadDisk(const std::string& path) {
  auto d = disk::OpenDisk(path, disk::OpenMode::kReadOnly);
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return {};
  return disk::testing::ReadAll(d->get());
}

bool QemuCompare(const std::string& a, const std::string& b) {
  if (!disk::testing::HaveQemu()) return true;
  std::string out;
  int rc = disk::testing::RunCommand(absl::StrCat("qemu-img compare '", a, "' '", b, "'"), &out);
  EXPECT_EQ(rc, 0) << "qemu-img compare " << a << " " << b << ": " << out;
  return rc == 0;
}

}  // namespace asr::replication::testing
