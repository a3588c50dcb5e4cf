// asr/replication/block_codec.h: compression of one replication block with
// zstd (or none), shared by the sender, the receiver's journal and the
// recovery points' reverse deltas.
//
//   BlockCompressor c(/*level=*/1);            // level 0: store raw
//   EncodedBlock e = c.Encode(data, size);     // codec + payload
//   std::string raw;
//   ASR_RETURN_IF_ERROR(DecodeBlock(e.codec, e.payload, size, &raw));
#ifndef ASR_REPLICATION_BLOCK_CODEC_H_
#define ASR_REPLICATION_BLOCK_CODEC_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace asr::replication {

enum class BlockCodec : uint8_t {
  kRaw = 0,   // payload is the block
  kZstd = 1,  // payload is one zstd frame
  // Protocol 6 and later: the payload is the next flushed piece of the
  // cycle's one zstd stream (long_range_codec.h); it decodes only after
  // every earlier piece of the same cycle, in order.
  kZstdLong = 2,
};

struct EncodedBlock {
  BlockCodec codec = BlockCodec::kRaw;
  std::string payload;
};

// Compresses blocks with a reusable zstd context; falls back to kRaw when
// compression is off or does not shrink the block.
// Thread safety: none; use one per thread.
class BlockCompressor {
 public:
  // level 0 disables compression; 1..19 are zstd levels (negative: fast modes).
  explicit BlockCompressor(int level);
  ~BlockCompressor();
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;

  void Encode(const uint8_t* data, size_t size, EncodedBlock* out);
  // As Encode, without copies: the result views this compressor's buffer
  // (valid until the next call) or, for kRaw, `data` itself.
  absl::string_view EncodeView(const uint8_t* data, size_t size, BlockCodec* codec);

 private:
  int level_;
  void* cctx_ = nullptr;  // ZSTD_CCtx
  std::unique_ptr<char[]> buf_;
  size_t buf_size_ = 0;
};

// Decodes `payload` into exactly `raw_size` bytes at *out. DataLoss when the
// payload is corrupt or has the wrong size; InvalidArgument for an unknown codec.
absl::Status DecodeBlock(uint8_t codec, absl::string_view payload, size_t raw_size,
                         std::string* out);

// Decodes blocks with a reusable zstd context (ZSTD_decompress would set up
// a new one per block) straight into the caller's buffer.
// Thread safety: none; use one per thread.
class BlockDecompressor {
 public:
  BlockDecompressor();
  ~BlockDecompressor();
  BlockDecompressor(const BlockDecompressor&) = delete;
  BlockDecompressor& operator=(const BlockDecompressor&) = delete;

  // As DecodeBlock, into the `raw_size` bytes at `out`. kZstdLong payloads
  // continue the stream of the earlier ones this decompressor decoded (a
  // cycle's, in the order they were sent); DataLoss when one does not.
  absl::Status Decode(uint8_t codec, absl::string_view payload, uint8_t* out, size_t raw_size);

 private:
  void* dctx_ = nullptr;         // ZSTD_DCtx
  void* stream_dctx_ = nullptr;  // ZSTD_DCtx of the kZstdLong stream, made on first use
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_BLOCK_CODEC_H_
