// asr/replication/replica_repair.h (internal to asr/replication): making a
// truncated replica file readable again, so that verification can find what
// it lost and a resynchronization can send only that.
//
// A replica.vhdx cut short (a copy that stopped early, a file system that
// lost its tail) keeps its header, log, block table and metadata at the
// start; only payload blocks at the end are gone, and the block table still
// points at them. Extending the file (sparse, nothing written) back past the
// farthest place the table can point to makes the structure whole again: the
// lost blocks read as zeros, so their digests differ from what was sent and
// the next resynchronization resends exactly those. When the start itself is
// damaged the structure is unusable: the error says so, and the cheapest
// correct repair is a new initial replication into an empty directory.
//
//   ASR_ASSIGN_OR_RETURN(bool extended, ExtendTruncatedReplica(path, size));
#ifndef ASR_REPLICATION_REPLICA_REPAIR_H_
#define ASR_REPLICATION_REPLICA_REPAIR_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace asr::replication {

// The most a dynamic VHDX of `virtual_size` can need: its regions at the
// start (headers, log, block table, metadata) and one payload block per
// data block (the file is sparse beyond what was written).
uint64_t MaxReplicaFileSize(uint64_t virtual_size);

// When the disk at `path` does not open because its block table points past
// the end of the file, extends the file to MaxReplicaFileSize (fsync) and
// returns true; false when it opens as it is. FailedPrecondition naming the
// file and the cause when it does not open even then ("the replica's VHDX
// structure is unusable ... run a new initial replication").
absl::StatusOr<bool> ExtendTruncatedReplica(const std::string& path, uint64_t virtual_size);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_REPLICA_REPAIR_H_
