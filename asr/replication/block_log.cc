#include "asr/replication/block_log.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/byte_codec.h"
#include "asr/replication/protocol.h"

namespace asr::replication {
namespace {

constexpr char kMagic[8] = {'A', 'S', 'R', 'B', 'L', 'O', 'G', '1'};
constexpr size_t kHeaderSize = 36;
constexpr size_t kRecordHeaderSize = 34;
constexpr size_t kBufferLimit = 1 << 20;

using platform::AddContext;

// Exactly `size` bytes at `offset`; fewer is OutOfRange (as PreadAll says it).
absl::Status ReadExactly(const platform::File& file, void* buf, size_t size, uint64_t offset,
                         absl::string_view what) {
  absl::StatusOr<size_t> n = platform::ReadFully(file, offset, buf, size);
  if (!n.ok()) return AddContext(n.status(), absl::StrCat("cannot read ", what));
  if (*n < size) {
    return absl::OutOfRangeError(absl::StrCat("unexpected end of ", what, " at offset ",
                                              offset + *n, " (wanted ", size, " bytes at offset ",
                                              offset, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

BlockLogWriter::~BlockLogWriter() { Abandon(); }

void BlockLogWriter::Abandon() {
  if (file_ != nullptr) {
    file_.reset();
    (void)platform::Env::Default()->Unlink(tmp_);
  }
}

absl::Status BlockLogWriter::Create(const std::string& path, uint64_t cycle, uint32_t block_size,
                                    uint64_t virtual_size) {
  path_ = path;
  tmp_ = path + ".tmp";
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kWrite;
  o.create = o.truncate = true;
  o.mode = 0644;
  absl::StatusOr<std::unique_ptr<platform::File>> f = platform::Env::Default()->Open(tmp_, o);
  if (!f.ok()) return AddContext(f.status(), tmp_);
  file_ = std::move(*f);
  ByteWriter w;
  w.Bytes(kMagic, 8);
  w.U32(1);
  w.U64(cycle);
  w.U32(block_size);
  w.U64(virtual_size);
  w.U32(Crc32c(w.data().data(), w.data().size()));
  buf_ = w.Release();
  return absl::OkStatus();
}

absl::Status BlockLogWriter::FlushBuffer() {
  if (buf_.empty()) return absl::OkStatus();
  ASR_RETURN_IF_ERROR(AddContext(platform::WriteFully(*file_, buf_.data(), buf_.size()),
                                 absl::StrCat("cannot write ", tmp_)));
  buf_.clear();
  return absl::OkStatus();
}

absl::Status BlockLogWriter::Append(RecordType type, uint64_t offset, uint64_t length,
                                    uint8_t codec, uint32_t raw_crc, absl::string_view payload) {
  if (file_ == nullptr) return absl::FailedPreconditionError("block log is not open for writing");
  ByteWriter w;
  w.U8(static_cast<uint8_t>(type));
  w.U64(offset);
  w.U64(length);
  w.U8(codec);
  w.U32(raw_crc);
  w.U32(static_cast<uint32_t>(payload.size()));
  w.U32(Crc32c(payload.data(), payload.size()));
  w.U32(Crc32c(w.data().data(), w.data().size()));
  buf_ += w.data();
  buf_.append(payload.data(), payload.size());
  bytes_ += w.data().size() + payload.size();
  if (buf_.size() >= kBufferLimit) ASR_RETURN_IF_ERROR(FlushBuffer());
  return absl::OkStatus();
}

absl::Status BlockLogWriter::AppendBlock(uint64_t offset, uint64_t length, uint8_t codec,
                                         uint32_t raw_crc, absl::string_view payload) {
  ASR_RETURN_IF_ERROR(Append(RecordType::kBlock, offset, length, codec, raw_crc, payload));
  ++records_;
  raw_bytes_ += length;
  return absl::OkStatus();
}

absl::Status BlockLogWriter::AppendZero(uint64_t offset, uint64_t length) {
  ASR_RETURN_IF_ERROR(Append(RecordType::kZero, offset, length, 0, 0, {}));
  ++records_;
  return absl::OkStatus();
}

absl::Status BlockLogWriter::AppendGroup(uint64_t first_offset, uint64_t raw_bytes,
                                         absl::string_view group_payload) {
  ASR_RETURN_IF_ERROR(Append(RecordType::kGroup, first_offset, raw_bytes, 0, 0, group_payload));
  ++records_;
  raw_bytes_ += raw_bytes;
  return absl::OkStatus();
}

absl::Status BlockLogWriter::Sync() {
  if (file_ == nullptr) return absl::FailedPreconditionError("block log is not open for writing");
  ASR_RETURN_IF_ERROR(FlushBuffer());
  return AddContext(file_->DataSync(), absl::StrCat("fdatasync ", tmp_));
}

absl::Status BlockLogWriter::Reopen(const std::string& path, uint64_t bytes, uint64_t records,
                                    uint64_t raw_bytes) {
  path_ = path;
  tmp_ = path + ".tmp";
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kWrite;
  absl::StatusOr<std::unique_ptr<platform::File>> f = platform::Env::Default()->Open(tmp_, o);
  if (!f.ok()) return AddContext(f.status(), tmp_);
  ASR_RETURN_IF_ERROR(AddContext((*f)->Truncate(kHeaderSize + bytes), tmp_));
  absl::StatusOr<uint64_t> end = (*f)->SeekToEnd();
  if (!end.ok()) return AddContext(end.status(), tmp_);
  file_ = std::move(*f);
  buf_.clear();
  bytes_ = bytes;
  records_ = records;
  raw_bytes_ = raw_bytes;
  return absl::OkStatus();
}

void BlockLogWriter::Detach() {
  buf_.clear();
  file_.reset();
}

absl::Status BlockLogWriter::Seal(const Digest& digest) {
  ASR_RETURN_IF_ERROR(
      Append(RecordType::kSeal, records_, raw_bytes_, 0, 0,
             absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size())));
  ASR_RETURN_IF_ERROR(FlushBuffer());
  ASR_RETURN_IF_ERROR(AddContext(file_->Sync(), absl::StrCat("fsync ", tmp_)));
  file_.reset();
  absl::Status renamed = platform::Env::Default()->Rename(tmp_, path_);
  if (!renamed.ok()) {
    (void)platform::Env::Default()->Unlink(tmp_);
    return AddContext(renamed, absl::StrCat("rename ", tmp_));
  }
  return FsyncDirectory(DirName(path_));
}

BlockLogReader::~BlockLogReader() = default;

absl::StatusOr<std::unique_ptr<BlockLogReader>> BlockLogReader::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<platform::File>> f =
      platform::Env::Default()->Open(path, platform::OpenOptions());
  if (!f.ok()) return AddContext(f.status(), path);
  return Open(std::move(*f), path);
}

absl::StatusOr<std::unique_ptr<BlockLogReader>> BlockLogReader::Open(
    std::unique_ptr<platform::File> file, const std::string& path) {
  std::unique_ptr<BlockLogReader> r(new BlockLogReader());
  r->path_ = path;
  r->file_ = std::move(file);
  absl::StatusOr<platform::FileInfo> info = r->file_->Stat();
  if (!info.ok()) return AddContext(info.status(), path);
  const uint64_t size = info->size;
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": block log is corrupt (", why, ")"));
  };
  if (size < kHeaderSize) return corrupt("shorter than its header");
  std::string h(kHeaderSize, '\0');
  ASR_RETURN_IF_ERROR(ReadExactly(*r->file_, h.data(), h.size(), 0, path));
  ByteReader hr(h);
  char magic[8] = {};
  uint32_t version = 0, crc = 0;
  hr.Bytes(magic, 8);
  hr.U32(&version);
  hr.U64(&r->cycle_);
  hr.U32(&r->block_size_);
  hr.U64(&r->virtual_size_);
  hr.U32(&crc);
  if (std::string(magic, 8) != std::string(kMagic, 8) || version != 1 ||
      crc != Crc32c(h.data(), kHeaderSize - 4)) {
    return corrupt("bad header");
  }
  uint64_t pos = kHeaderSize;
  bool sealed = false;
  std::string rh(kRecordHeaderSize, '\0');
  while (pos < size) {
    if (size - pos < kRecordHeaderSize) return corrupt("torn record");
    ASR_RETURN_IF_ERROR(ReadExactly(*r->file_, rh.data(), rh.size(), pos, path));
    ByteReader rr(rh);
    BlockLogRecord rec;
    uint8_t type = 0;
    uint32_t hcrc = 0;
    rr.U8(&type);
    rr.U64(&rec.offset);
    rr.U64(&rec.length);
    rr.U8(&rec.codec);
    rr.U32(&rec.raw_crc);
    rr.U32(&rec.payload_len);
    rr.U32(&rec.payload_crc);
    rr.U32(&hcrc);
    if (hcrc != Crc32c(rh.data(), kRecordHeaderSize - 4)) return corrupt("record header checksum");
    rec.type = static_cast<RecordType>(type);
    rec.payload_pos = pos + kRecordHeaderSize;
    if (rec.payload_len > size - rec.payload_pos) return corrupt("torn payload");
    pos = rec.payload_pos + rec.payload_len;
    if (rec.type == RecordType::kSeal) {
      if (pos != size || rec.offset != r->records_.size() || rec.payload_len != 32) {
        return corrupt("misplaced seal");
      }
      std::string d;
      ASR_RETURN_IF_ERROR(r->ReadPayload(rec, &d));
      std::memcpy(r->digest_.data(), d.data(), 32);
      sealed = true;
    } else if (rec.type == RecordType::kBlock && rec.length > kMaxBlockSize) {
      // Every writer logs one block per record; its data is decoded into a
      // buffer of this length, so a damaged length must not reach it.
      return corrupt(
          absl::StrCat("a block record of ", rec.length, " bytes, more than ", kMaxBlockSize));
    } else if (rec.type == RecordType::kBlock || rec.type == RecordType::kZero ||
               rec.type == RecordType::kGroup) {
      r->records_.push_back(rec);
    } else {
      return corrupt(absl::StrCat("unknown record type ", type));
    }
  }
  if (!sealed) return corrupt("not sealed");
  return r;
}

absl::Status BlockLogReader::ReadPayload(const BlockLogRecord& rec, std::string* out) const {
  out->resize(rec.payload_len);
  ASR_RETURN_IF_ERROR(ReadExactly(*file_, out->data(), rec.payload_len, rec.payload_pos, path_));
  if (Crc32c(out->data(), out->size()) != rec.payload_crc) {
    return absl::DataLossError(
        absl::StrCat(path_, ": checksum mismatch in the record at offset ", rec.offset));
  }
  return absl::OkStatus();
}

absl::Status BlockLogReader::ReadData(const BlockLogRecord& rec, std::string* out) const {
  std::string payload;
  ASR_RETURN_IF_ERROR(ReadPayload(rec, &payload));
  ASR_RETURN_IF_ERROR(DecodeBlock(rec.codec, payload, rec.length, out));
  if (Crc32c(out->data(), out->size()) != rec.raw_crc) {
    return absl::DataLossError(
        absl::StrCat(path_, ": block at offset ", rec.offset, " fails its checksum"));
  }
  return absl::OkStatus();
}

}  // namespace asr::replication
