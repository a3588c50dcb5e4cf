// asr/replication/block_log.h: an append-only file of disk blocks, used on
// the recovery side both as a cycle's redo journal (the blocks received,
// applied to the replica after the cycle is sealed) and as a recovery
// point's reverse delta (the blocks an older point had where the next
// kept point differs).
//
// Layout (little-endian):
//   header  "ASRBLOG1" | version u32 | cycle u64 | block_size u32 |
//           virtual_size u64 | crc u32                               (36 bytes)
//   record  type u8 | offset u64 | length u64 | codec u8 | raw_crc u32 |
//           payload_len u32 | payload_crc u32 | header_crc u32 | payload
//   seal    a record of type kSeal whose offset is the number of records
//           before it, length the raw bytes, payload the cycle digest.
// A log is valid only when sealed: a writer seals it (fsync), then renames
// the temporary file into place and fsyncs the directory, so a crash leaves
// either no log or a complete one.
//
//   BlockLogWriter w;
//   ASR_RETURN_IF_ERROR(w.Create(path, cycle, block_size, virtual_size));
//   ASR_RETURN_IF_ERROR(w.AppendBlock(offset, len, codec, raw_crc, payload));
//   ASR_RETURN_IF_ERROR(w.Seal(digest));            // durable at `path`
//   ASR_ASSIGN_OR_RETURN(auto r, BlockLogReader::Open(path));
//   for (const BlockLogRecord& rec : r->records()) { r->ReadData(rec, &bytes); }
#ifndef ASR_REPLICATION_BLOCK_LOG_H_
#define ASR_REPLICATION_BLOCK_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/platform/file.h"
#include "asr/replication/digest.h"

namespace asr::replication {

// kGroup: a cycle journal's copy of a BLOCK_GROUP frame's payload
// (protocol.h), offset = its first block's, length = its raw bytes.
enum class RecordType : uint8_t { kBlock = 1, kZero = 2, kSeal = 3, kGroup = 4 };

struct BlockLogRecord {
  RecordType type = RecordType::kBlock;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint8_t codec = 0;
  uint32_t raw_crc = 0;
  uint32_t payload_len = 0;
  uint32_t payload_crc = 0;
  uint64_t payload_pos = 0;  // file offset of the payload
};

// Thread safety: none (one owner).
class BlockLogWriter {
 public:
  BlockLogWriter() = default;
  ~BlockLogWriter();  // an unsealed log's temporary file is removed
  BlockLogWriter(const BlockLogWriter&) = delete;
  BlockLogWriter& operator=(const BlockLogWriter&) = delete;

  // Starts `path`.tmp.
  absl::Status Create(const std::string& path, uint64_t cycle, uint32_t block_size,
                      uint64_t virtual_size);
  absl::Status AppendBlock(uint64_t offset, uint64_t length, uint8_t codec, uint32_t raw_crc,
                           absl::string_view payload);
  absl::Status AppendZero(uint64_t offset, uint64_t length);
  absl::Status AppendGroup(uint64_t first_offset, uint64_t raw_bytes,
                           absl::string_view group_payload);
  // Appends the seal, fsyncs, renames to `path`, fsyncs the directory.
  absl::Status Seal(const Digest& digest);
  // Removes the temporary file.
  void Abandon();
  // Resume (protocol 5, partial_cycle.h): makes everything appended so
  // far durable (fsync of the temporary file).
  absl::Status Sync();
  // Continues `path`.tmp as left by an interrupted cycle: cut to its header
  // and the first `bytes` bytes of records (`records` of them, `raw_bytes`
  // of blocks), then appended to.
  absl::Status Reopen(const std::string& path, uint64_t bytes, uint64_t records,
                      uint64_t raw_bytes);
  // Closes the temporary file and keeps it (for a later Reopen).
  void Detach();

  uint64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }  // appended so far, headers included

 private:
  absl::Status Append(RecordType type, uint64_t offset, uint64_t length, uint8_t codec,
                      uint32_t raw_crc, absl::string_view payload);
  absl::Status FlushBuffer();

  std::string path_, tmp_;
  std::unique_ptr<platform::File> file_;
  std::string buf_;
  uint64_t records_ = 0;
  uint64_t raw_bytes_ = 0;
  uint64_t bytes_ = 0;
};

// Thread safety: const methods may be called concurrently.
class BlockLogReader {
 public:
  // Reads the header and every record header; FailedPrecondition/DataLoss
  // for an unsealed or corrupt log.
  static absl::StatusOr<std::unique_ptr<BlockLogReader>> Open(const std::string& path);
  // As Open, over an already open file (an in-memory one in the fuzz
  // target); `path` names it in messages.
  static absl::StatusOr<std::unique_ptr<BlockLogReader>> Open(std::unique_ptr<platform::File> file,
                                                              const std::string& path);
  ~BlockLogReader();

  uint64_t cycle() const { return cycle_; }
  uint32_t block_size() const { return block_size_; }
  uint64_t virtual_size() const { return virtual_size_; }
  const Digest& digest() const { return digest_; }
  // The block, group and zero records, in file order (the seal excluded).
  const std::vector<BlockLogRecord>& records() const { return records_; }

  // Reads a record's stored payload (verifying payload_crc).
  absl::Status ReadPayload(const BlockLogRecord& rec, std::string* out) const;
  // Decodes a kBlock record into its raw bytes (verifying raw_crc).
  absl::Status ReadData(const BlockLogRecord& rec, std::string* out) const;

 private:
  BlockLogReader() = default;
  std::string path_;
  std::unique_ptr<platform::File> file_;
  uint64_t cycle_ = 0;
  uint32_t block_size_ = 0;
  uint64_t virtual_size_ = 0;
  Digest digest_ = {};
  std::vector<BlockLogRecord> records_;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_BLOCK_LOG_H_
