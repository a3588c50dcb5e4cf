// asr/replication/protocol.h: the replication wire protocol between a
// primary host (sender) and a recovery host (receiver), carried over any
// asr::net::ByteStream (TLS 1.3 with mutual certificates in production).
//
// Every message is a frame:
//
//   +--------+------+-------+----------+-------------+-------------+------------+
//   | magic  | type | flags | reserved | payload_len | payload_crc | header_crc |
//   | u32    | u8   | u8    | u16      | u32         | u32 CRC-32C | u32 CRC-32C|
//   +--------+------+-------+----------+-------------+-------------+------------+
//   followed by payload_len bytes (at most kMaxPayload). All integers are
//   little-endian; header_crc covers the 16 bytes before it.
//
// A session (sender S, receiver R):
//
//   S: HELLO {min_version, max_version, replication_id, source_disk_id,
//             virtual_size, block_size, source_name}
//   R: HELLO_REPLY {status, message, version, has_replica, replication_id,
//                   current_cycle, virtual_size, block_size}
//      (a refusal carries only status and message: every replica field is
//       empty, so a peer that may not write learns nothing of the replica)
//   S: CYCLE_START {cycle, base_cycle, mode, flags(app-consistent, full),
//                   source_time_us}       cycle = HELLO_REPLY's current_cycle
//                                         + 1 (1 for a new replica), always
//   R: CYCLE_READY {status, message}
//   S: BLOCK {offset, length, codec, raw_crc32c, payload}      (0..n)
//      BLOCK_GROUP {count, codec, raw_crc32c, count x {offset, length},
//                   payload}                  (0..n; version 2 and later)
//      ZERO_RANGE {offset, length}                             (0..n)
//   S: CYCLE_END {blocks, zero_ranges, raw_bytes, cycle_digest}
//   R: CYCLE_ACK {status, message, cycle, point_id}   -- only after the
//                                                        point is durable
//   (S may start another CYCLE_START, a VERIFY_REQUEST, or close the stream.)
//
// Verification (version 4 and later; in place of a CYCLE_START, and the
// session is back where a CYCLE_START may come after it, so cycles and
// verifications share one connection):
//
//   S: VERIFY_REQUEST {hash_kind, seed, block_size, first_block, block_count}
//   R: VERIFY_DIGESTS {first_block, count, count x 32-byte digest}  (0..n,
//                      each at most kMaxVerifyDigests, in block order)
//   R: VERIFY_END {status, point_id, blocks}
//
// The receiver digests each block of its LATEST point (the data a restore
// of that point reads) with the sender's BlockHasher (the kind and seed of
// the sender's manifest), so that the digests are those the manifest
// records for the same data; zero blocks are kZeroDigest. A request the
// receiver cannot serve (no replica, another block size, a range outside
// the replica) is answered with VERIFY_END carrying the error and no
// digests; a failure while reading ends the digests early with an error
// VERIFY_END. Either way the session stays usable. Senders send
// VERIFY_REQUEST only when HELLO_REPLY's version is 4 or more; an older
// receiver would answer it with an ERROR (protocol violation).
//
// A BLOCK_GROUP carries several whole blocks (adjacent or not) compressed
// together as one zstd frame, which compresses better and faster than one
// frame per block; raw_crc32c covers all their bytes in order. For the
// cycle digest and the CYCLE_END counts it stands for its blocks, each as a
// BLOCK would. Senders use it only when HELLO_REPLY's version is 2 or more.
// Its codec is 0 (raw), 1 (zstd frame) or, version 6 and later, 2: the
// next flushed piece of the cycle's one zstd stream (long_range_codec.h),
// which decodes only after the cycle's earlier codec-2 groups, in the order
// they were sent; a receiver that negotiated an older version refuses it.
//
// cycle_digest is SHA-256 over the cycle's frames in the order they are
// sent. Version 3 and later ("by CRC"): for each block, groups expanded,
// "P"|offset|length, and after each BLOCK's or BLOCK_GROUP's blocks
// "C"|raw_crc32c; for each ZERO_RANGE "Z"|offset|length. Versions 1 and 2:
// for each block "B"|offset|length|SHA-256(raw data), and "Z"|offset|length.
// The receiver recomputes it and refuses the cycle (DataLoss) on any
// mismatch, and on CYCLE_END counts (blocks, zero ranges, raw bytes) that
// differ from what it received; a BLOCK or BLOCK_GROUP whose decoded data
// fails its raw_crc32c is DataLoss too.
//
// Why the version-3 digest need not hash the data with SHA-256 (which cost
// the receiver a third of its CPU in an initial cycle, as much as the
// decompression): what each check has to catch, and what catches it.
//  - Bytes altered on the wire: the transport (TLS 1.3, AES-GCM on every
//    record) authenticates them; each frame also carries CRC-32C of its
//    header and payload.
//  - A block decoded wrongly on the receiver (codec or memory fault): the
//    CRC-32C of the decoded bytes, computed by the sender over the very bytes
//    it compressed, is checked against every decoded block group (a random
//    error passes with probability 2^-32 per frame; nothing here is chosen by
//    an adversary, who cannot get past the authenticated transport).
//  - A block missing, duplicated, reordered or written at another offset
//    (a framing or pipeline bug on either side): the digest chains every
//    offset, length and CRC in frame order, so the sender's and the
//    receiver's sequences must agree exactly, with the counts.
// SHA-256 of the data thus added nothing the receiver can check that the CRC
// does not, since the receiver could only compare it with the sender's own
// claim. The sender still hashes each block for its manifest with a 128-bit
// digest (change detection, where a 32-bit CRC would be too weak across
// millions of blocks; see BlockHasher in digest.h). Senders use the
// version-3 digest only when HELLO_REPLY's version is 3 or more; a receiver
// checks the digest of the version it negotiated (ServeOptions can pin it to
// an older one).
//
// Resume (version 5 and later): an interrupted cycle continues where the
// receiver's durable data ends instead of starting over.
//
//   S: CYCLE_START {..., plan_id}     plan_id: SHA-256 of everything that
//                                     fixes the cycle's frame sequence (the
//                                     replication, cycle, base, mode, flags,
//                                     block and chunk sizes, the planned runs
//                                     and the source chain's fingerprints)
//   R: CYCLE_READY {status, ..., resume_item, resume_bytes}
//   S: (the frames of work items resume_item, resume_item + 1, ...)
//      CYCLE_CHECKPOINT {next_item, blocks, zero_ranges, raw_bytes}
//                                     after each work item's frames
//   S: CYCLE_END (counts and digest of the WHOLE cycle, as ever)
//
// A work item is up to SendOptions::read_chunk_bytes of planned blocks (one
// block group, or a zero range); a version-5 sender emits each item's frames
// together (never holding blocks back for the next item), so the frames up
// to a checkpoint are the same on every attempt with the same plan_id. The
// receiver keeps the received frames (journal or the first cycle's new
// replica) up to the last checkpoint it got, with the counts and the cycle
// digest's running state there; it makes them durable every
// ReplicaOptions::resume_sync_bytes and whenever a cycle is interrupted (the
// connection breaks or the receiver closes). A CYCLE_START of the same
// cycle, base and plan_id then gets resume_item > 0: the sender re-reads
// and re-digests items before it locally (no frame is sent for them) and
// sends from there; the CYCLE_END digest chains the whole cycle, so the
// data kept and the data sent after the resume are checked together. Any
// other CYCLE_START discards the kept frames (resume_item 0). A
// CYCLE_CHECKPOINT whose counts differ from the receiver's is DataLoss.
// The fields after a version-4 payload are sent only when HELLO_REPLY's
// version is 5 or more (an older peer's Decode refuses trailing bytes).
//
// On a failure either side may send ERROR {code, message} instead of the
// expected frame and close.
//
//   ASR_RETURN_IF_ERROR(WriteMessage(stream, hello));
//   ASR_ASSIGN_OR_RETURN(Frame f, ReadFrame(stream));
//   ASR_ASSIGN_OR_RETURN(HelloReply reply, HelloReply::Decode(f));
#ifndef ASR_REPLICATION_PROTOCOL_H_
#define ASR_REPLICATION_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/net/stream.h"
#include "asr/replication/digest.h"

