// A deterministic stand-in for libFuzzer (the toolchain is gcc) that runs a
// fuzz target in the test suite: it calls the linked LLVMFuzzerTestOneInput
// on every file of the committed seed corpus, then on a bounded number of
// seeded random mutations of them (bit flips, interesting integers, inserted
// and erased ranges, splices of two seeds, JSON-ish tokens), and stops early
// after a time budget so that a slow machine does not time the test out.
//
//   foo_fuzz_test asr/replication/fuzz/corpus/foo_fuzz 3000 [SECONDS]
//
// The corpus path is relative to the runfiles directory (bazel's working
// directory for a test). A crash is the test's failure; libFuzzer's own
// binaries (tools/fuzz.sh) search far deeper.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "asr/common/file_util.h"
#include "asr/platform/env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Bytes = std::vector<uint8_t>;

// The file's bytes; empty when it cannot be read.
Bytes FileBytes(const std::string& path) {
  absl::StatusOr<std::string> text = asr::ReadFileToString(path);
  if (!text.ok()) return Bytes();
  return Bytes(text->begin(), text->end());
}

std::vector<Bytes> ReadCorpus(const std::string& dir) {
  std::vector<std::string> names;
  auto listed = asr::platform::Env::Default()->ListDirectory(dir);
  if (listed.ok()) {
    for (const std::string& n : *listed) {
      if (!n.empty() && n[0] != '.') names.push_back(n);
    }
  }
  std::sort(names.begin(), names.end());
  std::vector<Bytes> out;
  for (const std::string& n : names) out.push_back(FileBytes(dir + "/" + n));
  return out;
}

const char* const kTokens[] = {"{",
                               "}",
                               "[",
                               "]",
                               "\"",
                               ":",
                               ",",
                               "null",
                               "true",
                               "-1",
                               "1e999",
                               "\\u0000",
                               "\"\":",
                               "0x",
                               "\xff",
                               "\xc3(",
                               "9999999999999999999999"};

void Mutate(Bytes& b, const std::vector<Bytes>& seeds, std::mt19937_64& rng) {
  const int count = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < count; ++i) {
    const size_t at = b.empty() ? 0 : rng() % b.size();
    switch (rng() % 9) {
      case 0:
        if (!b.empty()) b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        if (!b.empty()) b[at] = static_cast<uint8_t>(rng());
        break;
      case 2: {  // an interesting little-endian integer
        static const uint64_t kInts[] = {
            0,     1,    0x7f,    0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0x8000000000000000ull,
            ~0ull, 4096, 1u << 24};
        uint64_t v = kInts[rng() % (sizeof(kInts) / sizeof(kInts[0]))];
        size_t w = size_t{1} << (rng() % 4);
        for (size_t k = 0; k < w && at + k < b.size(); ++k)
          b[at + k] = static_cast<uint8_t>(v >> (8 * k));
        break;
      }
      case 3: {  // insert random bytes
        size_t n = 1 + rng() % 16;
        Bytes ins(n);
        for (auto& c : ins) c = static_cast<uint8_t>(rng());
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
        break;
      }
      case 4:  // erase a range
        if (!b.empty()) {
          size_t n = 1 + rng() % std::min<size_t>(b.size() - at, 64);
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                  b.begin() + static_cast<std::ptrdiff_t>(at + n));
        }
        break;
      case 5:  // truncate
        if (rng() % 3 == 0) b.resize(at);
        break;
      case 6: {  // duplicate a range
        if (b.empty()) break;
        size_t n = 1 + rng() % std::min<size_t>(b.size() - at, 256);
        Bytes copy(b.begin() + static_cast<std::ptrdiff_t>(at),
                   b.begin() + static_cast<std::ptrdiff_t>(at + n));
        size_t to = rng() % (b.size() + 1);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(to), copy.begin(), copy.end());
        break;
      }
      case 7: {  // splice: our head, another seed's tail
        const Bytes& o = seeds[rng() % seeds.size()];
        if (o.empty()) break;
        size_t from = rng() % o.size();
        b.resize(at);
        b.insert(b.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
        break;
      }
      case 8: {  // a token
        const char* t = kTokens[rng() % (sizeof(kTokens) / sizeof(kTokens[0]))];
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), t, t + std::strlen(t));
        break;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS] [SECONDS]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 3000;
  const double budget = argc > 3 ? std::atof(argv[3]) : 30.0;
  std::vector<Bytes> seeds = ReadCorpus(dir);
  if (seeds.empty()) {
    std::fprintf(stderr, "%s: no seed inputs (run from the runfiles directory)\n", dir.c_str());
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  for (const Bytes& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
  std::mt19937_64 rng(0xA5A5);
  int done = 0;
  for (; done < iterations; ++done) {
    Bytes b = seeds[rng() % seeds.size()];
    Mutate(b, seeds, rng);
    LLVMFuzzerTestOneInput(b.data(), b.size());
    if (done % 64 == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > budget) {
      break;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu seeds, %d mutants in %.1f s, no crash\n", dir.c_str(), seeds.size(), done,
              secs);
  return 0;
}
