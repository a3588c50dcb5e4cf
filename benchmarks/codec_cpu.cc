// codec_cpu: the CPU and bytes of the replication codecs alone, on a file of
// changed blocks (churn --changed-out), without disks, TLS or a receiver
// process, so parameter changes can be compared on a noisy machine.
//
//   bazel run --config=opt //benchmarks:codec_cpu -- changed.bin [runs]
//
// Compresses the file in 1 MiB groups (a cycle's BLOCK_GROUPs) with the
// classic codec (one zstd -1 frame per group) and the long codec (one stream
// for the file, LongRangeCompressor at level 1), alternating, `runs` times
// (default 5), decodes every result as a receiver does and checks it, and
// prints each codec's bytes and median CPU seconds (process CPU time:
// user+sys) for compressing and for decoding.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "asr/common/file_util.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/long_range_codec.h"

namespace {

using asr::replication::BlockCodec;
using asr::replication::BlockCompressor;
using asr::replication::BlockDecompressor;
using asr::replication::LongRangeCompressor;

constexpr size_t kGroup = 1 << 20;

double CpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Piece {
  uint8_t codec;
  std::string payload;
  size_t raw_size;
};

// Encodes `data` as the sender would; returns false (with a message) on error.
bool Encode(bool long_codec, const std::string& data, std::vector<Piece>* out) {
  out->clear();
  BlockCompressor classic(1);
  LongRangeCompressor stream;
  if (long_codec && !stream.Start(1, data.size()).ok()) {
    std::fprintf(stderr, "codec_cpu: cannot start the long codec\n");
    return false;
  }
  for (size_t pos = 0; pos < data.size(); pos += kGroup) {
    const size_t n = std::min(kGroup, data.size() - pos);
    const auto* p = reinterpret_cast<const uint8_t*>(data.data()) + pos;
    if (long_codec) {
      auto piece = stream.Next(p, n);
      if (!piece.ok()) {
        std::fprintf(stderr, "codec_cpu: %s\n", piece.status().ToString().c_str());
        return false;
      }
      out->push_back({static_cast<uint8_t>(BlockCodec::kZstdLong), std::string(*piece), n});
    } else {
      BlockCodec codec;
      absl::string_view body = classic.EncodeView(p, n, &codec);
      out->push_back({static_cast<uint8_t>(codec), std::string(body), n});
    }
  }
  return true;
}

bool Decode(const std::vector<Piece>& pieces, const std::string& data) {
  BlockDecompressor dec;
  std::string buf(kGroup, '\0');
  size_t pos = 0;
  for (const Piece& p : pieces) {
    auto* out = reinterpret_cast<uint8_t*>(buf.data());
    absl::Status s = dec.Decode(p.codec, p.payload, out, p.raw_size);
    if (!s.ok() || std::memcmp(out, data.data() + pos, p.raw_size) != 0) {
      std::fprintf(stderr, "codec_cpu: group at %zu does not decode to its data: %s\n", pos,
                   s.ToString().c_str());
      return false;
    }
    pos += p.raw_size;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  if (argc < 2 || argc > 3 || (argc == 3 && (!absl::SimpleAtoi(argv[2], &runs) || runs < 1))) {
    std::fprintf(stderr, "usage: codec_cpu CHANGED_BLOCKS_FILE [RUNS>=1]\n");
    return 2;
  }
  auto data = asr::ReadFileToString(argv[1]);
  if (!data.ok() || data->empty()) {
    std::fprintf(stderr, "codec_cpu: cannot read %s (%s); give a non-empty file\n", argv[1],
                 data.ok() ? "empty" : data.status().ToString().c_str());
    return 1;
  }
  const char* names[2] = {"classic", "long"};
  std::vector<double> enc[2], dec[2];
  size_t bytes[2] = {0, 0};
  std::vector<Piece> pieces;
  for (int run = 0; run < runs; ++run) {
    for (int c = 0; c < 2; ++c) {
      double t0 = CpuSeconds();
      if (!Encode(c == 1, *data, &pieces)) return 1;
      double t1 = CpuSeconds();
      if (!Decode(pieces, *data)) return 1;
      double t2 = CpuSeconds();
      enc[c].push_back(t1 - t0);
      dec[c].push_back(t2 - t1);
      bytes[c] = 0;
      for (const Piece& p : pieces) bytes[c] += p.payload.size();
    }
  }
  std::printf("%zu bytes in, %d runs (medians)\n", data->size(), runs);
  for (int c = 0; c < 2; ++c) {
    std::printf(
        "%-8s %12zu bytes (%.3fx classic)  compress %.3f s (%.2fx)  decode %.3f s (%.2fx)\n",
        names[c], bytes[c], static_cast<double>(bytes[c]) / bytes[0], Median(enc[c]),
        Median(enc[c]) / Median(enc[0]), Median(dec[c]), Median(dec[c]) / Median(dec[0]));
  }
  return 0;
}
