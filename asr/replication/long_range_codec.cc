#include "asr/replication/long_range_codec.h"

// ZSTD_createCCtx_advanced / ZSTD_createDCtx_advanced and ZSTD_customMem:
// zstd's "experimental" section, exported by the shared library and
// unchanged since zstd 1.0.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr/platform/env.h"

namespace asr::replication {

struct LongRangeCompressor::Context {
  ZSTD_CCtx* cctx = nullptr;
  uint8_t* buffer = nullptr;  // StartInPlace's, kept for the next cycle
  size_t buffer_bytes = 0;
};

namespace {

// The largest window (cycles up to 16 MiB) that is searched with the
// larger tables at levels 1-2 (see Start).
constexpr int kLargeTableMaxWindowLog = 24;

// The stream's contexts hold the window (up to 128 MiB, plus the input
// buffer the compressor copies into and the match tables), touched once
// per cycle in a fresh process: in 4 KiB pages that is one page fault per
// 4 KiB, and every match reaching back megabytes is a TLB miss. Their large
// allocations are 2 MiB-aligned and advised for transparent huge pages
// (best effort: where the system has none, they are ordinary pages). On
// the churn benchmark's blocks this took the codec's compression from
// 2.0x to 1.4x and its decoding from 2.0x to 1.1x of the classic codec's
// CPU at 5% churn (64 MiB window), with 1/6 of the page faults.
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeFrom = size_t{1} << 20;  // smaller ones: 64-byte aligned

void* StreamAlloc(void*, size_t size) {
  if (size < kHugeFrom) return platform::AllocateAligned(64, (size + 63) / 64 * 64);
  const size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
  void* p = platform::AllocateAligned(kHugePage, rounded);
  if (p != nullptr) platform::AdviseHugePages(p, rounded);
  return p;
}

void StreamFree(void*, void* p) {
  if (p != nullptr) platform::FreeAligned(p);
}

constexpr ZSTD_customMem kStreamMem = {StreamAlloc, StreamFree, nullptr};

// The idle contexts of one kind (compressors or decoders) that finished
// cycles left, most recent last, within a byte budget (see
// SetLongCodecIdleBudget). A cycle's context is as large as its window
// (16 MiB at 1% churn of 1 GiB, 64 MiB at 5%): a fresh one is mapped and
// zeroed page by page by the kernel, which on a receiver serving cycle
// after cycle cost more than decoding the cycle (1% churn: 30-75 ms of
// receiver CPU per cycle, 20-70% of it zeroing pages, against 22-38 ms with
// the decoder reused). A reused one has its window mapped.
class IdleContexts {
 public:
  IdleContexts(size_t (*size_of)(void*), void (*free_ctx)(void*))
      : size_of_(size_of), free_(free_ctx) {}

  void* Take() {
    absl::MutexLock l(&mu_);
    if (idle_.empty()) return nullptr;
    auto [ctx, bytes] = idle_.back();
    idle_.pop_back();
    bytes_ -= bytes;
    return ctx;
  }

  // Keeps `ctx` for a later cycle, or frees it (and older ones) where the
  // budget would be exceeded.
  void Put(void* ctx) {
    const size_t bytes = size_of_(ctx);
    std::deque<void*> drop;
    {
      absl::MutexLock l(&mu_);
      const size_t budget = budget_.load(std::memory_order_relaxed);
      if (bytes > budget) {
        drop.push_back(ctx);
      } else {
        idle_.push_back({ctx, bytes});
        bytes_ += bytes;
      }
      EvictOver(budget, &drop);
    }
    for (void* d : drop) free_(d);
  }

  void SetBudget(size_t bytes) {
    budget_.store(bytes, std::memory_order_relaxed);
    std::deque<void*> drop;
    {
      absl::MutexLock l(&mu_);
      EvictOver(bytes, &drop);
    }
    for (void* d : drop) free_(d);
  }

  LongCodecIdleStats Stats() {
    absl::MutexLock l(&mu_);
    return {idle_.size(), bytes_};
  }

