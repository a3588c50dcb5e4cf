#include "asr/replication/offline_package.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/digest.h"
#include "asr/replication/protocol.h"

namespace asr::replication {
namespace {

std::string PartName(size_t n) { return absl::StrFormat("part-%04d.asrpkg", n); }

// "part-" digits ".asrpkg": what an export writes (and deletes when an
// interrupted export left it).
bool IsPartName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "part-") || !absl::ConsumeSuffix(&name, ".asrpkg")) return false;
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) { return absl::ascii_isdigit(c); });
}

std::string FormatMicros(int64_t us) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

uint32_t Load32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// A frame header (protocol.h), checked.
struct FrameHeader {
  FrameType type = FrameType::kError;
  uint8_t flags = 0;
  uint32_t length = 0;
  uint32_t payload_crc = 0;
};

// The header at `h`: why it cannot be one (magic, checksum, length), else OK.
absl::Status ParseFrameHeader(const uint8_t* h, FrameHeader* out) {
  if (Load32(h) != kFrameMagic) return absl::DataLossError("not a frame (bad magic)");
  if (Load32(h + 16) != Crc32c(h, 16)) {
    return absl::DataLossError("its header fails its checksum");
  }
  out->type = static_cast<FrameType>(h[4]);
  out->flags = h[5];
  out->length = Load32(h + 8);
  out->payload_crc = Load32(h + 12);
  if (out->length > kMaxPayload) {
    return absl::DataLossError(absl::StrCat("its header announces ", out->length,
                                            " bytes, over the limit of ", kMaxPayload));
  }
  return absl::OkStatus();
}

bool IsDataFrame(FrameType t) {
  return t == FrameType::kBlock || t == FrameType::kBlockGroup || t == FrameType::kZeroRange;
}

// The disk blocks a data frame covers.
struct BlockSpan {
  uint64_t first = 0;
  uint64_t last = 0;
};

// The span of a data frame's payload; InvalidArgument when its header
// does not parse or names a range that is not whole blocks of the disk.
absl::StatusOr<BlockSpan> DataFrameSpan(FrameType type, absl::string_view payload,
                                        uint32_t block_size, uint64_t virtual_size) {
  if (block_size == 0) return absl::InvalidArgumentError("a data frame before HELLO");
  uint64_t lo = UINT64_MAX, hi = 0;
  auto add = [&](uint64_t offset, uint64_t length) -> absl::Status {
    if (length == 0 || offset % block_size != 0 || offset >= virtual_size ||
        length > virtual_size - offset) {
      return absl::InvalidArgumentError(
          absl::StrCat("range [", offset, ", +", length, ") is not whole blocks of the disk"));
    }
    lo = std::min(lo, offset / block_size);
    hi = std::max(hi, (offset + length - 1) / block_size);
    return absl::OkStatus();
  };
  if (type == FrameType::kBlockGroup) {
    ASR_ASSIGN_OR_RETURN(BlockGroupHeader h, DecodeBlockGroupHeader(payload));
    for (const BlockGroupEntry& b : h.blocks) ASR_RETURN_IF_ERROR(add(b.offset, b.length));
  } else if (type == FrameType::kBlock) {
    ASR_ASSIGN_OR_RETURN(BlockHeader h,
                         DecodeBlockHeader(std::string(payload.substr(0, kBlockHeaderSize))));
    ASR_RETURN_IF_ERROR(add(h.offset, h.length));
  } else if (type == FrameType::kZeroRange) {
    Frame f;
    f.type = type;
    f.payload = std::string(payload);
    ASR_ASSIGN_OR_RETURN(ZeroRange z, ZeroRange::Decode(f));
    ASR_RETURN_IF_ERROR(add(z.offset, z.length));
  }
  if (lo == UINT64_MAX) return absl::InvalidArgumentError("no blocks");
  return BlockSpan{lo, hi};
}

// "block 48 at disk offset 3145728", "blocks 48..63 from disk offset 3145728".
std::string DescribeSpan(const BlockSpan& s, uint32_t block_size) {
  if (s.last == s.first) {
    return absl::StrCat("block ", s.first, " at disk offset ", s.first * block_size);
  }
  return absl::StrCat("blocks ", s.first, "..", s.last, " from disk offset ", s.first * block_size);
}

std::string ManifestChecksum(model::OfflinePackageManifest m) {
  m.clear_manifest_sha256();
  const std::string json = model::ToJson(m);
  Sha256Stream s;
  s.Update(json.data(), json.size());
  return DigestHex(s.Finish());
}

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

