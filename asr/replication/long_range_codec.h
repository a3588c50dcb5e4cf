// asr/replication/long_range_codec.h: the "long" codec of protocol 6: one
// zstd stream per cycle, whose window spans the cycle (searched with large
// match tables, or long-distance matching for large cycles), cut into
// flushed pieces, one piece per BLOCK_GROUP (codec kZstdLong).
//
// Why: the classic codec compresses each group (up to 1 MiB of blocks) as
// its own zstd frame, so data that repeats across groups (a file copied
// inside the guest, the same content written to several places, blocks
// rewritten with data the cycle already carries) is sent again each time.
// One stream per cycle lets a group refer to any byte sent earlier in the
// same cycle, up to the window (the cycle's changed bytes, rounded up to a
// power of two, at most 2^kMaxLongWindowLog bytes).
//
// Costs: the pieces are compressed in the order they are sent, on one
// thread (the classic codec uses every worker), and each side holds the
// window in memory for the cycle. The receiver decodes the pieces in order,
// which it does anyway (its journal replays in order), so crash recovery
// and the apply are unchanged; a piece never decodes on its own.
//
//   LongRangeCompressor c;
//   ASR_RETURN_IF_ERROR(c.Start(/*level=*/1, /*expected_bytes=*/changed));
//   ASR_ASSIGN_OR_RETURN(absl::string_view piece, c.Next(data, size));
//   ... receiver: BlockDecompressor::Decode(kZstdLong, piece, out, size)
#ifndef ASR_REPLICATION_LONG_RANGE_CODEC_H_
#define ASR_REPLICATION_LONG_RANGE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::replication {

// The codec a sender uses for its BLOCK_GROUPs (SendOptions::codec).
enum class ReplicationCodec : uint8_t {
  kAuto = 0,     // kLong for cycles after the initial copy, kClassic for it
  kClassic = 1,  // one zstd frame per group, compressed on every worker
  kLong = 2,     // this file's stream, compressed in sending order
};
const char* ReplicationCodecName(ReplicationCodec c);  // "auto", "classic", "long"
// InvalidArgument naming the choices for anything else.
absl::StatusOr<ReplicationCodec> ParseReplicationCodec(absl::string_view name);

// The largest window (log2 bytes) a sender asks for and a receiver accepts:
// 128 MiB, zstd's default decoder limit.
inline constexpr int kMaxLongWindowLog = 27;
inline constexpr int kMinLongWindowLog = 20;

// The window for a cycle expected to carry `bytes` changed bytes.
int LongWindowLog(uint64_t expected_bytes);

// Thread safety: none (one per cycle, on the thread that sends).
class LongRangeCompressor {
 public:
  LongRangeCompressor() = default;
  ~LongRangeCompressor();
  LongRangeCompressor(const LongRangeCompressor&) = delete;
  LongRangeCompressor& operator=(const LongRangeCompressor&) = delete;

  // Starts the stream (a finished cycle's context where one is idle): zstd `level` (1..19,
  // negative: fast modes; not 0) with a window for `expected_bytes`. InvalidArgument for level 0.
  // zstd copies what Next compresses into a window buffer of its own.
  absl::Status Start(int level, uint64_t expected_bytes);
  // Compresses the next `size` bytes and flushes: the piece (valid until the
  // next call) decodes, after all earlier pieces, to exactly these bytes.
  absl::StatusOr<absl::string_view> Next(const uint8_t* data, size_t size);

  // Starts a stream whose input is written in place: into in_place_buffer()
  // (`capacity` bytes, at most 2^kMaxLongWindowLog, so the window holds all
  // of it), in stream order, and never changed once compressed. zstd then
  // finds its matches in that buffer and keeps no window of its own: for a
  // sender reading the cycle's blocks straight into the buffer that is one
  // copy of the cycle in memory instead of three (read buffers, queued
  // groups, zstd's window), each in fresh pages a new process pays the
  // kernel to zero. The buffer stays with the context for the next cycle.
  absl::Status StartInPlace(int level, uint64_t capacity);
  uint8_t* in_place_buffer() const;
  // Compresses the next `size` bytes of the buffer (at in_place_buffer() +
  // bytes_in()) and flushes, as Next. OutOfRange past the capacity.
  absl::StatusOr<absl::string_view> NextInPlace(size_t size);

  uint64_t window_bytes() const { return window_log_ == 0 ? 0 : uint64_t{1} << window_log_; }
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

  // A zstd context and the in-place buffer it was last given (internal).
  struct Context;

 private:
  absl::Status StartStream(int level, uint64_t expected_bytes, bool in_place);
  absl::StatusOr<absl::string_view> Compress(const uint8_t* src, size_t size);

  Context* ctx_ = nullptr;
  bool in_place_ = false;
  uint64_t capacity_ = 0;  // in place: the caller's bytes
  int window_log_ = 0;
  std::string out_;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

// A ZSTD_DCtx* for a cycle's stream (give it back with
// ReleaseLongStreamDecoder): its window on huge pages where the system has
// them, at most 2^kMaxLongWindowLog bytes; a finished cycle's where one is
// idle. nullptr when memory is short.
void* NewLongStreamDecoder();
// Keeps `dctx` (from NewLongStreamDecoder, in any state) for a later cycle
// within the idle budget, or frees it. nullptr: nothing.
void ReleaseLongStreamDecoder(void* dctx);

// Contexts of finished cycles (a compressor's, a decoder's) are kept for
// the next cycle of this process, up to a budget of bytes per kind: a
// fresh context's window is mapped and zeroed by the kernel page by page,
// which costs a receiver serving cycle after cycle (or a site service's
// sender) more CPU than decoding a small cycle. The default keeps the
// contexts of cycles up to 64 MiB of changed blocks; 0 keeps none.
// Thread-safe.
inline constexpr size_t kDefaultLongCodecIdleBudget = size_t{80} << 20;
void SetLongCodecIdleBudget(size_t bytes);
struct LongCodecIdleStats {
  size_t contexts = 0;
  size_t bytes = 0;
};
LongCodecIdleStats IdleLongCompressors();
LongCodecIdleStats IdleLongDecoders();

// Decodes one piece with the stream context `dctx` (a ZSTD_DCtx* that has
// decoded the cycle's earlier pieces) into exactly `raw_size` bytes at
// `out`. DataLoss when it is corrupt, out of order or of another size.
absl::Status DecodeLongPiece(void* dctx, absl::string_view piece, uint8_t* out, size_t raw_size);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_LONG_RANGE_CODEC_H_
