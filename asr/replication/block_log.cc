#include "asr/replication/block_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/byte_codec.h"

namespace asr::replication {
namespace {

constexpr char kMagic[8] = {'A', 'S', 'R', 'B', 'L', 'O', 'G', '1'};
constexpr size_t kHeaderSize = 36;
constexpr size_t kRecordHeaderSize = 34;
constexpr size_t kBufferLimit = 1 << 20;

}  // namespace

BlockLogWriter::~BlockLogWriter() { Abandon(); }

void BlockLogWriter::Abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
  }
}

absl::Status BlockLogWriter::Create(const std::string& path, uint64_t cycle, uint32_t block_size,
                                    uint64_t virtual_size) {
  path_ = path;
  tmp_ = path + ".tmp";
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return ErrnoToStatus(errno, tmp_);
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
  ASR_RETURN_IF_ERROR(WriteAll(fd_, buf_, tmp_));
  buf_.clear();
  return absl::OkStatus();
}

absl::Status BlockLogWriter::Append(RecordType type, uint64_t offset, uint64_t length,
                                    uint8_t codec, uint32_t raw_crc, absl::string_view payload) {
  if (fd_ < 0) return absl::FailedPreconditionError("block log is not open for writing");
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

absl::Status BlockLogWriter::Seal(const Digest& digest) {
  ASR_RETURN_IF_ERROR(Append(RecordType::kSeal, records_, raw_bytes_, 0, 0,
                             absl::string_view(reinterpret_cast<const char*>(digest.data()),
                                               digest.size())));
  ASR_RETURN_IF_ERROR(FlushBuffer());
  if (::fsync(fd_) != 0) return ErrnoToStatus(errno, absl::StrCat("fsync ", tmp_));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_.c_str());
    return ErrnoToStatus(err, absl::StrCat("rename ", tmp_));
  }
  return FsyncDirectory(DirName(path_));
}

BlockLogReader::~BlockLogReader() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<BlockLogReader>> BlockLogReader::Open(const std::string& path) {
  std::unique_ptr<BlockLogReader> r(new BlockLogReader());
  r->path_ = path;
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) return ErrnoToStatus(errno, path);
  struct stat st;
  if (::fstat(r->fd_, &st) != 0) return ErrnoToStatus(errno, path);
  const uint64_t size = st.st_size;
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": block log is corrupt (", why, ")"));
  };
  if (size < kHeaderSize) return corrupt("shorter than its header");
  std::string h(kHeaderSize, '\0');
  ASR_RETURN_IF_ERROR(PreadAll(r->fd_, h.data(), h.size(), 0, path));
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
    ASR_RETURN_IF_ERROR(PreadAll(r->fd_, rh.data(), rh.size(), pos, path));
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
  ASR_RETURN_IF_ERROR(PreadAll(fd_, out->data(), rec.payload_len, rec.payload_pos, path_));
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
