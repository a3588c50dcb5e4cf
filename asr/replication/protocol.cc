#include "asr/replication/protocol.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/status_macros.h"
#include "asr/replication/byte_codec.h"

namespace asr::replication {
namespace {

void Store32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Load32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

absl::Status Malformed(FrameType t) {
  return absl::InvalidArgumentError(
      absl::StrCat("protocol violation: malformed ", FrameTypeName(t), " frame"));
}

absl::Status Expect(const Frame& f, FrameType t) {
  if (f.type != t) return Unexpected(f, t);
  return absl::OkStatus();
}

void PutStatus(ByteWriter& w, const absl::Status& s) {
  w.U32(static_cast<uint32_t>(s.code()));
  w.Str(s.message());
}

bool GetStatus(ByteReader& r, absl::Status* s) {
  uint32_t code = 0;
  std::string msg;
  if (!r.U32(&code) || !r.Str(&msg)) return false;
  if (code > static_cast<uint32_t>(absl::StatusCode::kUnauthenticated)) code = 2;
  *s = code == 0 ? absl::OkStatus() : absl::Status(static_cast<absl::StatusCode>(code), msg);
  return true;
}

}  // namespace

const char* FrameTypeName(FrameType t) {
  switch (t) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kHelloReply:
      return "HELLO_REPLY";
    case FrameType::kCycleStart:
      return "CYCLE_START";
    case FrameType::kCycleReady:
      return "CYCLE_READY";
    case FrameType::kBlock:
      return "BLOCK";
    case FrameType::kZeroRange:
      return "ZERO_RANGE";
    case FrameType::kCycleEnd:
      return "CYCLE_END";
    case FrameType::kCycleAck:
      return "CYCLE_ACK";
    case FrameType::kError:
      return "ERROR";
    case FrameType::kBlockGroup:
      return "BLOCK_GROUP";
    case FrameType::kVerifyRequest:
      return "VERIFY_REQUEST";
    case FrameType::kVerifyDigests:
      return "VERIFY_DIGESTS";
    case FrameType::kVerifyEnd:
      return "VERIFY_END";
    case FrameType::kCycleCheckpoint:
      return "CYCLE_CHECKPOINT";
  }
  return "UNKNOWN";
}

const char* CycleModeName(CycleMode m) {
  switch (m) {
    case CycleMode::kInitial:
      return "initial";
    case CycleMode::kTracked:
      return "tracked";
    case CycleMode::kScan:
      return "scan";
    case CycleMode::kDifferencing:
      return "differencing";
  }
  return "unknown";
}

absl::StatusOr<CycleMode> ParseCycleMode(const std::string& name) {
  if (name == "initial") return CycleMode::kInitial;
  if (name == "tracked") return CycleMode::kTracked;
  if (name == "scan") return CycleMode::kScan;
  if (name == "differencing") return CycleMode::kDifferencing;
  return absl::InvalidArgumentError(absl::StrCat("unknown replication mode '", name,
                                                 "' (use initial, tracked, scan or differencing)"));
}

std::string EncodeFrame(FrameType type, const std::string& payload, uint8_t flags) {
  std::string out(kFrameHeaderSize, '\0');
  uint8_t* h = reinterpret_cast<uint8_t*>(out.data());
  Store32(h, kFrameMagic);
  h[4] = static_cast<uint8_t>(type);
  h[5] = flags;
  Store32(h + 8, static_cast<uint32_t>(payload.size()));
  Store32(h + 12, Crc32c(payload.data(), payload.size()));
  Store32(h + 16, Crc32c(h, 16));
  out += payload;
  return out;
}

void AppendFrame(std::string* out, FrameType type, absl::string_view head, absl::string_view body) {
  uint8_t h[kFrameHeaderSize] = {};
  Store32(h, kFrameMagic);
  h[4] = static_cast<uint8_t>(type);
  Store32(h + 8, static_cast<uint32_t>(head.size() + body.size()));
  Store32(h + 12, Crc32cExtend(Crc32c(head.data(), head.size()), body.data(), body.size()));
  Store32(h + 16, Crc32c(h, 16));
  out->append(reinterpret_cast<const char*>(h), sizeof(h));
  out->append(head.data(), head.size());
  out->append(body.data(), body.size());
}