namespace asr::replication {

inline constexpr uint32_t kFrameMagic = 0x46525341;  // "ASRF"
// 2: BLOCK_GROUP; 3: cycle digest by CRC; 4: VERIFY_REQUEST; 5: resume; 6: the long
// codec (BLOCK_GROUP codec 2, long_range_codec.h).
inline constexpr uint32_t kProtocolVersion = 6;
// The first version whose cycle digest chains CRC-32Cs instead of SHA-256s.
inline constexpr uint32_t kDigestByCrcVersion = 3;
// The first version that serves VERIFY_REQUEST.
inline constexpr uint32_t kVerifyVersion = 4;
// The first version that resumes an interrupted cycle (see "Resume" above).
inline constexpr uint32_t kResumeVersion = 5;
// The first version whose BLOCK_GROUPs may carry codec 2 (kZstdLong): the
// cycle's groups as the pieces of one zstd stream with long-distance
// matching (long_range_codec.h), decoded in the order they are sent.
inline constexpr uint32_t kLongCodecVersion = 6;
inline constexpr uint32_t kMinProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 20;
inline constexpr uint32_t kMaxPayload = 16u << 20;
inline constexpr uint32_t kMaxBlockSize = 4u << 20;
inline constexpr uint32_t kMinBlockSize = 4096;

enum class FrameType : uint8_t {
  kHello = 1,
  kHelloReply = 2,
  kCycleStart = 3,
  kCycleReady = 4,
  kBlock = 5,
  kZeroRange = 6,
  kCycleEnd = 7,
  kCycleAck = 8,
  kError = 9,
  kBlockGroup = 10,
  kVerifyRequest = 11,  // version 4 and later
  kVerifyDigests = 12,
  kVerifyEnd = 13,
  kCycleCheckpoint = 14,  // version 5 and later
};
const char* FrameTypeName(FrameType t);

// How the sender found the cycle's changes (informational on the receiver).
enum class CycleMode : uint8_t { kInitial = 1, kTracked = 2, kScan = 3, kDifferencing = 4 };
const char* CycleModeName(CycleMode m);  // "initial", ...
absl::StatusOr<CycleMode> ParseCycleMode(const std::string& name);

struct Frame {
  FrameType type = FrameType::kError;
  uint8_t flags = 0;
  std::string payload;
};

// Encodes a frame header + payload into one buffer.
std::string EncodeFrame(FrameType type, const std::string& payload, uint8_t flags = 0);

// Appends the frame whose payload is `head` followed by `body` to *out
// (the same bytes as EncodeFrame of their concatenation, without the copy).
void AppendFrame(std::string* out, FrameType type, absl::string_view head, absl::string_view body);

// Reads one frame. OutOfRange when the peer closed cleanly before it;
// DataLoss for a bad magic or checksum (also when a plain client speaks
// something else); Unavailable when the connection broke.
absl::StatusOr<Frame> ReadFrame(net::ByteStream& stream);
// As ReadFrame, into *f, reusing its payload's memory.
absl::Status ReadFrameInto(net::ByteStream& stream, Frame* f);

absl::Status WriteFrame(net::ByteStream& stream, FrameType type, const std::string& payload);

// Sends ERROR{status} (best effort) — used before closing on a failure.
void SendError(net::ByteStream& stream, const absl::Status& status);

// The status carried by an ERROR frame (or InvalidArgument when `f` is not
// one). When `f` is an ERROR frame the peer's code and message are returned,
// prefixed with "peer: ".
absl::Status ErrorFromFrame(const Frame& f);

// FailedPrecondition "protocol violation: expected X, got Y" (or the
// peer's error when `got` is ERROR).
absl::Status Unexpected(const Frame& got, FrameType expected);

// What a peer may send as an identifier (HELLO's replication_id and
// source_disk_id; a replica's writer name): 1..kMaxIdentifierBytes bytes of
// ASCII letters, digits, '-', '_', '.' and ':', not starting with '.'; a
// source_disk_id may also hold '{' and '}' (the disk formats give a GUID in
// braces) and may be empty (a raw disk has none). They become part of the
// replica's state file, so nothing else is accepted: InvalidArgument naming
// the field, the rule and (escaped, truncated) what was received.
inline constexpr size_t kMaxIdentifierBytes = 128;
// HELLO's source_name: informational, at most this many bytes of valid
// UTF-8 without control characters; may be empty.
inline constexpr size_t kMaxSourceNameBytes = 256;
absl::Status CheckIdentifier(absl::string_view field, absl::string_view value);
absl::Status CheckSourceDiskId(absl::string_view value);
absl::Status CheckDisplayName(absl::string_view field, absl::string_view value, size_t max_bytes);
// `s` C-escaped and cut to `max` bytes (with "..." when cut), for messages
// that quote what a peer sent.
std::string EscapeForMessage(absl::string_view s, size_t max = 64);

struct Hello {
  uint32_t min_version = kMinProtocolVersion;
  uint32_t max_version = kProtocolVersion;
  std::string replication_id;
  std::string source_disk_id;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;
  std::string source_name;

