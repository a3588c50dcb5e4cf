// asr/replication/replica_state.h (internal to asr/replication): the
// replica directory's state file, replica.state, and the in-memory form
// ReplicaStore works with. The file is the model's ReplicaState message
// (asr/model/replication.proto) as JSON followed by a line "crc <CRC-32C
// of the JSON>", replaced atomically. A file in the older hand-written text
// format ("asr-replica-state 1" ...) is still read; ReplicaStore::Open
// rewrites it in the current format once.
//
//   ASR_ASSIGN_OR_RETURN(LoadedState loaded, LoadReplicaState(dir));
//   loaded.state.current_cycle = 7;
//   ASR_RETURN_IF_ERROR(SaveReplicaState(dir, loaded.state));
#ifndef ASR_REPLICATION_REPLICA_STATE_H_
#define ASR_REPLICATION_REPLICA_STATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/model/replication.pb.h"
#include "asr/replication/protocol.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {

inline constexpr char kReplicaStateFile[] = "replica.state";

// What is committed. Thread safety: a plain value; ReplicaStore guards its
// copy with its mutex.
struct ReplicaStore::State {
  bool has_replica = false;
  std::string writer;  // the certificate CN allowed to write; empty: none recorded yet
  std::string replication_id;
  std::string source_disk_id;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;
  std::string replica_file = "replica.vhdx";
  uint64_t current_cycle = 0;
  uint64_t generation = 0;
  std::vector<RecoveryPoint> points;
  // The policy last used, for recovery by a lister/restorer.
  int additional_points = 0;
  int64_t interval_s = 3600;
  int64_t retention_s = 86400;
  // An apply in progress (phase applying).
  bool applying = false;
  CycleStart apply_start;
  std::string apply_journal;
  std::string apply_undo;
  int64_t apply_time_us = 0;
  // Views and failover (replica_overlay.h, replica_layout.h): the frozen
  // base, the views over it, the failover, and an interrupted layout
  // change's remaining steps.
  model::ReplicaOverlayLayout overlay;
  model::ReplicaFailoverState failover;
};

// The state as the model's message, and back (the latest point is marked).
model::ReplicaState ReplicaStateToProto(const ReplicaStore::State& state);
ReplicaStore::State ReplicaStateFromProto(const model::ReplicaState& proto);

// The state file's text: the message's JSON and its checksum line.
std::string SerializeReplicaState(const ReplicaStore::State& state);

// Parses either format; DataLoss naming `path` when the file is corrupt,
// and when a file name in it is not a plain name in its expected place
// (CheckStatePaths) or an identifier breaks protocol.h's rules: a state
// file is never trusted to name a file outside the directory.
// *legacy (may be NULL) says whether it was the older text format.
absl::StatusOr<ReplicaStore::State> ParseReplicaState(const std::string& path,
                                                      const std::string& text, bool* legacy);

// The names a state file may hold: replica_file a plain name in the
// directory ("replica.vhdx"), each point's delta_file and the apply's undo
// "points/NAME", the apply's journal "journal/NAME"; NAME is 1..255 bytes
// of ASCII letters, digits, '-', '_' and '.', not starting with '.' (so no
// '/', "..", absolute path or NUL). DataLoss naming `path` and the entry.
absl::Status CheckStatePaths(const std::string& path, const ReplicaStore::State& state);

struct LoadedState {
  ReplicaStore::State state;
  bool legacy = false;  // read from the older text format: rewrite it
};

// Reads dir/replica.state; an empty State when there is none.
absl::StatusOr<LoadedState> LoadReplicaState(const std::string& dir);

// Replaces dir/replica.state atomically (temp, fsync, rename, fsync dir).
absl::Status SaveReplicaState(const std::string& dir, const ReplicaStore::State& state);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_REPLICA_STATE_H_