absl::StatusOr<Frame> ReadFrame(net::ByteStream& stream) {
  Frame f;
  ASR_RETURN_IF_ERROR(ReadFrameInto(stream, &f));
  return f;
}

absl::Status ReadFrameInto(net::ByteStream& stream, Frame* f) {
  uint8_t h[kFrameHeaderSize];
  ASR_RETURN_IF_ERROR(stream.ReadExactly(h, sizeof(h)));
  if (Load32(h) != kFrameMagic) {
    return absl::DataLossError(absl::StrCat(
        "protocol violation from ", stream.PeerDescription(),
        ": not an asr replication frame (bad magic); is the peer an asr replication endpoint?"));
  }
  if (Load32(h + 16) != Crc32c(h, 16)) {
    return absl::DataLossError(
        absl::StrCat("frame header checksum mismatch from ", stream.PeerDescription()));
  }
  uint32_t len = Load32(h + 8);
  if (len > kMaxPayload) {
    return absl::InvalidArgumentError(absl::StrCat("protocol violation: frame of ", len,
                                                   " bytes exceeds the limit of ", kMaxPayload));
  }
  f->type = static_cast<FrameType>(h[4]);
  f->flags = h[5];
  f->payload.resize(len);  // keeps the capacity of a reused frame
  if (len > 0) {
    absl::Status s = stream.ReadExactly(f->payload.data(), len);
    if (absl::IsOutOfRange(s)) {
      return absl::UnavailableError(
          absl::StrCat(stream.PeerDescription(), " closed the connection inside a frame"));
    }
    ASR_RETURN_IF_ERROR(s);
  }
  if (Load32(h + 12) != Crc32c(f->payload.data(), len)) {
    return absl::DataLossError(absl::StrCat("checksum mismatch in a ", FrameTypeName(f->type),
                                            " frame from ", stream.PeerDescription()));
  }
  return absl::OkStatus();
}

absl::Status WriteFrame(net::ByteStream& stream, FrameType type, const std::string& payload) {
  std::string bytes = EncodeFrame(type, payload);
  return stream.WriteAll(bytes.data(), bytes.size());
}

void SendError(net::ByteStream& stream, const absl::Status& status) {
  ByteWriter w;
  PutStatus(w, status);
  (void)WriteFrame(stream, FrameType::kError, w.data());
}

absl::Status ErrorFromFrame(const Frame& f) {
  if (f.type != FrameType::kError) return absl::InvalidArgumentError("not an ERROR frame");
  ByteReader r(f.payload);
  absl::Status s;
  if (!GetStatus(r, &s)) return Malformed(FrameType::kError);
  if (s.ok()) return absl::UnknownError("peer: error frame without an error");
  return absl::Status(s.code(), absl::StrCat("peer: ", s.message()));
}

absl::Status Unexpected(const Frame& got, FrameType expected) {
  if (got.type == FrameType::kError && expected != FrameType::kError) return ErrorFromFrame(got);
  return absl::FailedPreconditionError(absl::StrCat(
      "protocol violation: expected ", FrameTypeName(expected), ", got ", FrameTypeName(got.type)));
}

std::string EscapeForMessage(absl::string_view s, size_t max) {
  const bool cut = s.size() > max;
  std::string out = absl::CHexEscape(cut ? s.substr(0, max) : s);
  if (cut) out += "...";
  return out;
}

namespace {

bool IdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == ':';
}

absl::Status BadIdentifier(absl::string_view field, absl::string_view value,
                           absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("refused ", field, " \"", EscapeForMessage(value),
                                                 "\" (", value.size(), " bytes): ", rule));
}

constexpr absl::string_view kIdRule =
    "an identifier is 1..128 bytes of ASCII letters, digits, '-', '_', '.' and ':' and does "
    "not start with '.'";

}  // namespace

absl::Status CheckIdentifier(absl::string_view field, absl::string_view value) {
  bool ok = !value.empty() && value.size() <= kMaxIdentifierBytes && value[0] != '.';
  for (char c : value) ok = ok && IdChar(c);
  return ok ? absl::OkStatus() : BadIdentifier(field, value, kIdRule);
}

