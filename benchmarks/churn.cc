// churn: rewrites a share of a virtual disk's 64 KiB blocks as a guest
// would, for the replication benchmarks.
//
//   churn --disk vm.vhdx --percent 5 --seed 1 --corpus new-data.bin
//         [--record] [--changed-out changed.bin]
//
// Picks percent% of the disk's blocks at random (seeded, without
// repetition), fills each with 64 KiB taken from a random offset of
// --corpus (so the new data compresses like real files and is not a copy of
// anything already on the disk), writes it through VirtualDisk, and with
// --record also reports each write to the disk's change tracker (tracked
// mode). --changed-out receives the new blocks back to back: zstd of that
// file is the floor for bytes on the wire.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "asr/common/file_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/replication/change_tracker.h"

namespace {

constexpr uint64_t kBlock = 64 << 10;

int Fail(const std::string& what) {
  std::fprintf(stderr, "churn: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string disk_path, corpus_path, changed_out;
  double percent = -1;
  uint64_t seed = 1;
  bool record = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--disk")
      disk_path = next();
    else if (a == "--corpus")
      corpus_path = next();
    else if (a == "--changed-out")
      changed_out = next();
    else if (a == "--record")
      record = true;
    else if (a == "--percent") {
      if (!absl::SimpleAtod(next(), &percent)) return Fail("--percent needs a number");
    } else if (a == "--seed") {
      if (!absl::SimpleAtoi(next(), &seed)) return Fail("--seed needs a whole number");
    } else {
      return Fail("unknown argument " + a);
    }
  }
  if (disk_path.empty() || corpus_path.empty() || percent < 0 || percent > 100) {
    return Fail(
        "usage: churn --disk FILE --percent P --corpus FILE [--seed S] [--record] "
        "[--changed-out FILE]");
  }
  auto corpus = asr::ReadFileToString(corpus_path);
  if (!corpus.ok()) return Fail(std::string(corpus.status().message()));
  if (corpus->size() < 2 * kBlock) return Fail("corpus must hold at least 128 KiB");

  auto disk = asr::disk::OpenDisk(disk_path, asr::disk::OpenMode::kReadWrite);
  if (!disk.ok()) return Fail(std::string(disk.status().message()));
  const uint64_t blocks = (*disk)->virtual_size() / kBlock;
  const uint64_t n = static_cast<uint64_t>(static_cast<double>(blocks) * percent / 100.0 + 0.5);

  std::mt19937_64 rng(seed);
  std::vector<uint64_t> all(blocks);
  for (uint64_t i = 0; i < blocks; ++i) all[i] = i;
  for (uint64_t i = 0; i < n; ++i) {
    std::uniform_int_distribution<uint64_t> pick(i, blocks - 1);
    std::swap(all[i], all[pick(rng)]);
  }
  std::vector<uint64_t> chosen(all.begin(), all.begin() + static_cast<ptrdiff_t>(n));
  std::sort(chosen.begin(), chosen.end());

  std::unique_ptr<asr::replication::ChangeTracker> tracker;
  if (record) {
    auto t = asr::replication::ChangeTracker::Open(disk_path, (*disk)->virtual_size(),
                                                   static_cast<uint32_t>(kBlock));
    if (!t.ok()) return Fail(std::string(t.status().message()));
    tracker = std::move(*t);
  }
  FILE* out = nullptr;
  if (!changed_out.empty()) {
    out = std::fopen(changed_out.c_str(), "wb");
    if (out == nullptr) return Fail("cannot create " + changed_out);
  }
  std::uniform_int_distribution<uint64_t> from(0, corpus->size() - kBlock);
  for (uint64_t b : chosen) {
    const uint8_t* data = reinterpret_cast<const uint8_t*>(corpus->data() + from(rng));
    absl::Status s = (*disk)->WriteAt(b * kBlock, absl::MakeConstSpan(data, kBlock));
    if (!s.ok()) return Fail(std::string(s.message()));
    if (tracker) {
      s = tracker->RecordWrite(b * kBlock, kBlock);
      if (!s.ok()) return Fail(std::string(s.message()));
    }
    if (out != nullptr && std::fwrite(data, 1, kBlock, out) != kBlock) {
      return Fail("cannot write " + changed_out);
    }
  }
  if (out != nullptr) std::fclose(out);
  // The disk first: the tracker vouches, as it closes, for the disk as it
  // is then, so every write (and the metadata they update) must be done.
  absl::Status s = (*disk)->Close();
  if (!s.ok()) return Fail(std::string(s.message()));
  if (tracker) {
    s = tracker->Close();
    if (!s.ok()) return Fail(std::string(s.message()));
  }
  std::printf("%llu\n", static_cast<unsigned long long>(n));
  return 0;
}
