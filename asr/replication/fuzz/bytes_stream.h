// asr/replication/fuzz/bytes_stream.h: a net::ByteStream over a fixed byte
// string, for the fuzz targets: reads consume the bytes (then a clean end of
// stream, or Unavailable for a read cut short, as a socket reports), writes
// are counted and dropped. RepairFrames makes fuzzed frames pass their
// checksums, so that inputs reach the decoders behind them.
#ifndef ASR_REPLICATION_FUZZ_BYTES_STREAM_H_
#define ASR_REPLICATION_FUZZ_BYTES_STREAM_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/common/crc32c.h"
#include "asr/net/stream.h"
#include "asr/replication/protocol.h"

namespace asr::replication::fuzz {

// Little-endian 32-bit load and store, as the frame header holds them.
inline uint32_t Load32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline void Store32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Recomputes each frame's payload and header CRC-32C in place.
inline void RepairFrames(std::string& s) {
  size_t pos = 0;
  while (s.size() - pos >= kFrameHeaderSize) {
    uint8_t* h = reinterpret_cast<uint8_t*>(&s[pos]);
    size_t len = Load32(h + 8);
    size_t avail = s.size() - pos - kFrameHeaderSize;
    if (len > avail) len = avail;
    Store32(h + 12, Crc32c(h + kFrameHeaderSize, len));
    Store32(h + 16, Crc32c(h, 16));
    pos += kFrameHeaderSize + len;
  }
}

class BytesStream final : public net::ByteStream {
 public:
  BytesStream(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  absl::Status WriteAll(const void* data, size_t size) override {
    written_ += size;
    return absl::OkStatus();
  }
  absl::Status ReadExactly(void* out, size_t size) override {
    if (size == 0) return absl::OkStatus();
    if (pos_ == size_) return absl::OutOfRangeError("end of stream");
    if (size_ - pos_ < size) {
      pos_ = size_;
      return absl::UnavailableError("connection broke off");
    }
    std::memcpy(out, data_ + pos_, size);
    pos_ += size;
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> ReadSome(void* out, size_t size) override {
    size_t n = std::min(size, size_ - pos_);
    if (n > 0) std::memcpy(out, data_ + pos_, n);
    pos_ += n;
    return n;
  }
  absl::Status Close() override { return absl::OkStatus(); }
  std::string PeerDescription() const override { return "fuzz"; }
  std::string PeerIdentity() const override { return "fuzz-host"; }

  size_t written() const { return written_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t written_ = 0;
};

}  // namespace asr::replication::fuzz

#endif  // ASR_REPLICATION_FUZZ_BYTES_STREAM_H_
