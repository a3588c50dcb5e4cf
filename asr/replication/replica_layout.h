// asr/replication/replica_layout.h (internal to asr/replication): the
// replica directory's file layout while views exist (replica_overlay.h),
// changed crash-safely, and its recovery.
//
// A replica is one file (DIR/replica.vhdx) or, once frozen, a base
// (DIR/base-G.vhdx, never written again) and DIR/replica.vhdx, a
// differencing disk over it that takes the cycles. While failed over, the
// replica's latest point is held in DIR/latest-G.vhdx (the state's
// replica_file names it) and DIR/replica.vhdx is the failover view.
//
// Every change of the layout is one transaction over the state file:
//   1. new files are made in full under names nobody uses yet (a crash
//      leaves them as debris, removed by recovery);
//   2. the next state is saved with the steps that remain (renames,
//      removals, a merge log's write into the base): the commit point;
//   3. the steps are done (each is idempotent: see ReplicaOverlayStep in
//      asr/model/replication.proto), the directory fsynced, an adopted
//      replica's hard link pointed at DIR/replica.vhdx again;
//   4. the state is saved without the steps.
// Recovery (RecoverLayout, from ReplicaStore::Open and every overlay
// function) does 3 and 4 for a state that still lists steps, merges a
// frozen replica whose last view is gone, and removes debris.
//
//   ASR_RETURN_IF_ERROR(RecoverLayout(dir, &state));   // apply lock held
//   ASR_RETURN_IF_ERROR(FreezeReplica(dir, &state));
#ifndef ASR_REPLICATION_REPLICA_LAYOUT_H_
#define ASR_REPLICATION_REPLICA_LAYOUT_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {

// A name from the state: absolute as it is, else under `dir`.
std::string LayoutPath(const std::string& dir, const std::string& name);
// ".vhd" or ".vhdx": the extension of the replica's files.
std::string LayoutExtension(const ReplicaStore::State& s);
// The VM's disk in the directory: "replica.vhdx" (or "replica.vhd").
std::string VmDiskName(const ReplicaStore::State& s);

// Saves `next` (whose overlay.pending lists the remaining steps), does the
// steps and saves it again without them; *state becomes it. A failure
// before the first save leaves *state and the files as they were; after
// it, recovery finishes the change.
absl::Status CommitLayout(const std::string& dir, ReplicaStore::State next,
                          ReplicaStore::State* state);

// Finishes an interrupted change, merges a frozen replica without views
// (and not failed over), removes debris of changes that did not reach
// their commit point. The caller holds the exclusive apply lock.
absl::Status RecoverLayout(const std::string& dir, ReplicaStore::State* state);

// Freezes the replica (the file comment) when it is one file: O(1).
absl::Status FreezeReplica(const std::string& dir, ReplicaStore::State* state);
// Merges a frozen replica back into one file: its own blocks are copied
// into a log (merge-G.blog), the log written into the base, the base
// renamed over DIR/replica.vhdx. Cost: what was replicated since the freeze.
absl::Status MergeReplica(const std::string& dir, ReplicaStore::State* state);

// Tests: called at named steps ("freeze-linked", "freeze-made", "saved",
// "step", "steps-done", "merge-log", "view-made") so that a test can kill
// the process between them. Not thread-safe; null to clear.
void SetLayoutHookForTesting(std::function<void(const char* step)> hook);
void LayoutHook(const char* step);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_REPLICA_LAYOUT_H_
