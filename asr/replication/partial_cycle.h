// asr/replication/partial_cycle.h (internal to asr/replication): what a
// replica directory holds of an interrupted cycle (protocol 5, protocol.h
// "Resume"), so that the cycle continues where it stopped.
//
//   journal/cycle-N.resume   this record (replaced atomically: temp, fsync,
//                            rename, fsync dir), CRC-32C checked
//   journal/cycle-N.blog.tmp a later cycle's journal: its first
//                            journal_bytes (after the header) are the frames
//                            up to the checkpoint, fsynced before the record
//   replica.vhdx.tmp         a first cycle's new replica (direct): flushed
//                            up to the checkpoint before the record
//
// A record is written only after the data it describes is durable, so a
// crash at any moment leaves either no record (the partial data is debris,
// deleted on recovery) or a record whose data is all there. The replica's
// state file is not touched: the replica stays on its last whole point, and
// no point lists or restores a partial cycle.
#ifndef ASR_REPLICATION_PARTIAL_CYCLE_H_
#define ASR_REPLICATION_PARTIAL_CYCLE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/replication/digest.h"
#include "asr/replication/protocol.h"

namespace asr::replication {

struct PartialCycle {
  // The cycle and the session it belongs to.
  uint64_t cycle = 0;
  uint64_t base_cycle = 0;
  uint8_t mode = 0;
  uint8_t flags = 0;
  Digest plan_id = {};
  std::string replication_id;
  std::string source_disk_id;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;
  bool direct = false;  // a first cycle written into the new replica
  // Where the kept data ends: the journal's bytes after its header and its
  // records (0 for a direct cycle).
  uint64_t journal_bytes = 0;
  uint64_t journal_records = 0;
  // The checkpoint: the sender's next work item and the counts so far.
  uint64_t next_item = 0;
  uint64_t blocks = 0;
  uint64_t zero_ranges = 0;
  uint64_t raw_bytes = 0;
  // The cycle digest's running state at the checkpoint.
  Sha256Stream digest;

  // Whether `start` and `hello` continue this cycle (same number, base,
  // mode, flags and plan; same replication, disk and geometry).
  bool Matches(const Hello& hello, const CycleStart& start) const;
};

std::string PartialCyclePath(const std::string& dir, uint64_t cycle);

// Writes the record durably (see above).
absl::Status SavePartialCycle(const std::string& dir, const PartialCycle& p);
// The record of `cycle` in `dir`; nullopt when there is none or it cannot be
// used (corrupt, another cycle, or its data is missing or short), in which
// case the caller discards the partial data.
std::optional<PartialCycle> LoadPartialCycle(const std::string& dir, uint64_t cycle,
                                             const std::string& direct_file);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_PARTIAL_CYCLE_H_