// The manifest's own consistency: identifiers, geometry, part names and
// totals. `path` names the file in messages.
absl::Status CheckManifestFields(const std::string& path, const model::OfflinePackageManifest& m) {
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(path, " is not a valid package manifest: ", what));
  };
  absl::Status id = CheckIdentifier("replicationId", m.replication_id());
  if (id.ok()) id = CheckSourceDiskId(m.source_disk_id());
  if (!id.ok()) return bad(id.message());
  const uint32_t bs = m.block_size();
  if (bs < kMinBlockSize || bs > kMaxBlockSize || (bs & (bs - 1)) != 0) {
    return bad(absl::StrCat("block size ", bs, " is not a power of two in 4 KiB..4 MiB"));
  }
  if (m.virtual_size() == 0) return bad("the disk's virtual size is 0");
  if (m.cycle() != 1) {
    return bad(absl::StrCat("cycle ", m.cycle(), ": a package holds an initial copy, cycle 1"));
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, m.source_time(), &t, &err)) {
    return bad(absl::StrCat("sourceTime '", EscapeForMessage(m.source_time()), "': ", err));
  }
  if (m.protocol_version() < kMinProtocolVersion || m.protocol_version() > kProtocolVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": the package's frames are of protocol version ", m.protocol_version(),
                     "; this asr reads versions ", kMinProtocolVersion, "..", kProtocolVersion,
                     " (import it with the asr that exported it, or a newer one)"));
  }
  if (m.parts().empty()) return bad("it lists no part files");
  const uint64_t disk_blocks = (m.virtual_size() + bs - 1) / bs;
  uint64_t bytes = 0, frames = 0;
  for (int i = 0; i < m.parts_size(); ++i) {
    const model::OfflinePackagePart& p = m.parts(i);
    if (p.file() != PartName(i + 1)) {
      return bad(absl::StrCat("part ", i + 1, " is named '", EscapeForMessage(p.file()), "', not ",
                              PartName(i + 1)));
    }
    if (!IsSha256Hex(p.sha256())) {
      return bad(absl::StrCat(p.file(), "'s sha256 is not 64 lowercase hex digits"));
    }
    if (p.size() == 0 || p.frames() == 0 || p.data_frames() > p.frames()) {
      return bad(absl::StrCat(p.file(), " is listed with ", p.size(), " bytes, ", p.frames(),
                              " frames and ", p.data_frames(), " data frames"));
    }
    if (p.first_block() > p.last_block() || p.last_block() >= disk_blocks) {
      return bad(absl::StrCat(p.file(), "'s blocks ", p.first_block(), "..", p.last_block(),
                              " are not inside the disk's ", disk_blocks, " blocks"));
    }
    bytes += p.size();
    frames += p.frames();
  }
  const model::OfflinePackageTotals& tot = m.totals();
  if (tot.files() != static_cast<uint64_t>(m.parts_size()) || tot.bytes() != bytes ||
      tot.frames() != frames) {
    return bad(absl::StrCat("its totals (", tot.files(), " files, ", tot.bytes(), " bytes, ",
                            tot.frames(), " frames) do not add up from its parts (", m.parts_size(),
                            ", ", bytes, ", ", frames, ")"));
  }
  return absl::OkStatus();
}

// The receiver's side of an initial cycle, played locally: a stream that
// records the sender's frames into part files and answers its handshake.
// The sender is its only user, on one thread (its frames are written and
// its replies read by the thread that called ReplicateDisk).
class PackageRecorder final : public net::ByteStream {
 public:
  PackageRecorder(std::string dir, const ExportOptions& options)
      : dir_(std::move(dir)), options_(options) {}
  ~PackageRecorder() override {
    if (part_file_) (void)part_file_->Close();
  }

  absl::Status WriteAll(const void* data, size_t size) override {
    if (!error_.ok()) return error_;
    // Whole frames straight from the caller's buffer; only a frame cut
    // between two writes is gathered in in_.
    const bool buffered = !in_.empty();
    if (buffered) in_.append(static_cast<const char*>(data), size);
    const absl::string_view in =
        buffered ? absl::string_view(in_) : absl::string_view(static_cast<const char*>(data), size);
    size_t pos = 0;
    absl::Status s;
    while (s.ok() && in.size() - pos >= kFrameHeaderSize) {
      FrameHeader h;
      s = ParseFrameHeader(reinterpret_cast<const uint8_t*>(in.data() + pos), &h);
      if (!s.ok() || in.size() - pos - kFrameHeaderSize < h.length) break;
      s = OnFrame(h, in.substr(pos, kFrameHeaderSize + h.length));
      pos += kFrameHeaderSize + h.length;
    }
    if (buffered) {
      in_.erase(0, pos);
    } else {
      in_.assign(in.data() + pos, in.size() - pos);
    }
    if (!s.ok()) {
      error_ =
          absl::Status(s.code(), absl::StrCat("offline export into ", dir_, ": ", s.message()));
    }
    return error_;
  }

