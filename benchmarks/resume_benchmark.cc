// benchmarks/resume_benchmark.cc: what resuming an interrupted cycle costs
// and saves (protocol 5, asr/replication/resume.h).
//
//   bazel run --config=opt //benchmarks:resume_benchmark -- [DISK_MIB] [CUTS]
//
// 1. The periodic sync: an initial replication of a DISK_MIB disk (default
//    256) over a socket pair with the receiver syncing its received data
//    every 1 MiB (each checkpoint), 4 MiB, 32 MiB (the default) and never
//    (only when interrupted). Reports wall seconds, MiB/s and the process's
//    CPU seconds (user + sys, std::clock) per setting.
// 2. Interruptions: the same cycle cut CUTS times (default 8) at random
//    byte counts (seeded) by a stream that stops writing and closes; each
//    new connection resumes. Reports, per interruption, the stream bytes the
//    receiver had read after its last checkpoint (sent again; at most one
//    block group, 1 MiB of raw blocks, plus headers), the raw bytes the
//    sender wrote again, and the total on the wire against a clean cycle.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/net/stream.h"
#include "asr/platform/env.h"
#include "asr/replication/manifest.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/resume.h"
#include "asr/replication/sender.h"

namespace asr::replication {
namespace {

// A sender stream that breaks off after `budget` bytes: the bytes up to
// there are written, then the connection is closed (the receiver reads
// them and then the end) and every later call fails.
class CuttingStream : public net::ByteStream {
 public:
  CuttingStream(std::unique_ptr<net::ByteStream> inner, uint64_t budget)
      : inner_(std::move(inner)), budget_(budget) {}
  absl::Status WriteAll(const void* data, size_t size) override {
    if (cut_) return absl::UnavailableError("cut");
    if (size <= budget_) {
      budget_ -= size;
      return inner_->WriteAll(data, size);
    }
    if (budget_ > 0) (void)inner_->WriteAll(data, budget_);
    cut_ = true;
    (void)inner_->Close();
    return absl::UnavailableError("the connection was cut");
  }
  absl::Status ReadExactly(void* out, size_t size) override {
    if (cut_) return absl::UnavailableError("cut");
    return inner_->ReadExactly(out, size);
  }
  absl::StatusOr<size_t> ReadSome(void* out, size_t size) override {
    if (cut_) return absl::UnavailableError("cut");
    return inner_->ReadSome(out, size);
  }
  absl::Status Close() override { return cut_ ? absl::OkStatus() : inner_->Close(); }
  std::string PeerDescription() const override { return "cutting stream"; }

