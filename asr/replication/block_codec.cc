#include "asr/replication/block_codec.h"

#include <zstd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "asr/replication/long_range_codec.h"

namespace asr::replication {

BlockCompressor::BlockCompressor(int level) : level_(level) {
  if (level_ != 0) cctx_ = ZSTD_createCCtx();
}

BlockCompressor::~BlockCompressor() {
  if (cctx_ != nullptr) ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
}

void BlockCompressor::Encode(const uint8_t* data, size_t size, EncodedBlock* out) {
  if (cctx_ != nullptr) {
    size_t bound = ZSTD_compressBound(size);
    out->payload.resize(bound);
    size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), out->payload.data(), bound, data,
                                 size, level_);
    if (!ZSTD_isError(n) && n < size) {
      out->payload.resize(n);
      out->codec = BlockCodec::kZstd;
      return;
    }
  }
  out->codec = BlockCodec::kRaw;
  out->payload.assign(reinterpret_cast<const char*>(data), size);
}

absl::string_view BlockCompressor::EncodeView(const uint8_t* data, size_t size, BlockCodec* codec) {
  if (cctx_ != nullptr) {
    size_t bound = ZSTD_compressBound(size);
    if (buf_size_ < bound) {
      buf_.reset(new char[bound]);
      buf_size_ = bound;
    }
    size_t n =
        ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), buf_.get(), bound, data, size, level_);
    if (!ZSTD_isError(n) && n < size) {
      *codec = BlockCodec::kZstd;
      return absl::string_view(buf_.get(), n);
    }
  }
  *codec = BlockCodec::kRaw;
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

absl::Status DecodeBlock(uint8_t codec, absl::string_view payload, size_t raw_size,
                         std::string* out) {
  switch (static_cast<BlockCodec>(codec)) {
    case BlockCodec::kRaw:
      if (payload.size() != raw_size) {
        return absl::DataLossError(absl::StrCat("raw block of ", payload.size(), " bytes where ",
                                                raw_size, " were announced"));
      }
      out->assign(payload.data(), payload.size());
      return absl::OkStatus();
    case BlockCodec::kZstd: {
      out->resize(raw_size);
      size_t n = ZSTD_decompress(out->data(), raw_size, payload.data(), payload.size());
      if (ZSTD_isError(n)) {
        return absl::DataLossError(absl::StrCat("corrupt zstd block: ", ZSTD_getErrorName(n)));
      }
      if (n != raw_size) {
        return absl::DataLossError(absl::StrCat("zstd block decompressed to ", n, " bytes where ",
                                                raw_size, " were announced"));
      }
      return absl::OkStatus();
    }
    case BlockCodec::kZstdLong:
      return absl::InvalidArgumentError(
          "a long-range (codec 2) block decodes only within its cycle's stream");
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown block codec ", codec));
}

BlockDecompressor::BlockDecompressor() : dctx_(ZSTD_createDCtx()) {}

BlockDecompressor::~BlockDecompressor() {
  ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_));
  ReleaseLongStreamDecoder(stream_dctx_);
}

absl::Status BlockDecompressor::Decode(uint8_t codec, absl::string_view payload, uint8_t* out,
                                       size_t raw_size) {
  switch (static_cast<BlockCodec>(codec)) {
    case BlockCodec::kRaw:
      if (payload.size() != raw_size) {
        return absl::DataLossError(absl::StrCat("raw block of ", payload.size(), " bytes where ",
                                                raw_size, " were announced"));
      }
      std::memcpy(out, payload.data(), raw_size);
      return absl::OkStatus();
    case BlockCodec::kZstd: {
      size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), out, raw_size, payload.data(),
                                     payload.size());
      if (ZSTD_isError(n)) {
        return absl::DataLossError(absl::StrCat("corrupt zstd block: ", ZSTD_getErrorName(n)));
      }
      if (n != raw_size) {
        return absl::DataLossError(absl::StrCat("zstd block decompressed to ", n, " bytes where ",
                                                raw_size, " were announced"));
      }
      return absl::OkStatus();
    }
    case BlockCodec::kZstdLong:
      if (stream_dctx_ == nullptr) {
        stream_dctx_ = NewLongStreamDecoder();
        if (stream_dctx_ == nullptr) {
          return absl::ResourceExhaustedError("cannot allocate a zstd context");
        }
      }
      return DecodeLongPiece(stream_dctx_, payload, out, raw_size);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown block codec ", codec));
}

}  // namespace asr::replication