  absl::Status ReadExactly(void* out, size_t size) override {
    if (replies_.size() - reply_pos_ < size) {
      return absl::InternalError(
          "offline export: the sender awaits a reply the package recorder did not make");
    }
    std::memcpy(out, replies_.data() + reply_pos_, size);
    reply_pos_ += size;
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadSome(void* out, size_t size) override {
    size_t n = std::min(size, replies_.size() - reply_pos_);
    ASR_RETURN_IF_ERROR(ReadExactly(out, n));
    return n;
  }

  absl::Status Close() override { return absl::OkStatus(); }

  std::string PeerDescription() const override {
    return absl::StrCat("the offline package in ", dir_);
  }

  // Whether the manifest is written (the package is complete).
  bool sealed() const { return sealed_; }
  const model::OfflinePackageManifest& manifest() const { return manifest_; }

  // A failed export: deletes the part files written.
  void DeleteParts() {
    if (part_file_) (void)part_file_->Close();
    part_file_.reset();
    for (const model::OfflinePackagePart& p : manifest_.parts()) {
      (void)platform::Env::Default()->Unlink(JoinPath(dir_, p.file()));
    }
    if (open_part_) (void)platform::Env::Default()->Unlink(JoinPath(dir_, open_part_name_));
  }

 private:
  void Reply(FrameType type, const std::string& payload) {
    if (reply_pos_ == replies_.size()) {
      replies_.clear();
      reply_pos_ = 0;
    }
    replies_ += EncodeFrame(type, payload);
  }

  absl::Status OnFrame(const FrameHeader& h, absl::string_view bytes) {
    const absl::string_view payload = bytes.substr(kFrameHeaderSize);
    if (Crc32c(payload) != h.payload_crc) {
      return absl::DataLossError(absl::StrCat("the sender wrote a ", FrameTypeName(h.type),
                                              " frame that fails its checksum"));
    }
    if (IsDataFrame(h.type)) {  // the bulk: no copy
      ASR_ASSIGN_OR_RETURN(BlockSpan span,
                           DataFrameSpan(h.type, payload, hello_.block_size, hello_.virtual_size));
      return Record(bytes, &span);
    }
    Frame f;
    f.type = h.type;
    f.flags = h.flags;
    f.payload = std::string(payload);
    switch (h.type) {
      case FrameType::kHello: {
        ASR_ASSIGN_OR_RETURN(hello_, Hello::Decode(f));
        ASR_RETURN_IF_ERROR(Record(bytes, nullptr));
        HelloReply r;  // OK: a receiver with no replica yet
        // A package is written in one go: nothing to resume (version 5).
        r.version = std::min(kResumeVersion - 1, hello_.max_version);
        version_ = r.version;
        Reply(FrameType::kHelloReply, r.Encode());
        return absl::OkStatus();
      }
      case FrameType::kCycleStart: {
        ASR_ASSIGN_OR_RETURN(start_, CycleStart::Decode(f));
        if (!start_.full() || start_.cycle != 1) {
          return absl::InternalError("the sender's cycle is not an initial copy");
        }
        std::string recorded(bytes);
        if (options_.source_time != absl::InfinitePast()) {
          start_.source_time_us = absl::ToUnixMicros(options_.source_time);
          recorded = EncodeFrame(FrameType::kCycleStart, start_.Encode(), h.flags);
        }
        ASR_RETURN_IF_ERROR(Record(recorded, nullptr));
        CycleReply r;
        r.cycle = start_.cycle;
        Reply(FrameType::kCycleReady, r.Encode());
        return absl::OkStatus();
      }
      case FrameType::kCycleEnd: {
        ASR_ASSIGN_OR_RETURN(CycleEnd end, CycleEnd::Decode(f));
        ASR_RETURN_IF_ERROR(Record(bytes, nullptr));
        ASR_RETURN_IF_ERROR(Seal(end));
        // Only now, with the package durable, may the sender commit.
        CycleReply r;
        r.cycle = start_.cycle;
        r.point_id = start_.cycle;
        Reply(FrameType::kCycleAck, r.Encode());
        return absl::OkStatus();
      }
      default:
        return absl::InternalError(
            absl::StrCat("unexpected ", FrameTypeName(h.type), " frame from the sender"));
    }
  }

  // Appends one frame to the current part; a data frame that would take
  // the part past part_bytes starts the next one.
  absl::Status Record(absl::string_view bytes, const BlockSpan* span) {
    if (open_part_ && span != nullptr && part_.data_frames() > 0 &&
        part_.size() + bytes.size() > options_.part_bytes) {
      ASR_RETURN_IF_ERROR(ClosePart());
    }
    if (!open_part_) {
      open_part_name_ = PartName(manifest_.parts_size() + 1);
      const std::string path = JoinPath(dir_, open_part_name_);
      platform::OpenOptions o;
      o.access = platform::OpenOptions::Access::kWrite;
      o.create = true;
      o.truncate = true;
      o.no_follow = true;
      absl::StatusOr<std::unique_ptr<platform::File>> file =
          platform::Env::Default()->Open(path, o);
      if (!file.ok())
        return platform::AddContext(file.status(), absl::StrCat("cannot create ", path));
      part_file_ = *std::move(file);
      open_part_ = true;
      part_ = model::OfflinePackagePart();
      part_.set_file(open_part_name_);
      part_sha_ = Sha256Stream();
    }
    absl::Status w = platform::WriteFully(*part_file_, bytes.data(), bytes.size());
    if (!w.ok()) {
      return platform::AddContext(w,
                                  absl::StrCat("cannot write ", JoinPath(dir_, open_part_name_)));
    }
    part_sha_.Update(bytes.data(), bytes.size());
    part_.set_size(part_.size() + bytes.size());
    part_.set_frames(part_.frames() + 1);
    if (span != nullptr) {
      part_.set_first_block(part_.data_frames() == 0 ? span->first
                                                     : std::min(part_.first_block(), span->first));
      part_.set_last_block(std::max(part_.last_block(), span->last));
      part_.set_data_frames(part_.data_frames() + 1);
    }
    return absl::OkStatus();
  }

  absl::Status ClosePart() {
    const std::string path = JoinPath(dir_, open_part_name_);
    absl::Status s = part_file_->Sync();
    if (s.ok()) s = part_file_->Close();
    if (!s.ok()) return platform::AddContext(s, absl::StrCat("cannot write ", path));
    part_file_.reset();
    open_part_ = false;
    part_.set_sha256(DigestHex(part_sha_.Finish()));
    *manifest_.add_parts() = std::move(part_);
    part_ = model::OfflinePackagePart();
    return absl::OkStatus();
  }

  absl::Status Seal(const CycleEnd& end) {
    ASR_RETURN_IF_ERROR(ClosePart());
    ASR_RETURN_IF_ERROR(FsyncDirectory(dir_));  // the parts exist before the manifest does
    model::OfflinePackageManifest& m = manifest_;
    m.set_format_version(kPackageFormatVersion);
    m.set_replication_id(hello_.replication_id);
    m.set_source_disk_id(hello_.source_disk_id);
    m.set_virtual_size(hello_.virtual_size);
    m.set_block_size(hello_.block_size);
    m.set_cycle(start_.cycle);
    m.set_source_time(FormatMicros(start_.source_time_us));
    m.set_source_name(hello_.source_name);
    m.set_created(FormatMicros(absl::ToUnixMicros(absl::Now())));
    m.set_protocol_version(version_);
    m.set_compression_level(options_.compression_level);
    model::OfflinePackageTotals* t = m.mutable_totals();
    t->set_files(m.parts_size());
    for (const model::OfflinePackagePart& p : m.parts()) {
      t->set_bytes(t->bytes() + p.size());
      t->set_frames(t->frames() + p.frames());
    }
    t->set_blocks(end.blocks);
    t->set_zero_ranges(end.zero_ranges);
    t->set_raw_bytes(end.raw_bytes);
    ASR_RETURN_IF_ERROR(WritePackageManifest(dir_, m));
    sealed_ = true;
    return absl::OkStatus();
  }

  const std::string dir_;
  const ExportOptions& options_;
  absl::Status error_;  // sticky: the sender sees every later write fail
  std::string in_;      // the start of a frame cut between two writes
  std::string replies_;
  size_t reply_pos_ = 0;
  Hello hello_;
  CycleStart start_;
  uint32_t version_ = kProtocolVersion;
  model::OfflinePackageManifest manifest_;  // the closed parts, then the rest
  bool sealed_ = false;
  // The part being written.
  bool open_part_ = false;
  std::string open_part_name_;
  std::unique_ptr<platform::File> part_file_;
  model::OfflinePackagePart part_;
  Sha256Stream part_sha_;
};

// Checks that every part is present, of its size and SHA-256, before
// anything is applied.
absl::Status VerifyParts(const std::string& dir, const model::OfflinePackageManifest& m) {
  std::vector<char> buf(1 << 20);
  for (const model::OfflinePackagePart& p : m.parts()) {
    const std::string path = JoinPath(dir, p.file());
    platform::OpenOptions o;
    o.no_follow = true;
    absl::StatusOr<std::unique_ptr<platform::File>> f = platform::Env::Default()->Open(path, o);
    if (absl::IsNotFound(f.status())) {
      return absl::NotFoundError(absl::StrCat("package is incomplete: ", p.file(),
                                              " is missing from ", dir,
                                              " (copy the whole package again)"));
    }
    if (!f.ok()) return platform::AddContext(f.status(), absl::StrCat("cannot open ", path));
    ASR_ASSIGN_OR_RETURN(platform::FileInfo info, (*f)->Stat());
    if (info.type != platform::FileType::kRegular) {
      return absl::DataLossError(absl::StrCat(path, " is ", platform::FileTypeName(info.type),
                                              ", not a package part file"));
    }
    if (info.size != p.size()) {
      return absl::DataLossError(absl::StrCat(
          info.size < p.size() ? "package is incomplete: " : "", path, " has ", info.size,
          " bytes, the manifest says ", p.size(), " (copy the package again from the export)"));
    }
    Sha256Stream sha;
    for (uint64_t off = 0; off < info.size;) {
      absl::StatusOr<size_t> n = platform::ReadFully(**f, off, buf.data(), buf.size());
      if (!n.ok()) return platform::AddContext(n.status(), absl::StrCat("cannot read ", path));
      if (*n == 0) break;
      sha.Update(buf.data(), *n);
      off += *n;
    }
    const std::string got = DigestHex(sha.Finish());
    if (got != p.sha256()) {
      return absl::DataLossError(absl::StrCat(path, " is damaged: its SHA-256 is ", got,
                                              ", the manifest says ", p.sha256(),
                                              "; nothing was applied (copy the package again "
                                              "from the export)"));
    }
  }
  return absl::OkStatus();
}

// Feeds a verified package's frames into a replica's first cycle, file by
// file, naming the file, the frame's byte offset and the block of any frame
// that is refused. One thread.
class PackageImporter {
 public:
  PackageImporter(std::string dir, const model::OfflinePackageManifest& m, ReplicaStore& store)
      : dir_(std::move(dir)), m_(m), store_(store) {}