 private:
  // The oldest idle contexts, into *drop, until the rest fit `budget`.
  void EvictOver(size_t budget, std::deque<void*>* drop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (bytes_ > budget && !idle_.empty()) {
      drop->push_back(idle_.front().first);
      bytes_ -= idle_.front().second;
      idle_.pop_front();
    }
  }

  size_t (*const size_of_)(void*);
  void (*const free_)(void*);
  std::atomic<size_t> budget_{kDefaultLongCodecIdleBudget};
  absl::Mutex mu_;
  std::deque<std::pair<void*, size_t>> idle_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

size_t SizeOfCompressor(void* c);
void FreeCompressor(void* c);
size_t SizeOfDCtx(void* d) { return ZSTD_sizeof_DCtx(static_cast<ZSTD_DCtx*>(d)); }
void FreeDCtx(void* d) { ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(d)); }

// Never destroyed: contexts may be released by threads that outlive main.
IdleContexts& IdleCompressors() {
  static IdleContexts* idle = new IdleContexts(SizeOfCompressor, FreeCompressor);
  return *idle;
}
IdleContexts& IdleDecoders() {
  static IdleContexts* idle = new IdleContexts(SizeOfDCtx, FreeDCtx);
  return *idle;
}

size_t SizeOfCompressor(void* c) {
  auto* ctx = static_cast<LongRangeCompressor::Context*>(c);
  return ZSTD_sizeof_CCtx(ctx->cctx) + ctx->buffer_bytes;
}

void FreeCompressor(void* c) {
  auto* ctx = static_cast<LongRangeCompressor::Context*>(c);
  ZSTD_freeCCtx(ctx->cctx);
  StreamFree(nullptr, ctx->buffer);
  delete ctx;
}

absl::Status ZstdError(const char* what, size_t code) {
  return absl::InternalError(absl::StrCat("zstd ", what, ": ", ZSTD_getErrorName(code)));
}

}  // namespace

const char* ReplicationCodecName(ReplicationCodec c) {
  switch (c) {
    case ReplicationCodec::kAuto:
      return "auto";
    case ReplicationCodec::kClassic:
      return "classic";
    case ReplicationCodec::kLong:
      return "long";
  }
  return "unknown";
}

absl::StatusOr<ReplicationCodec> ParseReplicationCodec(absl::string_view name) {
  if (name == "auto") return ReplicationCodec::kAuto;
  if (name == "classic") return ReplicationCodec::kClassic;
  if (name == "long") return ReplicationCodec::kLong;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown codec \"", name,
                   "\": use auto (long after the initial copy), classic (one zstd frame per "
                   "block group, as before protocol 6) or long (one zstd stream per cycle)"));
}

int LongWindowLog(uint64_t expected_bytes) {
  int log = kMinLongWindowLog;
  while (log < kMaxLongWindowLog && (uint64_t{1} << log) < expected_bytes) ++log;
  return log;
}

void SetLongCodecIdleBudget(size_t bytes) {
  IdleCompressors().SetBudget(bytes);
  IdleDecoders().SetBudget(bytes);
}

LongCodecIdleStats IdleLongCompressors() { return IdleCompressors().Stats(); }
LongCodecIdleStats IdleLongDecoders() { return IdleDecoders().Stats(); }

LongRangeCompressor::~LongRangeCompressor() {
  if (ctx_ != nullptr) IdleCompressors().Put(ctx_);
}

absl::Status LongRangeCompressor::Start(int level, uint64_t expected_bytes) {
  return StartStream(level, expected_bytes, /*in_place=*/false);
}

absl::Status LongRangeCompressor::StartInPlace(int level, uint64_t capacity) {
  if (capacity > (uint64_t{1} << kMaxLongWindowLog)) {
    return absl::InvalidArgumentError(absl::StrCat("an in-place stream holds at most ",
                                                   uint64_t{1} << kMaxLongWindowLog,
                                                   " bytes (its window), not ", capacity));
  }
  return StartStream(level, capacity, /*in_place=*/true);
}

uint8_t* LongRangeCompressor::in_place_buffer() const { return in_place_ ? ctx_->buffer : nullptr; }

