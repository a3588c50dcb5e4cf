// asr/store/journal_store.h: the embedded state store, a directory holding a
// snapshot plus an append-only journal.
//
// Layout of a state directory:
//   LOCK                    flock()ed by the one writer; holds its PID
//   SNAPSHOT                "ASRSNAP1" + one framed Snapshot record
//   journal-<gen>.log       "ASRJRNL1" + u32 schema version + u32 CRC-32C of
//                           those 12 bytes, then framed JournalRecords
// A frame is: u32 length (LE), u32 CRC-32C over the length bytes and the
// payload (LE), payload.
//
// The directory is created 0700 and every file in it 0600: the snapshot and
// the journal hold the vault's keys. A writable open tightens a directory or
// files found with looser modes (PermissionDenied when it cannot).
//
// Commit appends one framed record and fsyncs it. Compact writes a new
// SNAPSHOT (journal generation + 1) by write-fsync-rename, starts the next
// journal and deletes the old one; a crash between the steps is recovered on
// open.
//
// Recovery on open: a torn last record (short header, length past the end of
// the file, or a bad checksum on the final record, or a tail of zero bytes)
// is dropped, and a writable open truncates it away. A bad record before the
// tail is a DataLoss error naming the file and the offset: nothing is
// silently skipped. A snapshot with a newer schema version is refused.
//
//   JournalStoreOptions options;
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store,
//                        OpenJournalStore("/var/lib/asr", options));
#ifndef ASR_STORE_JOURNAL_STORE_H_
#define ASR_STORE_JOURNAL_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asr/store/state_store.h"

namespace asr::store {

// The schema version this build writes and the newest it reads.
inline constexpr uint32_t kSchemaVersion = 1;

struct JournalStoreOptions {
  // Open without the writer lock; Commit and Compact fail.
  bool read_only = false;
  // Create the directory and an empty store when missing (writable opens only).
  bool create_if_missing = true;
  // Compact automatically once the journal grows past this many bytes (0: never).
  uint64_t compact_after_bytes = 4 << 20;
};

// Opens (and recovers) the store in `dir`.
// Errors: FailedPrecondition "state directory DIR is in use by PID N" when
// another writer holds it; FailedPrecondition for a newer schema version;
// DataLoss for corruption before the tail; NotFound when `dir` has no store
// and create_if_missing is false or the open is read-only.
absl::StatusOr<std::unique_ptr<StateStore>> OpenJournalStore(const std::string& dir,
                                                             const JournalStoreOptions& options);

// File names inside a state directory (for tests and tools).
std::string SnapshotPath(const std::string& dir);
std::string JournalPath(const std::string& dir, uint64_t generation);
std::string LockPath(const std::string& dir);

}  // namespace asr::store

#endif  // ASR_STORE_JOURNAL_STORE_H_