absl::Status CheckSourceDiskId(absl::string_view value) {
  bool ok = value.size() <= kMaxIdentifierBytes && (value.empty() || value[0] != '.');
  for (char c : value) ok = ok && (IdChar(c) || c == '{' || c == '}');
  if (ok) return absl::OkStatus();
  return BadIdentifier("source_disk_id", value,
                       "a disk id is empty or up to 128 bytes of ASCII letters, digits, '-', '_', "
                       "'.', ':', '{' and '}' and does not start with '.'");
}

absl::Status CheckDisplayName(absl::string_view field, absl::string_view value, size_t max_bytes) {
  bool ok = value.size() <= max_bytes;
  // Valid UTF-8 (shortest forms, no surrogates) without C0/C1 controls or DEL.
  for (size_t i = 0; ok && i < value.size();) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x80) {
      ok = c >= 0x20 && c != 0x7f;
      ++i;
      continue;
    }
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || i + n > value.size()) {
      ok = false;
      break;
    }
    uint32_t cp = c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char t = static_cast<unsigned char>(value[i + k]);
      if ((t & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (t & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0x80 && cp < 0xa0)) {
      ok = false;
    }
    i += n;
  }
  if (ok) return absl::OkStatus();
  return BadIdentifier(field, value,
                       absl::StrCat("a name is at most ", max_bytes,
                                    " bytes of UTF-8 text without control characters"));
}

std::string Hello::Encode() const {
  ByteWriter w;
  w.U32(min_version);
  w.U32(max_version);
  w.Str(replication_id);
  w.Str(source_disk_id);
  w.U64(virtual_size);
  w.U32(block_size);
  w.Str(source_name);
  return w.Release();
}

absl::StatusOr<Hello> Hello::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kHello));
  Hello h;
  ByteReader r(f.payload);
  // Only the version range is fixed across versions; check it first.
  if (!r.U32(&h.min_version) || !r.U32(&h.max_version)) return Malformed(f.type);
  if (h.min_version > kProtocolVersion || h.max_version < kMinProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "protocol version mismatch: the sender speaks versions ", h.min_version, "..",
        h.max_version, ", this receiver ", kMinProtocolVersion, "..", kProtocolVersion));
  }
  if (!r.Str(&h.replication_id) || !r.Str(&h.source_disk_id) || !r.U64(&h.virtual_size) ||
      !r.U32(&h.block_size) || !r.Str(&h.source_name)) {
    return Malformed(f.type);
  }
  // These end up in the replica's state file and in messages.
  ASR_RETURN_IF_ERROR(CheckIdentifier("replication_id", h.replication_id));
  ASR_RETURN_IF_ERROR(CheckSourceDiskId(h.source_disk_id));
  ASR_RETURN_IF_ERROR(CheckDisplayName("source_name", h.source_name, kMaxSourceNameBytes));
  return h;
}

std::string HelloReply::Encode() const {
  ByteWriter w;
  PutStatus(w, status);
  w.U32(version);
  w.U8(has_replica ? 1 : 0);
  w.Str(replication_id);
  w.U64(current_cycle);
  w.U64(virtual_size);
  w.U32(block_size);
  return w.Release();
}

absl::StatusOr<HelloReply> HelloReply::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kHelloReply));
  HelloReply h;
  ByteReader r(f.payload);
  uint8_t has = 0;
  if (!GetStatus(r, &h.status) || !r.U32(&h.version) || !r.U8(&has) || !r.Str(&h.replication_id) ||
      !r.U64(&h.current_cycle) || !r.U64(&h.virtual_size) || !r.U32(&h.block_size)) {
    return Malformed(f.type);
  }
  if (!h.replication_id.empty()) {
    ASR_RETURN_IF_ERROR(CheckIdentifier("replication_id", h.replication_id));
  }
  h.has_replica = has != 0;
  return h;
}

std::string CycleStart::Encode() const {
  ByteWriter w;
  w.U64(cycle);
  w.U64(base_cycle);
  w.U8(static_cast<uint8_t>(mode));
  w.U8(flags);
  w.U64(static_cast<uint64_t>(source_time_us));
  if (resumable) w.Bytes(plan_id.data(), plan_id.size());
  return w.Release();
}

