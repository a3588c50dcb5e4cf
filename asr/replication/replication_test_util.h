// asr/replication/replication_test_util.h: helpers for the replication
// tests: one cycle over an in-process socket pair, disk writes that also
// feed a tracker, and whole-disk comparisons.
//
//   auto stats = RunCycle(src, CycleMode::kScan, *store, opts);
//   ASSERT_TRUE(stats.ok()) << stats.status();
//   EXPECT_EQ(ReadDisk(store->info().replica_path), ReadDisk(src));
#ifndef ASR_REPLICATION_REPLICATION_TEST_UTIL_H_
#define ASR_REPLICATION_REPLICATION_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/net/pki.h"
#include "asr/net/stream.h"
#include "asr/net/tls.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/sender.h"
#include "asr/replication/verifier.h"

namespace asr::replication::testing {

// The identity the tests' senders present (the CN 'asrctl pki init' gives
// the primary host), and ReplicaOptions that name it as the writer.
inline constexpr char kTestWriter[] = "primary-host";
ReplicaOptions WriterOptions();

// A connected socket pair whose second end (the receiver's) sees its peer
// as `identity`, as a TLS stream sees the certificate's CN.
absl::StatusOr<std::pair<std::unique_ptr<net::ByteStream>, std::unique_ptr<net::ByteStream>>>
MakeWriterStreamPair(const std::string& identity = kTestWriter);

// Runs ReplicateDisk against ServeConnection on a socket pair (the sender
// presenting kTestWriter).
absl::StatusOr<CycleStats> RunCycle(const std::string& disk_path, CycleMode mode,
                                    ReplicaStore& store, const SendOptions& options = {},
                                    const ServeOptions& serve = {});

// Runs VerifyReplica against ServeConnection on a socket pair.
absl::StatusOr<VerifyResult> RunVerify(const std::string& disk_path, ReplicaStore& store,
                                       const VerifyOptions& options = {},
                                       const ServeOptions& serve = {});

// Writes a host's TLS files into `dir` (NAME.pem, NAME.key, NAME-ca.pem): a
// certificate for CN `name` issued by `ca`, valid for `days` from now, its
// key and the CA's certificate; returns the configuration that uses them.
net::TlsConfig WriteHostTls(const std::string& dir, const std::string& name,
                            const net::PemKeyPair& ca, int days = 30);

// Creates a dynamic disk (VHDX unless the path ends in .vhd).
void CreateSourceDisk(const std::string& path, uint64_t size, uint32_t block_size = 1 << 20);

// Writes `n` bytes of a seeded pattern at `offset` (and records the write in
// `tracker` when not null). Returns the bytes written.
std::vector<uint8_t> WritePattern(const std::string& path, uint64_t offset, size_t n, uint32_t seed,
                                  ChangeTracker* tracker = nullptr);

// The whole virtual content of the disk at `path`.
std::vector<uint8_t> ReadDisk(const std::string& path);

// True (and no gtest failure) when `qemu-img compare` says equal; false
// with a failure otherwise. Skips (returns true) when qemu-img is missing.
bool QemuCompare(const std::string& a, const std::string& b);

}  // namespace asr::replication::testing

#endif  // ASR_REPLICATION_REPLICATION_TEST_UTIL_H_