 private:
  std::unique_ptr<net::ByteStream> inner_;
  uint64_t budget_;
  bool cut_ = false;
};

constexpr char kWriter[] = "primary-host";

// Incompressible-ish data: a seeded pattern over `mib` MiB of the disk.
void MakeSource(const std::string& path, uint64_t mib) {
  disk::CreateOptions co;
  co.format = disk::DiskFormat::kVhdx;
  co.type = disk::DiskType::kDynamic;
  co.virtual_size = mib << 20;
  co.overwrite = true;
  auto d = disk::CreateDisk(path, co);
  if (!d.ok()) {
    std::fprintf(stderr, "create %s: %s\n", path.c_str(), d.status().ToString().c_str());
    std::exit(1);
  }
  std::mt19937_64 rng(7);
  std::vector<uint8_t> buf(4 << 20);
  for (uint64_t off = 0; off < (mib << 20); off += buf.size()) {
    for (size_t i = 0; i < buf.size(); i += 8) {
      uint64_t v = rng();
      // Half the bytes repeat: zstd level 1 finds a ratio near 1.6.
      if ((i / 4096) % 2 == 1) v = 0x0102030405060708ull * ((i / 4096) % 7);
      std::memcpy(buf.data() + i, &v, 8);
    }
    if (!(*d)->WriteAt(off, absl::MakeConstSpan(buf)).ok()) std::exit(1);
  }
  if (!(*d)->Close().ok()) std::exit(1);
}

struct Receiver {
  std::unique_ptr<ReplicaStore> store;
  std::vector<std::thread> sessions;
  ~Receiver() {
    for (std::thread& t : sessions) t.join();
  }
  // A new connection: the sender's end, the receiver serving the other.
  absl::StatusOr<std::unique_ptr<net::ByteStream>> Connect() {
    // The previous session has ended (its cycle kept) before the next one
    // starts, so that no attempt is refused as a second open cycle.
    for (std::thread& t : sessions) t.join();
    sessions.clear();
    auto pair = net::MakeStreamPair();
    if (!pair.ok()) return pair.status();
    std::shared_ptr<net::ByteStream> theirs = std::move(pair->second);
    // The receiver authorizes the writer by the peer identity; a socket
    // pair has none, so the store is opened without one and this wrapper
    // names it.
    sessions.emplace_back([this, theirs] {
      struct Named : net::ByteStream {
        explicit Named(net::ByteStream& s) : s(s) {}
        absl::Status WriteAll(const void* d, size_t n) override { return s.WriteAll(d, n); }
        absl::Status ReadExactly(void* o, size_t n) override { return s.ReadExactly(o, n); }
        absl::StatusOr<size_t> ReadSome(void* o, size_t n) override { return s.ReadSome(o, n); }
        absl::Status Close() override { return s.Close(); }
        std::string PeerDescription() const override { return "sender"; }
        std::string PeerIdentity() const override { return kWriter; }
        net::ByteStream& s;
      } named(*theirs);
      (void)ServeConnection(named, *store, {});
      (void)theirs->Close();
    });
    return std::move(pair->first);
  }
};

std::unique_ptr<ReplicaStore> OpenStore(const std::string& dir, uint64_t sync_bytes) {
  (void)RemoveTree(dir);
  ReplicaOptions o;
  o.writer = kWriter;
  o.resume_sync_bytes = sync_bytes;
  auto s = ReplicaStore::Open(dir, o);
  if (!s.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), s.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(s);
}

void ForgetSenderState(const std::string& src) {
  (void)platform::Env::Default()->Unlink(ManifestPath(src));
  (void)platform::Env::Default()->Unlink(PendingManifestPath(src));
  ClearNewReplicationId(src);
}

void SyncCost(const std::string& src, const std::string& dir, uint64_t mib) {
  std::printf("periodic sync of received data (initial cycle, %llu MiB, socket pair)\n",
              static_cast<unsigned long long>(mib));
  std::printf("  %-28s %8s %8s %9s %6s\n", "resume_sync_bytes", "wall s", "MiB/s", "cpu s",
              "syncs");
  struct Setting {
    const char* name;
    uint64_t bytes;
  };
  for (const Setting& s : {Setting{"1 MiB (every checkpoint)", 0}, Setting{"4 MiB", 4 << 20},
                           Setting{"32 MiB (default)", 32 << 20},
                           Setting{"never (only on interruption)", UINT64_MAX}}) {
    ForgetSenderState(src);
    Receiver r;
    r.store = OpenStore(dir, s.bytes);
    const std::clock_t c0 = std::clock();
    const absl::Time t0 = absl::Now();
    ResumeOptions ro;
    ro.max_attempts = 1;
    auto st = ReplicateDiskResuming(
        src, CycleMode::kInitial, [&r] { return r.Connect(); }, {}, ro);
    const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
    for (std::thread& t : r.sessions) t.join();
    r.sessions.clear();
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    if (!st.ok()) {
      std::fprintf(stderr, "cycle: %s\n", st.status().ToString().c_str());
      std::exit(1);
    }
    std::printf("  %-28s %8.2f %8.1f %9.2f %6llu\n", s.name, wall, mib / wall, cpu,
                static_cast<unsigned long long>(r.store->resume_counters().syncs));
  }
}

void Interruptions(const std::string& src, const std::string& dir, uint64_t mib, int cuts) {
  // A clean cycle's wire bytes, for comparison.
  ForgetSenderState(src);
  uint64_t clean = 0;
  {
    Receiver r;
    r.store = OpenStore(dir, 32 << 20);
    auto st = ReplicateDiskResuming(src, CycleMode::kInitial, [&r] { return r.Connect(); }, {}, {});
    if (!st.ok()) std::exit(1);
    clean = st->wire_bytes;
  }
  ForgetSenderState(src);
  Receiver r;
  r.store = OpenStore(dir, 32 << 20);
  std::mt19937_64 rng(42);
  int left = cuts;
  auto connect = [&]() -> absl::StatusOr<std::unique_ptr<net::ByteStream>> {
    auto s = r.Connect();
    if (!s.ok()) return s.status();
    // Cut somewhere in the next sixth of a clean cycle's bytes.
    uint64_t budget = left-- > 0 ? std::uniform_int_distribution<uint64_t>(
                                       64 << 10, std::max<uint64_t>(clean / 6, 1 << 20))(rng)
                                 : UINT64_MAX;
    return std::unique_ptr<net::ByteStream>(new CuttingStream(*std::move(s), budget));
  };
  SendOptions so;
  ResumeOptions ro;
  ro.max_attempts = cuts + 4;
  ro.first_delay = absl::Milliseconds(20);
  ro.max_delay = absl::Milliseconds(100);
  auto st = ReplicateDiskResuming(src, CycleMode::kInitial, connect, so, ro);
  for (std::thread& t : r.sessions) t.join();
  r.sessions.clear();
  if (!st.ok()) {
    std::fprintf(stderr, "cycle: %s\n", st.status().ToString().c_str());
    std::exit(1);
  }
  ResumeCounters rc = r.store->resume_counters();
  const int n = static_cast<int>(rc.interruptions);
  std::printf("\n%d interruptions of an initial cycle of %llu MiB (cut at random byte counts)\n", n,
              static_cast<unsigned long long>(mib));
  std::printf("  clean cycle on the wire:                      %llu bytes\n",
              static_cast<unsigned long long>(clean));
  std::printf(
      "  receiver: stream bytes read after the last checkpoint, sent again: %llu in all, "
      "%.0f per interruption, at most %llu (one block group: 1048576 raw + headers)\n",
      static_cast<unsigned long long>(rc.dropped_stream_bytes),
      n > 0 ? static_cast<double>(rc.dropped_stream_bytes) / n : 0.0,
      static_cast<unsigned long long>(rc.max_dropped_stream_bytes));
  std::printf("  sender: raw bytes written again: %llu in all, %.0f per interruption\n",
              static_cast<unsigned long long>(st->resent_bytes),
              n > 0 ? static_cast<double>(st->resent_bytes) / n : 0.0);
  std::printf(
      "  resumed cycles %llu, raw bytes not sent again %llu; without resume each "
      "interruption would resend everything before it\n",
      static_cast<unsigned long long>(rc.resumed_cycles),
      static_cast<unsigned long long>(rc.resumed_bytes));
  std::printf("  replica point %llu committed after %u connections\n",
              static_cast<unsigned long long>(st->point_id), st->attempts);
}

}  // namespace
}  // namespace asr::replication

int main(int argc, char** argv) {
  const uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  const int cuts = argc > 2 ? std::atoi(argv[2]) : 8;
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string base = asr::JoinPath(tmp ? tmp : "/tmp", "asr-resume-benchmark");
  if (!asr::MakeDirectories(base).ok()) return 1;
  const std::string src = asr::JoinPath(base, "src.vhdx");
  const std::string dir = asr::JoinPath(base, "replica");
  asr::replication::MakeSource(src, mib);
  asr::replication::SyncCost(src, dir, mib);
  asr::replication::Interruptions(src, dir, mib, cuts);
  (void)asr::RemoveTree(base);
  return 0;
}