  absl::StatusOr<uint64_t> Run() {
    for (int i = 0; i < m_.parts_size(); ++i) {
      ASR_RETURN_IF_ERROR(ApplyPart(i));
    }
    if (!ended_) {
      return absl::DataLossError(
          absl::StrCat("package is incomplete: ", JoinPath(dir_, m_.parts().rbegin()->file()),
                       " ends without the cycle's CYCLE_END frame; "
                       "nothing was applied"));
    }
    return point_;
  }

 private:
  // What went wrong where: "DIR/part-0002.asrpkg: the BLOCK_GROUP frame at
  // byte 1234 (blocks 48..63 from disk offset 3145728) ...".
  absl::Status Refuse(absl::StatusCode code, absl::string_view what) const {
    return absl::Status(code, absl::StrCat(path_, ": ", what, "; nothing was applied"));
  }
  std::string Where(const FrameHeader* h, const BlockSpan* span) const {
    std::string out = absl::StrCat("the ", h ? FrameTypeName(h->type) : "", h ? " " : "",
                                   "frame at byte ", offset_);
    if (span != nullptr) {
      absl::StrAppend(&out, " (", DescribeSpan(*span, m_.block_size()), ")");
    } else if (have_last_) {
      absl::StrAppend(&out, " (the data frame before it holds ",
                      DescribeSpan(last_, m_.block_size()), ")");
    }
    return out;
  }