absl::StatusOr<CycleStart> CycleStart::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kCycleStart));
  CycleStart c;
  ByteReader r(f.payload);
  uint8_t mode = 0;
  uint64_t t = 0;
  if (!r.U64(&c.cycle) || !r.U64(&c.base_cycle) || !r.U8(&mode) || !r.U8(&c.flags) || !r.U64(&t) ||
      mode < 1 || mode > 4) {
    return Malformed(f.type);
  }
  if (!r.Done()) {  // version 5: the plan's identity
    if (!r.Bytes(c.plan_id.data(), c.plan_id.size()) || !r.Done()) return Malformed(f.type);
    c.resumable = true;
  }
  c.mode = static_cast<CycleMode>(mode);
  c.source_time_us = static_cast<int64_t>(t);
  return c;
}

std::string CycleReply::Encode() const {
  ByteWriter w;
  PutStatus(w, status);
  w.U64(cycle);
  w.U64(point_id);
  if (has_resume) {
    w.U64(resume_item);
    w.U64(resume_bytes);
  }
  return w.Release();
}

absl::StatusOr<CycleReply> CycleReply::Decode(const Frame& f) {
  if (f.type != FrameType::kCycleReady && f.type != FrameType::kCycleAck) {
    return Unexpected(f, FrameType::kCycleAck);
  }
  CycleReply c;
  ByteReader r(f.payload);
  if (!GetStatus(r, &c.status) || !r.U64(&c.cycle) || !r.U64(&c.point_id)) {
    return Malformed(f.type);
  }
  if (!r.Done()) {  // version 5: where a resumed cycle continues
    if (!r.U64(&c.resume_item) || !r.U64(&c.resume_bytes) || !r.Done()) return Malformed(f.type);
    c.has_resume = true;
  }
  return c;
}

std::string CycleCheckpoint::Encode() const {
  ByteWriter w;
  w.U64(next_item);
  w.U64(blocks);
  w.U64(zero_ranges);
  w.U64(raw_bytes);
  return w.Release();
}

absl::StatusOr<CycleCheckpoint> CycleCheckpoint::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kCycleCheckpoint));
  CycleCheckpoint c;
  ByteReader r(f.payload);
  if (!r.U64(&c.next_item) || !r.U64(&c.blocks) || !r.U64(&c.zero_ranges) || !r.U64(&c.raw_bytes) ||
      !r.Done()) {
    return Malformed(f.type);
  }
  return c;
}

void EncodeBlockGroupHeader(const BlockGroupHeader& h, std::string* out) {
  ByteWriter w;
  w.U32(static_cast<uint32_t>(h.blocks.size()));
  w.U8(h.codec);
  w.U32(h.raw_crc);
  for (const BlockGroupEntry& b : h.blocks) {
    w.U64(b.offset);
    w.U32(b.length);
  }
  out->append(w.data());
}

absl::StatusOr<BlockGroupHeader> DecodeBlockGroupHeader(absl::string_view payload) {
  ByteReader r(payload);
  BlockGroupHeader h;
  uint32_t count = 0;
  if (!r.U32(&count) || !r.U8(&h.codec) || !r.U32(&h.raw_crc) || count == 0 ||
      count > kMaxGroupBlocks) {
    return Malformed(FrameType::kBlockGroup);
  }
  h.blocks.resize(count);
  for (BlockGroupEntry& b : h.blocks) {
    if (!r.U64(&b.offset) || !r.U32(&b.length)) return Malformed(FrameType::kBlockGroup);
    h.raw_bytes += b.length;
  }
  if (h.raw_bytes > kMaxPayload) return Malformed(FrameType::kBlockGroup);
  h.data_pos = payload.size() - r.Rest().size();
  return h;
}

void EncodeBlockHeader(const BlockHeader& h, uint8_t out[kBlockHeaderSize]) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(h.offset >> (8 * i));
  Store32(out + 8, h.length);
  out[12] = h.codec;
  Store32(out + 13, h.raw_crc);
}

absl::StatusOr<BlockHeader> DecodeBlockHeader(const std::string& payload) {
  if (payload.size() < kBlockHeaderSize) return Malformed(FrameType::kBlock);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(payload.data());
  BlockHeader h;
  for (int i = 0; i < 8; ++i) h.offset |= static_cast<uint64_t>(p[i]) << (8 * i);
  h.length = Load32(p + 8);
  h.codec = p[12];
  h.raw_crc = Load32(p + 13);
  return h;
}

std::string ZeroRange::Encode() const {
  ByteWriter w;
  w.U64(offset);
  w.U64(length);
  return w.Release();
}

