// A deterministic stand-in for libFuzzer (the toolchain is gcc): builds a
// seed corpus of valid small images in-process, then calls the linked
// LLVMFuzzerTestOneInput on each seed and on a bounded number of seeded
// random mutations. Half of the mutants get their checksums repaired so the
// parser gets past the first integrity check.
//
//   fuzz_driver vhdx 2000   # seed kind, iterations
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/guid.h"
#include "asr/disk/vhd_format.h"
#include "asr/disk/vhdx_format.h"
#include "asr/disk/vhdx_log.h"
#include "asr/disk/virtual_disk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace asr::disk::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

// The file's bytes; empty when it cannot be read.
Bytes FileBytes(const std::string& path) {
  absl::StatusOr<std::string> text = asr::ReadFileToString(path);
  if (!text.ok()) return Bytes();
  return Bytes(text->begin(), text->end());
}

Bytes MakeImage(DiskFormat format, DiskType type, uint32_t block, uint32_t lss, int n) {
  std::string path = TmpDir() + "/seed" + std::to_string(n);
  CreateOptions o;
  o.format = format;
  o.type = type;
  o.virtual_size = 4 << 20;
  o.block_size = block;
  o.logical_sector_size = lss;
  o.overwrite = true;
  auto d = CreateDisk(path, o);
  if (!d.ok()) {
    std::fprintf(stderr, "seed: %s\n", std::string(d.status().message()).c_str());
    std::exit(2);
  }
  std::vector<uint8_t> data(300000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + n);
  (void)(*d)->WriteAt(4096, data);
  (void)(*d)->Close();
  return FileBytes(path);
}

std::vector<Bytes> Seeds(const std::string& kind) {
  std::vector<Bytes> s;
  if (kind == "vhd") {
    s.push_back(MakeImage(DiskFormat::kVhd, DiskType::kDynamic, 0, 512, 1));
    s.push_back(MakeImage(DiskFormat::kVhd, DiskType::kDynamic, 64 << 10, 512, 2));
    s.push_back(MakeImage(DiskFormat::kVhd, DiskType::kFixed, 0, 512, 3));
  } else if (kind == "vhdx") {
    s.push_back(MakeImage(DiskFormat::kVhdx, DiskType::kDynamic, 1 << 20, 512, 4));
    s.push_back(MakeImage(DiskFormat::kVhdx, DiskType::kDynamic, 2 << 20, 4096, 5));
    s.push_back(MakeImage(DiskFormat::kVhdx, DiskType::kFixed, 1 << 20, 512, 6));
  } else {
    Guid g = Guid::Random();
    std::string p(4096, 'p');
    Bytes log(g.bytes.begin(), g.bytes.end());
    std::string e1 = BuildVhdxLogEntry(g, 3, 0, 1 << 20, 1 << 20, {{1 << 21, 8192}},
                                       {{3 << 20, reinterpret_cast<const uint8_t*>(p.data())}});
    std::string e2 = BuildVhdxLogEntry(g, 4, 0, 1 << 20, 1 << 20, {},
                                       {{3 << 20, reinterpret_cast<const uint8_t*>(p.data())}});
    log.insert(log.end(), e1.begin(), e1.end());
    log.insert(log.end(), e2.begin(), e2.end());
    log.resize(16 + 16 * 4096, 0);
    s.push_back(log);
  }
  return s;
}

// Offsets worth mutating: the structures, not the megabytes of zeros.
uint64_t PickOffset(const Bytes& b, const std::string& kind, std::mt19937_64& rng) {
  if (b.empty()) return 0;
  std::vector<std::pair<uint64_t, uint64_t>> hot;
  if (kind == "vhd") {
    hot = {{0, 2048}, {b.size() >= 512 ? b.size() - 512 : 0, b.size()}, {2048, 8192}};
  } else if (kind == "vhdx") {
    hot = {{0, 16},
           {65536, 65536 + 128},
           {131072, 131072 + 128},
           {196608, 196608 + 128},
           {262144, 262144 + 128},
           {1 << 20, (1 << 20) + 8192},
           {2 << 20, (2 << 20) + 65536 + 256},
           {3 << 20, (3 << 20) + 256}};
  } else {
    hot = {{0, b.size()}};
  }
  auto [lo, hi] = hot[rng() % hot.size()];
  hi = std::min<uint64_t>(hi, b.size());
  if (rng() % 8 == 0 || lo >= hi) return rng() % b.size();
  return lo + rng() % (hi - lo);
}

void Mutate(Bytes& b, const std::string& kind, std::mt19937_64& rng) {
  int count = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < count && !b.empty(); ++i) {
    uint64_t at = PickOffset(b, kind, rng);
    switch (rng() % 6) {
      case 0:
        b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        b[at] = static_cast<uint8_t>(rng());
        break;
      case 2:
        b[at] = (rng() % 2) ? 0xFF : 0x00;
        break;
      case 3:
        if (at + 8 <= b.size()) StoreLe64(&b[at], rng() >> (rng() % 64));
        break;
      case 4:
        if (at + 4 <= b.size()) StoreBe32(&b[at], static_cast<uint32_t>(rng() >> (rng() % 32)));
        break;
      case 5:
        if (rng() % 4 == 0) b.resize(at);
        break;
    }
  }
}

void FixChecksums(Bytes& b, const std::string& kind) {
  if (kind == "vhd") {
    if (b.size() >= 512) {
      uint8_t* f = &b[b.size() - 512];
      StoreBe32(f + 64, VhdChecksum(f, 512, 64));
      StoreBe32(&b[64], VhdChecksum(b.data(), 512, 64));
    }
    if (b.size() >= 1536) StoreBe32(&b[512 + 36], VhdChecksum(&b[512], 1024, 36));
  } else if (kind == "vhdx") {
    for (uint64_t off : {kVhdxHeader1Offset, kVhdxHeader2Offset}) {
      if (off + kVhdxHeaderSize > b.size()) continue;
      StoreLe32(&b[off + 4], 0);
      StoreLe32(&b[off + 4], Crc32c(&b[off], kVhdxHeaderSize));
    }
    for (uint64_t off : {kVhdxRegionTable1Offset, kVhdxRegionTable2Offset}) {
      if (off + kVhdxRegionTableSize > b.size()) continue;
      StoreLe32(&b[off + 4], 0);
      StoreLe32(&b[off + 4], Crc32c(&b[off], kVhdxRegionTableSize));
    }
  }
}

}  // namespace
}  // namespace asr::disk::fuzz

int main(int argc, char** argv) {
  using namespace asr::disk::fuzz;
  std::string kind = argc > 1 ? argv[1] : "vhdx";
  int iterations = argc > 2 ? std::atoi(argv[2]) : 2000;
  std::vector<Bytes> seeds = Seeds(kind);
  for (const Bytes& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
  std::mt19937_64 rng(0xA5A5 + kind.size());
  for (int i = 0; i < iterations; ++i) {
    Bytes b = seeds[static_cast<size_t>(i) % seeds.size()];
    Mutate(b, kind, rng);
    if (i % 2 == 0) FixChecksums(b, kind);
    LLVMFuzzerTestOneInput(b.data(), b.size());
  }
  std::printf("%s: %zu seeds, %d mutants, no crash\n", kind.c_str(), seeds.size(), iterations);
  return 0;
}