  absl::Status ApplyPart(int index) {
    const model::OfflinePackagePart& part = m_.parts(index);
    path_ = JoinPath(dir_, part.file());
    platform::OpenOptions o;
    o.no_follow = true;
    absl::StatusOr<std::unique_ptr<platform::File>> f = platform::Env::Default()->Open(path_, o);
    if (!f.ok()) return platform::AddContext(f.status(), absl::StrCat("cannot open ", path_));
    const bool last_part = index + 1 == m_.parts_size();
    uint8_t hb[kFrameHeaderSize];
    for (offset_ = 0; offset_ < part.size();) {
      ASR_ASSIGN_OR_RETURN(size_t n, platform::ReadFully(**f, offset_, hb, sizeof(hb)));
      if (n < sizeof(hb)) {
        return Refuse(absl::StatusCode::kDataLoss,
                      absl::StrCat("the file ends inside the header of ", Where(nullptr, nullptr)));
      }
      FrameHeader h;
      absl::Status hs = ParseFrameHeader(hb, &h);
      if (!hs.ok()) {
        return Refuse(absl::StatusCode::kDataLoss,
                      absl::StrCat(Where(nullptr, nullptr), " is damaged: ", hs.message()));
      }
      frame_.type = h.type;
      frame_.flags = h.flags;
      frame_.payload.resize(h.length);
      ASR_ASSIGN_OR_RETURN(
          n, platform::ReadFully(**f, offset_ + kFrameHeaderSize, frame_.payload.data(), h.length));
      frame_.payload.resize(n);
      // The blocks the frame says it holds (from its header, even when the
      // frame turns out damaged or cut: that mostly leaves the header intact).
      std::optional<BlockSpan> span;
      if (IsDataFrame(h.type)) {
        absl::StatusOr<BlockSpan> s =
            DataFrameSpan(h.type, frame_.payload, m_.block_size(), m_.virtual_size());
        if (s.ok()) span = *s;
      }
      if (n < h.length) {
        return Refuse(absl::StatusCode::kDataLoss,
                      absl::StrCat("the file ends inside ", Where(&h, span ? &*span : nullptr)));
      }
      if (Crc32c(frame_.payload.data(), frame_.payload.size()) != h.payload_crc) {
        return Refuse(absl::StatusCode::kDataLoss,
                      absl::StrCat(Where(&h, span ? &*span : nullptr), " fails its checksum"));
      }
      ASR_RETURN_IF_ERROR(ApplyFrame(h, part, span ? &*span : nullptr));
      if (span) {
        last_ = *span;
        have_last_ = true;
      }
      offset_ += kFrameHeaderSize + h.length;
      if (ended_ && (!last_part || offset_ != part.size())) {
        return Refuse(absl::StatusCode::kDataLoss,
                      absl::StrCat("data follows the cycle's CYCLE_END frame at byte ", offset_));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ApplyFrame(const FrameHeader& h, const model::OfflinePackagePart& part,
                          const BlockSpan* span) {
    if (ended_) {
      return Refuse(absl::StatusCode::kDataLoss,
                    absl::StrCat(Where(&h, span), " follows the cycle's CYCLE_END"));
    }
    const uint64_t index = frames_++;
    if (index == 0) return ApplyHello(h);
    if (index == 1) return ApplyStart(h);
    if (h.type == FrameType::kCycleEnd) return ApplyEnd(h);
    if (!IsDataFrame(h.type)) {
      return Refuse(absl::StatusCode::kDataLoss,
                    absl::StrCat(Where(&h, nullptr), " is not expected inside a cycle"));
    }
    if (span == nullptr) {
      return Refuse(absl::StatusCode::kDataLoss,
                    absl::StrCat(Where(&h, nullptr),
                                 " does not name whole blocks of the disk in its header"));
    }
    if (span->first < part.first_block() || span->last > part.last_block()) {
      return Refuse(absl::StatusCode::kDataLoss,
                    absl::StrCat(Where(&h, span), " lies outside blocks ", part.first_block(), "..",
                                 part.last_block(), " that the manifest gives this file"));
    }
    absl::Status s;
    if (h.type == FrameType::kBlockGroup) {
      s = cycle_->AddBlockGroup(frame_.payload);
    } else if (h.type == FrameType::kBlock) {
      s = cycle_->AddBlock(frame_.payload);
    } else {
      absl::StatusOr<ZeroRange> z = ZeroRange::Decode(frame_);
      s = z.ok() ? cycle_->AddZeroRange(*z) : z.status();
    }
    if (!s.ok()) {
      // A frame whose CRC matched but whose data does not decode or check
      // is as damaged as one whose CRC failed.
      return Refuse(
          s.code() == absl::StatusCode::kInvalidArgument ? absl::StatusCode::kDataLoss : s.code(),
          absl::StrCat(Where(&h, span), " is refused: ", s.message()));
    }
    return absl::OkStatus();
  }

  absl::Status ApplyHello(const FrameHeader& h) {
    absl::StatusOr<Hello> hello = Unexpected(frame_, FrameType::kHello);
    if (h.type == FrameType::kHello) hello = Hello::Decode(frame_);
    if (!hello.ok()) {
      return Refuse(absl::StatusCode::kDataLoss,
                    absl::StrCat(Where(&h, nullptr), ": ", hello.status().message()));
    }
    if (hello->replication_id != m_.replication_id() ||
        hello->source_disk_id != m_.source_disk_id() || hello->virtual_size != m_.virtual_size() ||
        hello->block_size != m_.block_size() || m_.protocol_version() < hello->min_version ||
        m_.protocol_version() > hello->max_version) {
      return Refuse(
          absl::StatusCode::kDataLoss,
          absl::StrCat("its HELLO frame describes disk '", EscapeForMessage(hello->source_disk_id),
                       "' (", hello->virtual_size, " bytes, ", hello->block_size,
                       "-byte blocks, replication ", hello->replication_id,
                       "), not what manifest.json says"));
    }
    // As a receiver negotiates it: the version the frames were written in.
    hello->max_version = m_.protocol_version();
    hello_ = *std::move(hello);
    absl::Status ok = store_.CheckHello(hello_);
    if (!ok.ok()) return Refuse(ok.code(), ok.message());
    return absl::OkStatus();
  }

  absl::Status ApplyStart(const FrameHeader& h) {
    absl::StatusOr<CycleStart> start = Unexpected(frame_, FrameType::kCycleStart);
    if (h.type == FrameType::kCycleStart) start = CycleStart::Decode(frame_);
    if (!start.ok()) {
      return Refuse(absl::StatusCode::kDataLoss,
                    absl::StrCat(Where(&h, nullptr), ": ", start.status().message()));
    }
    if (start->cycle != m_.cycle() || !start->full() ||
        FormatMicros(start->source_time_us) != m_.source_time()) {
      return Refuse(
          absl::StatusCode::kDataLoss,
          absl::StrCat("its CYCLE_START frame (cycle ", start->cycle,
                       start->full() ? ", a full copy" : ", a delta", ", source time ",
                       FormatMicros(start->source_time_us), ") is not what manifest.json says"));
    }
    absl::StatusOr<std::unique_ptr<CycleWriter>> cycle = store_.BeginCycle(hello_, *start);
    if (!cycle.ok()) return cycle.status();
    cycle_ = *std::move(cycle);
    return absl::OkStatus();
  }

  absl::Status ApplyEnd(const FrameHeader& h) {
    absl::StatusOr<CycleEnd> end = CycleEnd::Decode(frame_);
    if (!end.ok()) {
      return Refuse(absl::StatusCode::kDataLoss,
                    absl::StrCat(Where(&h, nullptr), ": ", end.status().message()));
    }
    const model::OfflinePackageTotals& t = m_.totals();
    if (end->blocks != t.blocks() || end->zero_ranges != t.zero_ranges() ||
        end->raw_bytes != t.raw_bytes()) {
      return Refuse(
          absl::StatusCode::kDataLoss,
          absl::StrCat("its CYCLE_END frame counts ", end->blocks, " blocks, ", end->zero_ranges,
                       " zero ranges and ", end->raw_bytes, " bytes; manifest.json says ",
                       t.blocks(), ", ", t.zero_ranges(), " and ", t.raw_bytes()));
    }
    absl::StatusOr<uint64_t> point = cycle_->Commit(*end);
    if (!point.ok()) {
      return Refuse(point.status().code(),
                    absl::StrCat("the cycle is refused at its end: ", point.status().message()));
    }
    cycle_.reset();
    point_ = *point;
    ended_ = true;
    return absl::OkStatus();
  }

  const std::string dir_;
  const model::OfflinePackageManifest& m_;
  ReplicaStore& store_;
  std::string path_;     // the part being read
  uint64_t offset_ = 0;  // of the frame being read, in it
  Frame frame_;          // reused
  uint64_t frames_ = 0;  // read so far, all parts
  Hello hello_;
  std::unique_ptr<CycleWriter> cycle_;  // discarded unless committed
  BlockSpan last_;                      // of the last data frame applied
  bool have_last_ = false;
  bool ended_ = false;
  uint64_t point_ = 0;
};

}  // namespace

absl::StatusOr<model::OfflinePackageManifest> ReadPackageManifest(const std::string& package_dir) {
  const std::string path = JoinPath(package_dir, kPackageManifestFile);
  if (!PathExists(path)) {
    return absl::NotFoundError(absl::StrCat(
        "package is incomplete: ", kPackageManifestFile, " is missing from ", package_dir,
        " (an export writes it last: the export did not finish, or the copy is incomplete)"));
  }
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  model::OfflinePackageManifest m;
  absl::Status parsed = model::FromJson(text, &m);
  if (!parsed.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, " is not a package manifest: ", parsed.message()));
  }
  if (m.format_version() != kPackageFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is of package format ", m.format_version(), "; this asr reads format ",
                     kPackageFormatVersion, " (import it with a newer asr)"));
  }
  if (m.manifest_sha256() != ManifestChecksum(m)) {
    return absl::DataLossError(absl::StrCat(
        path,
        " fails its checksum (manifestSha256): it was edited or damaged after the export; "
        "copy the package's manifest again from the export"));
  }
  ASR_RETURN_IF_ERROR(CheckManifestFields(path, m));
  return m;
}