absl::StatusOr<ZeroRange> ZeroRange::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kZeroRange));
  ZeroRange z;
  ByteReader r(f.payload);
  if (!r.U64(&z.offset) || !r.U64(&z.length) || !r.Done()) return Malformed(f.type);
  return z;
}

std::string CycleEnd::Encode() const {
  ByteWriter w;
  w.U64(blocks);
  w.U64(zero_ranges);
  w.U64(raw_bytes);
  w.Bytes(digest.data(), digest.size());
  return w.Release();
}

absl::StatusOr<CycleEnd> CycleEnd::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kCycleEnd));
  CycleEnd e;
  ByteReader r(f.payload);
  if (!r.U64(&e.blocks) || !r.U64(&e.zero_ranges) || !r.U64(&e.raw_bytes) ||
      !r.Bytes(e.digest.data(), e.digest.size()) || !r.Done()) {
    return Malformed(f.type);
  }
  return e;
}

std::string VerifyRequest::Encode() const {
  ByteWriter w;
  w.U8(static_cast<uint8_t>(hasher.kind));
  w.U64(hasher.seed);
  w.U32(block_size);
  w.U64(first_block);
  w.U64(block_count);
  return w.Release();
}

absl::StatusOr<VerifyRequest> VerifyRequest::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kVerifyRequest));
  VerifyRequest v;
  ByteReader r(f.payload);
  uint8_t kind = 0;
  if (!r.U8(&kind) || !r.U64(&v.hasher.seed) || !r.U32(&v.block_size) || !r.U64(&v.first_block) ||
      !r.U64(&v.block_count) || !r.Done()) {
    return Malformed(f.type);
  }
  if (kind != static_cast<uint8_t>(BlockHashKind::kSha256) &&
      kind != static_cast<uint8_t>(BlockHashKind::kXxh3_128)) {
    return absl::InvalidArgumentError(
        absl::StrCat("protocol violation: VERIFY_REQUEST with unknown block hash ", kind));
  }
  v.hasher.kind = static_cast<BlockHashKind>(kind);
  return v;
}

std::string VerifyDigests::Encode() const {
  ByteWriter w;
  w.U64(first_block);
  w.U32(static_cast<uint32_t>(digests.size()));
  w.Bytes(digests.data(), digests.size() * sizeof(Digest));
  return w.Release();
}

absl::Status VerifyDigests::DecodeInto(const Frame& f, VerifyDigests* out) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kVerifyDigests));
  ByteReader r(f.payload);
  uint32_t count = 0;
  if (!r.U64(&out->first_block) || !r.U32(&count) || count == 0 || count > kMaxVerifyDigests ||
      r.Rest().size() != count * sizeof(Digest)) {
    return Malformed(f.type);
  }
  out->digests.resize(count);
  r.Bytes(out->digests.data(), count * sizeof(Digest));
  return absl::OkStatus();
}

std::string VerifyEnd::Encode() const {
  ByteWriter w;
  PutStatus(w, status);
  w.U64(point_id);
  w.U64(blocks);
  return w.Release();
}

absl::StatusOr<VerifyEnd> VerifyEnd::Decode(const Frame& f) {
  ASR_RETURN_IF_ERROR(Expect(f, FrameType::kVerifyEnd));
  VerifyEnd e;
  ByteReader r(f.payload);
  if (!GetStatus(r, &e.status) || !r.U64(&e.point_id) || !r.U64(&e.blocks) || !r.Done()) {
    return Malformed(f.type);
  }
  return e;
}

void DigestBlock(Sha256Stream& s, uint64_t offset, uint32_t length, const Digest& data_sha) {
  s.Update("B", 1);
  s.UpdateU64(offset);
  s.UpdateU64(length);
  s.Update(data_sha.data(), data_sha.size());
}

void DigestBlockPlace(Sha256Stream& s, uint64_t offset, uint32_t length) {
  s.Update("P", 1);
  s.UpdateU64(offset);
  s.UpdateU64(length);
}

void DigestFrameCrc(Sha256Stream& s, uint32_t raw_crc) {
  s.Update("C", 1);
  s.UpdateU64(raw_crc);
}

void DigestZeroRange(Sha256Stream& s, uint64_t offset, uint64_t length) {
  s.Update("Z", 1);
  s.UpdateU64(offset);
  s.UpdateU64(length);
}

}  // namespace asr::replication