absl::Status LongRangeCompressor::StartStream(int level, uint64_t expected_bytes, bool in_place) {
  if (level == 0) {
    return absl::InvalidArgumentError(
        "the long codec compresses; with compression off (level 0) use the classic codec");
  }
  window_log_ = 0;  // (not started until the end)
  if (ctx_ == nullptr) ctx_ = static_cast<Context*>(IdleCompressors().Take());
  if (ctx_ == nullptr) {
    ctx_ = new Context;
    ctx_->cctx = ZSTD_createCCtx_advanced(kStreamMem);
    if (ctx_->cctx == nullptr) {
      delete ctx_;
      ctx_ = nullptr;
      return absl::ResourceExhaustedError("cannot allocate a zstd context");
    }
  }
  if (in_place && ctx_->buffer_bytes < expected_bytes) {
    StreamFree(nullptr, ctx_->buffer);
    ctx_->buffer = nullptr;
    ctx_->buffer_bytes = 0;
    // (at least 1 byte, so that an empty stream has a buffer too)
    ctx_->buffer =
        static_cast<uint8_t*>(StreamAlloc(nullptr, std::max<uint64_t>(1, expected_bytes)));
    if (ctx_->buffer == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot allocate ", expected_bytes, " bytes for the cycle's blocks"));
    }
    ctx_->buffer_bytes = std::max<uint64_t>(1, expected_bytes);
  }
  in_place_ = in_place;
  capacity_ = in_place ? expected_bytes : 0;
  auto* c = ctx_->cctx;
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  const int window_log = LongWindowLog(expected_bytes);
  bytes_in_ = bytes_out_ = 0;
  // Levels 1 and 2 are sized for a 512 KiB window: with a cycle's window of
  // many MiB their tables forget most of it. Cycles up to 16 MiB (1% churn
  // of a 1 GiB disk) search it with zstd's double-fast matcher and larger
  // tables instead: 2^18 entries for 8-byte matches anywhere in the window,
  // 2^14 for 5-byte ones nearby, and no long-distance matching. On the
  // churn benchmark's 1% blocks (three seeds) that made 0.807x of the floor
  // where long-distance matching with level 1's matcher over a 2^17 table
  // made 0.819x, for 0.79x of its compression time (long-distance matching
  // alone was a third of it). Larger cycles keep the level's matcher and
  // long-distance matching: there most of what repeats is far away, and the
  // larger tables (cache misses on every probe) cost 1.5-1.9x the
  // compression time for 1-6% fewer bytes (5% and 25% churn: 0.65x/0.31x of
  // the floor instead of 0.61x/0.29x).
  const bool searched = level >= 1 && level <= 2 && window_log <= kLargeTableMaxWindowLog;
  struct {
    ZSTD_cParameter p;
    int v;
  } params[] = {
      {ZSTD_c_compressionLevel, level},
      {ZSTD_c_windowLog, window_log},
      {ZSTD_c_enableLongDistanceMatching, searched ? 0 : 1},
      {ZSTD_c_checksumFlag, 0},     // each group carries a CRC-32C
      {ZSTD_c_contentSizeFlag, 0},  // unknown: the stream never ends
      // In place: the window is the caller's buffer, which grows at its end.
      {ZSTD_c_stableInBuffer, in_place ? 1 : 0},
  };
  for (const auto& [p, v] : params) {
    size_t r = ZSTD_CCtx_setParameter(c, p, v);
    if (ZSTD_isError(r)) return ZstdError("parameter", r);
  }
  if (searched) {
    struct {
      ZSTD_cParameter p;
      int v;
    } tables[] = {
        {ZSTD_c_strategy, ZSTD_dfast},
        {ZSTD_c_hashLog, 18},
        {ZSTD_c_chainLog, 14},
        {ZSTD_c_minMatch, 5},
    };
    for (const auto& [p, v] : tables) {
      size_t r = ZSTD_CCtx_setParameter(c, p, v);
      if (ZSTD_isError(r)) return ZstdError("parameter", r);
    }
  }
  window_log_ = window_log;
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> LongRangeCompressor::Next(const uint8_t* data, size_t size) {
  if (ctx_ == nullptr || window_log_ == 0) {
    return absl::FailedPreconditionError("LongRangeCompressor::Next before Start");
  }
  if (in_place_) {
    return absl::FailedPreconditionError(
        "LongRangeCompressor::Next on an in-place stream: write the bytes into in_place_buffer() "
        "and call NextInPlace");
  }
  return Compress(data, size);
}

absl::StatusOr<absl::string_view> LongRangeCompressor::NextInPlace(size_t size) {
  if (ctx_ == nullptr || window_log_ == 0 || !in_place_) {
    return absl::FailedPreconditionError("LongRangeCompressor::NextInPlace before StartInPlace");
  }
  if (size > capacity_ - bytes_in_) {
    return absl::OutOfRangeError(absl::StrCat("an in-place stream of ", capacity_,
                                              " bytes cannot take ", size, " more after ",
                                              bytes_in_));
  }
  return Compress(ctx_->buffer, size);
}

// `src`: the bytes (copied by zstd), or in place the buffer's start, of
// which zstd reads [bytes_in_, bytes_in_ + size).
absl::StatusOr<absl::string_view> LongRangeCompressor::Compress(const uint8_t* src, size_t size) {
  auto* c = ctx_->cctx;
  size_t bound = ZSTD_compressBound(size) + 64;
  if (out_.size() < bound) out_.resize(bound);
  ZSTD_inBuffer in =
      in_place_ ? ZSTD_inBuffer{src, bytes_in_ + size, bytes_in_} : ZSTD_inBuffer{src, size, 0};
  ZSTD_outBuffer out{out_.data(), out_.size(), 0};
  for (;;) {
    size_t left = ZSTD_compressStream2(c, &out, &in, ZSTD_e_flush);
    if (ZSTD_isError(left)) return ZstdError("compress", left);
    if (left == 0 && in.pos == in.size) break;
    if (out.pos == out.size) {  // (not expected with the bound) grow and go on
      out_.resize(out_.size() * 2);
      out.dst = out_.data();
      out.size = out_.size();
    }
  }
  bytes_in_ += size;
  bytes_out_ += out.pos;
  return absl::string_view(out_.data(), out.pos);
}

void* NewLongStreamDecoder() {
  if (void* idle = IdleDecoders().Take()) {
    // A finished cycle's: its stream state goes, its window buffer and its
    // limit (set below) stay.
    ZSTD_DCtx_reset(static_cast<ZSTD_DCtx*>(idle), ZSTD_reset_session_only);
    return idle;
  }
  ZSTD_DCtx* d = ZSTD_createDCtx_advanced(kStreamMem);
  if (d == nullptr) return nullptr;
  // A peer cannot make this side hold a larger window than a sender of
  // this version would ask for.
  ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, kMaxLongWindowLog);
  return d;
}

void ReleaseLongStreamDecoder(void* dctx) {
  if (dctx != nullptr) IdleDecoders().Put(dctx);
}

absl::Status DecodeLongPiece(void* dctx, absl::string_view piece, uint8_t* out, size_t raw_size) {
  auto* d = static_cast<ZSTD_DCtx*>(dctx);
  ZSTD_inBuffer in{piece.data(), piece.size(), 0};
  ZSTD_outBuffer o{out, raw_size, 0};
  while (in.pos < in.size) {
    const size_t in_before = in.pos, out_before = o.pos;
    size_t r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r)) {
      return absl::DataLossError(
          absl::StrCat("corrupt long-range zstd block group: ", ZSTD_getErrorName(r)));
    }
    if (in.pos == in_before && o.pos == out_before) {
      return absl::DataLossError(absl::StrCat("long-range zstd block group decodes to more than ",
                                              raw_size, " announced bytes"));
    }
  }
  if (o.pos != raw_size) {
    return absl::DataLossError(absl::StrCat("long-range zstd block group decoded to ", o.pos,
                                            " bytes where ", raw_size, " were announced"));
  }
  return absl::OkStatus();
}

}  // namespace asr::replication