absl::Status WritePackageManifest(const std::string& package_dir,
                                  model::OfflinePackageManifest manifest) {
  manifest.set_manifest_sha256(ManifestChecksum(manifest));
  return WriteFileAtomically(JoinPath(package_dir, kPackageManifestFile),
                             model::ToJson(manifest, /*pretty=*/true) + "\n");
}

absl::StatusOr<ExportResult> ExportInitialPackage(const std::string& disk_path,
                                                  const std::string& package_dir,
                                                  const ExportOptions& options) {
  if (options.part_bytes < kMinPartBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("part size ", options.part_bytes, " is under the minimum of ", kMinPartBytes));
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(package_dir));
  if (PathExists(JoinPath(package_dir, kPackageManifestFile))) {
    return absl::AlreadyExistsError(absl::StrCat(package_dir, " already holds a package (",
                                                 kPackageManifestFile,
                                                 "); export into a new or empty directory"));
  }
  // Parts an interrupted export left (no manifest: they are no package).
  ASR_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       platform::Env::Default()->ListDirectory(package_dir));
  for (const std::string& n : names) {
    if (!IsPartName(n)) continue;
    absl::Status s = platform::Env::Default()->Unlink(JoinPath(package_dir, n));
    if (!s.ok()) return platform::AddContext(s, absl::StrCat("cannot delete ", n));
  }
  SendOptions so;
  so.block_size = options.block_size;
  so.compression_level = options.compression_level;
  so.worker_threads = options.worker_threads;
  so.source_name = options.source_name;
  so.tracker = options.tracker;
  PackageRecorder recorder(package_dir, options);
  absl::StatusOr<CycleStats> st = ReplicateDisk(disk_path, CycleMode::kInitial, recorder, so);
  if (!recorder.sealed()) {
    recorder.DeleteParts();
    absl::Status s =
        st.ok() ? absl::InternalError("the cycle ended without CYCLE_END") : st.status();
    return absl::Status(s.code(), absl::StrCat("offline export of ", disk_path, " to ", package_dir,
                                               " failed: ", s.message()));
  }
  if (!st.ok()) {
    return absl::Status(
        st.status().code(),
        absl::StrCat("the package in ", package_dir, " is complete, but ", disk_path,
                     "'s replication state was not committed: ", st.status().message(),
                     " (the first network cycle after the import adopts it)"));
  }
  ExportResult r;
  const model::OfflinePackageManifest& m = recorder.manifest();
  for (const model::OfflinePackagePart& p : m.parts()) r.files.push_back(p.file());
  r.files.push_back(kPackageManifestFile);
  ASR_ASSIGN_OR_RETURN(platform::FileInfo mi,
                       platform::Env::Default()->Stat(JoinPath(package_dir, kPackageManifestFile)));
  r.bytes = m.totals().bytes() + mi.size;
  r.blocks = st->blocks_sent;
  r.replication_id = st->replication_id;
  r.point_id = st->point_id;
  r.stats = *st;
  return r;
}

absl::StatusOr<uint64_t> ImportInitialPackage(const std::string& package_dir,
                                              const std::string& replica_dir,
                                              const ReplicaOptions& options) {
  if (options.writer.empty()) {
    return absl::InvalidArgumentError(
        "an imported replica needs its writer: the common name of the primary host's "
        "certificate (primary-host from 'asrctl pki init'), as a receiver of it is given");
  }
  ASR_ASSIGN_OR_RETURN(model::OfflinePackageManifest m, ReadPackageManifest(package_dir));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<ReplicaStore> store,
                       ReplicaStore::Open(replica_dir, options));
  const ReplicaInfo info = store->info();
  if (info.has_replica) {
    return absl::FailedPreconditionError(absl::StrCat(
        replica_dir, " already holds a replica (replication ", info.replication_id, ", point ",
        info.current_cycle,
        "); an offline package only initializes an empty replica directory: import into a new "
        "one, or keep replicating over the network"));
  }
  ASR_RETURN_IF_ERROR(VerifyParts(package_dir, m));
  PackageImporter importer(package_dir, m, *store);
  return importer.Run();
}

}  // namespace asr::replication