  std::string Encode() const;
  // InvalidArgument for a malformed frame or an identifier that breaks the
  // rules above (CheckIdentifier); FailedPrecondition for a version range
  // this side does not speak.
  static absl::StatusOr<Hello> Decode(const Frame& f);
};

struct HelloReply {
  absl::Status status;
  uint32_t version = kProtocolVersion;
  bool has_replica = false;
  std::string replication_id;
  uint64_t current_cycle = 0;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;

  std::string Encode() const;
  static absl::StatusOr<HelloReply> Decode(const Frame& f);
};

inline constexpr uint8_t kCycleAppConsistent = 1;
inline constexpr uint8_t kCycleFull = 2;  // a full copy: not a delta over base_cycle

struct CycleStart {
  uint64_t cycle = 0;
  uint64_t base_cycle = 0;
  CycleMode mode = CycleMode::kInitial;
  uint8_t flags = 0;
  int64_t source_time_us = 0;

  // Version 5: the plan's identity (see "Resume"); encoded only when set.
  bool resumable = false;
  Digest plan_id = {};

  bool app_consistent() const { return flags & kCycleAppConsistent; }
  bool full() const { return flags & kCycleFull; }
  std::string Encode() const;
  static absl::StatusOr<CycleStart> Decode(const Frame& f);
};

// CYCLE_READY and CYCLE_ACK carry a status; ACK also the committed point.
struct CycleReply {
  absl::Status status;
  uint64_t cycle = 0;
  uint64_t point_id = 0;
  // CYCLE_READY of version 5 (encoded only when has_resume): the first work
  // item the receiver still needs and the raw bytes of blocks it holds.
  bool has_resume = false;
  uint64_t resume_item = 0;
  uint64_t resume_bytes = 0;

