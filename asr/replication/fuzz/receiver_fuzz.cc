// libFuzzer entry point for a receiver session: ServeConnection against a
// real ReplicaStore, with the fuzzed bytes as everything the sender says
// (HELLO, cycles, blocks, verification requests). The input's first byte
// chooses whether the frames' CRC-32C are repaired first (bit 0); the rest
// is the byte stream (a HELLO's virtual size capped at 1 GiB, see
// CapVirtualSize). The store lives for 256 inputs, as a receiver serves
// one connection after another, then its directory is emptied and it is
// opened again. The directory is on tmpfs (/dev/shm) when there is one:
// the replica's files are real files, so that is what keeps this fast.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "asr/common/clock.h"
#include "asr/common/crc32c.h"
#include "asr/platform/env.h"
#include "asr/replication/fuzz/bytes_stream.h"
#include "asr/replication/protocol.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_store.h"

namespace asr::replication::fuzz {
namespace {

// A HELLO may announce a replica of up to 64 TiB, which the receiver then
// creates (a VHDX whose block table alone takes seconds to lay out under
// the sanitizers): legitimate, but it would make most inputs time out.
// Announced sizes above 1 GiB are cut to 1 GiB, before the CRC repair.
void CapVirtualSize(std::string& s) {
  if (s.size() < kFrameHeaderSize || static_cast<uint8_t>(s[4]) != 1) return;  // HELLO
  size_t pos = kFrameHeaderSize + 8;  // min_version, max_version
  for (int i = 0; i < 2; ++i) {       // replication_id, source_disk_id
    if (s.size() < pos + 4) return;
    pos += 4 + Load32(reinterpret_cast<const uint8_t*>(&s[pos]));
  }
  if (s.size() < pos + 8) return;
  uint8_t* p = reinterpret_cast<uint8_t*>(&s[pos]);
  const uint64_t size = uint64_t{Load32(p)} | uint64_t{Load32(p + 4)} << 32;
  if (size > (uint64_t{1} << 30)) {
    Store32(p, 1u << 30);
    Store32(p + 4, 0);
  }
}

class Receiver {
 public:
  Receiver() {
    platform::Env* env = platform::Env::Default();
    // Under a test, the test's own directory (removed after it); else tmpfs.
    const char* t = std::getenv("TEST_TMPDIR");
    std::string base = t ? t : env->Stat("/dev/shm").ok() ? "/dev/shm" : "/tmp";
    auto d = env->MakeTempDirectory(base + "/asr-receiver-fuzz-");
    if (!d.ok()) std::abort();
    dir_ = *d;
  }

  ReplicaStore& Next() {
    if (store_ == nullptr || ++uses_ % 256 == 0) {
      store_.reset();
      platform::Env* env = platform::Env::Default();
      auto names = env->ListDirectory(dir_);
      if (names.ok()) {
        for (const std::string& n : *names) (void)env->Unlink(dir_ + "/" + n);
      }
      ReplicaOptions o;
      o.clock = &clock_;
      auto s = ReplicaStore::Open(dir_, o);
      if (!s.ok()) std::abort();
      store_ = std::move(*s);
    }
    return *store_;
  }

 private:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::string dir_;
  std::unique_ptr<ReplicaStore> store_;
  uint64_t uses_ = 0;
};

}  // namespace
}  // namespace asr::replication::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace asr::replication;
  using namespace asr::replication::fuzz;
  if (size < 1) return 0;
  static Receiver* receiver = new Receiver();
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  CapVirtualSize(bytes);
  if (data[0] & 1) RepairFrames(bytes);
  BytesStream stream(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  (void)ServeConnection(stream, receiver->Next(), {});
  return 0;
}