  std::string Encode() const;
  static absl::StatusOr<CycleReply> Decode(const Frame& f);
};

struct BlockHeader {
  uint64_t offset = 0;
  uint32_t length = 0;  // decoded size
  uint8_t codec = 0;
  uint32_t raw_crc = 0;
};
inline constexpr size_t kBlockHeaderSize = 17;
void EncodeBlockHeader(const BlockHeader& h, uint8_t out[kBlockHeaderSize]);
// Parses the header at the start of a BLOCK payload; the rest is the data.
absl::StatusOr<BlockHeader> DecodeBlockHeader(const std::string& payload);

struct BlockGroupEntry {
  uint64_t offset = 0;
  uint32_t length = 0;
};
struct BlockGroupHeader {
  uint8_t codec = 0;
  uint32_t raw_crc = 0;  // of all the blocks' bytes, in order
  std::vector<BlockGroupEntry> blocks;
  uint64_t raw_bytes = 0;  // the sum of the lengths
  size_t data_pos = 0;     // where the encoded data starts in the payload
};
inline constexpr uint32_t kMaxGroupBlocks = 4096;
// Appends a BLOCK_GROUP payload's header (the data follows it) to *out.
void EncodeBlockGroupHeader(const BlockGroupHeader& h, std::string* out);
// Parses a BLOCK_GROUP payload's header; InvalidArgument when malformed, or
// when it announces more than kMaxGroupBlocks blocks or kMaxPayload bytes.
absl::StatusOr<BlockGroupHeader> DecodeBlockGroupHeader(absl::string_view payload);

struct ZeroRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string Encode() const;
  static absl::StatusOr<ZeroRange> Decode(const Frame& f);
};

struct CycleEnd {
  uint64_t blocks = 0;
  uint64_t zero_ranges = 0;
  uint64_t raw_bytes = 0;
  Digest digest = {};
  std::string Encode() const;
  static absl::StatusOr<CycleEnd> Decode(const Frame& f);
};

// CYCLE_CHECKPOINT (version 5): the frames of work items before next_item
// were all sent; the cycle's counts so far.
struct CycleCheckpoint {
  uint64_t next_item = 0;
  uint64_t blocks = 0;
  uint64_t zero_ranges = 0;
  uint64_t raw_bytes = 0;
  std::string Encode() const;
  static absl::StatusOr<CycleCheckpoint> Decode(const Frame& f);
};

// VERIFY_REQUEST: digest these blocks of the latest point with this hasher.
struct VerifyRequest {
  BlockHasher hasher;
  uint32_t block_size = 0;
  uint64_t first_block = 0;
  uint64_t block_count = 0;

  std::string Encode() const;
  // InvalidArgument for a malformed frame or an unknown hash kind.
  static absl::StatusOr<VerifyRequest> Decode(const Frame& f);
};

// The most digests one VERIFY_DIGESTS frame carries (128 KiB of payload).
inline constexpr uint32_t kMaxVerifyDigests = 4096;

// VERIFY_DIGESTS: the digests of blocks first_block, first_block + 1, ...
struct VerifyDigests {
  uint64_t first_block = 0;
  std::vector<Digest> digests;  // 1..kMaxVerifyDigests

  std::string Encode() const;
  // Into *out, reusing its memory. InvalidArgument when malformed, empty or
  // over kMaxVerifyDigests.
  static absl::Status DecodeInto(const Frame& f, VerifyDigests* out);
};

// VERIFY_END: the outcome, the point digested and how many blocks were sent.
struct VerifyEnd {
  absl::Status status;
  uint64_t point_id = 0;
  uint64_t blocks = 0;

  std::string Encode() const;
  static absl::StatusOr<VerifyEnd> Decode(const Frame& f);
};

// Folds one BLOCK / ZERO_RANGE into a cycle digest (see the file comment;
// versions 1 and 2).
void DigestBlock(Sha256Stream& s, uint64_t offset, uint32_t length, const Digest& data_sha);
void DigestZeroRange(Sha256Stream& s, uint64_t offset, uint64_t length);
// Version 3 and later: one block's place ("P"), then, after a frame's blocks,
// the frame's raw_crc32c ("C").
void DigestBlockPlace(Sha256Stream& s, uint64_t offset, uint32_t length);
void DigestFrameCrc(Sha256Stream& s, uint32_t raw_crc);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_PROTOCOL_H_
