#include "asr/store/journal_store.h"

#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/platform/file.h"
#include "asr/store/state_map.h"
#include "asr/store/store.pb.h"

namespace asr::store {
namespace {

constexpr char kSnapshotMagic[] = "ASRSNAP1";
constexpr char kJournalMagic[] = "ASRJRNL1";
constexpr size_t kMagicSize = 8;
constexpr size_t kJournalHeaderSize = 16;
constexpr size_t kFrameHeaderSize = 8;
constexpr uint32_t kMaxRecordSize = 256u << 20;
// The state directory and its files are the writer's alone: the vault's
// keys are in them.
constexpr platform::FileMode kStateDirectoryMode = 0700;
constexpr platform::FileMode kStateFileMode = 0600;

// The store's own files: read-write, created 0600 if missing, never
// through a symbolic link.
platform::OpenOptions ReadWriteCreate() {
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kReadWrite;
  o.create = true;
  o.no_follow = true;
  o.mode = kStateFileMode;
  return o;
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string Frame(absl::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  uint32_t crc = Crc32c(out.data(), 4);
  crc = Crc32cExtend(crc, payload.data(), payload.size());
  PutU32(&out, crc);
  out.append(payload.data(), payload.size());
  return out;
}

std::string JournalHeader() {
  std::string h(kJournalMagic, kMagicSize);
  PutU32(&h, kSchemaVersion);
  PutU32(&h, Crc32c(h.data(), h.size()));
  return h;
}

bool AllZero(absl::string_view s) {
  for (char c : s) {
    if (c != 0) return false;
  }
  return true;
}

std::string SchemaTooNew(const std::string& path, uint32_t version) {
  return absl::StrCat(path, " was written by a newer asr (state schema version ", version,
                      "); this build reads schema versions up to ", kSchemaVersion,
                      ": upgrade asr to open this state directory");
}

// The result of scanning a journal file.
struct JournalScan {
  std::vector<JournalRecord> records;
  uint64_t valid_size = 0;  // bytes up to the end of the last good record
  uint64_t file_size = 0;
};

// Whether a well-formed frame (length in bounds, checksum right) starts
// anywhere in `rest` at or after `from`. Only used on the rare path that must
// tell a torn tail from a damaged length field.
bool HasValidFrameAfter(absl::string_view rest, size_t from) {
  for (size_t p = from; p + kFrameHeaderSize <= rest.size(); ++p) {
    uint32_t len = GetU32(rest.data() + p);
    if (len == 0 || len > kMaxRecordSize || p + kFrameHeaderSize + len > rest.size()) continue;
    uint32_t crc =
        Crc32cExtend(Crc32c(rest.data() + p, 4), rest.data() + p + kFrameHeaderSize, len);
    if (crc == GetU32(rest.data() + p + 4)) return true;
  }
  return false;
}

absl::StatusOr<JournalScan> ScanJournal(const std::string& path, const std::string& data) {
  JournalScan scan;
  scan.file_size = data.size();
  if (data.size() < kJournalHeaderSize) {
    // A journal whose header was never completely written: empty.
    if (!AllZero(data) && !absl::StartsWith(absl::string_view(kJournalMagic, kMagicSize),
                                            data.substr(0, std::min(data.size(), kMagicSize)))) {
      return absl::DataLossError(absl::StrCat(path, ": offset 0: not an asr journal (bad header)"));
    }
    scan.valid_size = 0;
    return scan;
  }
  if (std::memcmp(data.data(), kJournalMagic, kMagicSize) != 0 ||
      GetU32(data.data() + 12) != Crc32c(data.data(), 12)) {
    return absl::DataLossError(absl::StrCat(path, ": offset 0: not an asr journal (bad header)"));
  }
  uint32_t version = GetU32(data.data() + 8);
  if (version > kSchemaVersion) return absl::FailedPreconditionError(SchemaTooNew(path, version));

  uint64_t off = kJournalHeaderSize;
  scan.valid_size = off;
  while (off < data.size()) {
    absl::string_view rest(data.data() + off, data.size() - off);
    if (rest.size() < kFrameHeaderSize) break;  // torn record header at the tail
    uint32_t len = GetU32(rest.data());
    uint32_t crc = GetU32(rest.data() + 4);
    if (len > kMaxRecordSize || kFrameHeaderSize + uint64_t{len} > rest.size()) {
      // A length running past the end is a torn append, unless good records
      // follow: then the length itself is damaged.
      if (AllZero(rest) ||
          (kFrameHeaderSize + uint64_t{len} > rest.size() && !HasValidFrameAfter(rest, 1))) {
        break;
      }
      return absl::DataLossError(
          absl::StrCat(path, ": offset ", off, ": corrupt journal record (length ", len, ")"));
    }
    uint32_t actual = Crc32c(rest.data(), 4);
    actual = Crc32cExtend(actual, rest.data() + kFrameHeaderSize, len);
    bool is_last = kFrameHeaderSize + len == rest.size();
    if (actual != crc) {
      if (is_last || AllZero(rest)) break;  // torn last record
      return absl::DataLossError(absl::StrCat(
          path, ": offset ", off,
          ": journal record checksum mismatch before the end of the journal; the state "
          "directory is damaged (restore it from a backup)"));
    }
    JournalRecord record;
    if (!record.ParseFromArray(rest.data() + kFrameHeaderSize, static_cast<int>(len))) {
      return absl::DataLossError(
          absl::StrCat(path, ": offset ", off, ": journal record does not parse"));
    }
    scan.records.push_back(std::move(record));
    off += kFrameHeaderSize + len;
    scan.valid_size = off;
  }
  return scan;
}

absl::StatusOr<Snapshot> ReadSnapshot(const std::string& path) {
  ASR_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  if (data.size() < kMagicSize + kFrameHeaderSize ||
      std::memcmp(data.data(), kSnapshotMagic, kMagicSize) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": offset 0: not an asr snapshot"));
  }
  const char* p = data.data() + kMagicSize;
  size_t avail = data.size() - kMagicSize - kFrameHeaderSize;
  uint32_t len = GetU32(p);
  uint32_t crc = GetU32(p + 4);
  if (len != avail) {
    return absl::DataLossError(absl::StrCat(path, ": offset ", kMagicSize, ": snapshot length ",
                                            len, " does not match file (", avail, " bytes)"));
  }
  uint32_t actual = Crc32cExtend(Crc32c(p, 4), p + kFrameHeaderSize, len);
  if (actual != crc) {
    return absl::DataLossError(
        absl::StrCat(path, ": offset ", kMagicSize, ": snapshot checksum mismatch"));
  }
  Snapshot snap;
  if (!snap.ParseFromArray(p + kFrameHeaderSize, static_cast<int>(len))) {
    return absl::DataLossError(absl::StrCat(path, ": snapshot does not parse"));
  }
  if (snap.schema_version() > kSchemaVersion) {
    return absl::FailedPreconditionError(SchemaTooNew(path, snap.schema_version()));
  }
  return snap;
}

class JournalStore final : public StateStore {
 public:
  JournalStore(std::string dir, JournalStoreOptions options)
      : dir_(std::move(dir)), options_(options) {}

  // Closing the lock file releases the lock.
  ~JournalStore() override = default;

  absl::Status Open() {
    absl::MutexLock l(&mu_);
    const bool exists = PathExists(dir_);
    if (!exists) {
      if (options_.read_only || !options_.create_if_missing) {
        return absl::NotFoundError(absl::StrCat("state directory ", dir_, " does not exist"));
      }
      ASR_RETURN_IF_ERROR(MakeDirectories(dir_, kStateDirectoryMode));
    }
    if (!options_.read_only) {
      ASR_RETURN_IF_ERROR(Lock());
      ASR_RETURN_IF_ERROR(TightenModes());
    }

    const std::string snap_path = SnapshotPath(dir_);
    Snapshot snap;
    if (PathExists(snap_path)) {
      ASR_ASSIGN_OR_RETURN(snap, ReadSnapshot(snap_path));
    } else {
      ASR_ASSIGN_OR_RETURN(std::vector<uint64_t> gens, ListJournalGenerations());
      bool stray = false;
      for (uint64_t g : gens) stray |= g > 1;
      if (stray) {
        return absl::DataLossError(absl::StrCat(snap_path,
                                                " is missing but later journals exist; the "
                                                "state directory is damaged"));
      }
      if (options_.read_only && gens.empty()) {
        return absl::NotFoundError(absl::StrCat(dir_, " holds no asr state"));
      }
      snap.set_schema_version(kSchemaVersion);
      snap.set_journal_generation(1);
      if (!options_.read_only) {
        ASR_RETURN_IF_ERROR(WriteSnapshot(snap));
      }
    }
    for (const SnapshotEntry& e : snap.entries()) data_[e.key()] = e.value();
    generation_ = snap.journal_generation();
    sequence_ = snap.last_sequence();

    const std::string jpath = JournalPath(dir_, generation_);
    if (PathExists(jpath)) {
      ASR_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(jpath));
      ASR_ASSIGN_OR_RETURN(JournalScan scan, ScanJournal(jpath, bytes));
      for (const JournalRecord& r : scan.records) {
        if (r.sequence() <= sequence_) continue;  // already in the snapshot
        if (r.sequence() != sequence_ + 1) {
          return absl::DataLossError(absl::StrCat(jpath, ": record sequence ", r.sequence(),
                                                  " follows ", sequence_, "; records are missing"));
        }
        Apply(r);
        sequence_ = r.sequence();
      }
      journal_size_ = scan.valid_size;
      if (!options_.read_only) {
        ASR_RETURN_IF_ERROR(OpenJournalForAppend(jpath, scan.valid_size < kJournalHeaderSize,
                                                 scan.valid_size, scan.file_size));
      }
    } else if (!options_.read_only) {
      ASR_RETURN_IF_ERROR(OpenJournalForAppend(jpath, true, 0, 0));
    }
    if (!options_.read_only) ASR_RETURN_IF_ERROR(RemoveOldJournals());
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Get(absl::string_view key) const override {
    absl::MutexLock l(&mu_);
    return GetFromStateMap(data_, key);
  }

  std::vector<std::pair<std::string, std::string>> Scan(absl::string_view prefix) const override {
    absl::MutexLock l(&mu_);
    return ScanStateMap(data_, prefix);
  }

  absl::Status Commit(const WriteBatch& batch) override {
    if (options_.read_only) {
      return absl::FailedPreconditionError(
          absl::StrCat("state directory ", dir_, " is open read-only"));
    }
    if (batch.empty()) return absl::OkStatus();
    absl::MutexLock l(&mu_);
    if (!healthy_.ok()) return healthy_;
    JournalRecord record;
    record.set_sequence(sequence_ + 1);
    for (const WriteBatch::Op& op : batch.ops()) {
      Mutation* m = record.add_mutations();
      m->set_kind(op.is_delete ? Mutation::DELETE : Mutation::PUT);
      m->set_key(op.key);
      if (!op.is_delete) m->set_value(op.value);
    }
    std::string payload = record.SerializeAsString();
    if (payload.size() > kMaxRecordSize) {
      return absl::InvalidArgumentError(absl::StrCat("batch of ", payload.size(),
                                                     " bytes exceeds the ", kMaxRecordSize,
                                                     "-byte record limit"));
    }
    std::string frame = Frame(payload);
    const std::string jpath = JournalPath(dir_, generation_);
    absl::Status s = platform::AddContext(
        platform::WriteFully(*journal_, journal_size_, frame.data(), frame.size()),
        absl::StrCat("cannot write ", jpath));
    if (s.ok())
      s = platform::AddContext(journal_->DataSync(), absl::StrCat("cannot fsync ", jpath));
    if (!s.ok()) {
      // Cut back to the last good record so the journal stays well-formed;
      // if that fails too, refuse further writes rather than risk a mix.
      if (!journal_->Truncate(journal_size_).ok()) healthy_ = s;
      return s;
    }
    journal_size_ += frame.size();
    Apply(record);
    sequence_ = record.sequence();
    if (options_.compact_after_bytes > 0 && journal_size_ > options_.compact_after_bytes) {
      return CompactLocked();
    }
    return absl::OkStatus();
  }

  absl::Status Compact() override {
    if (options_.read_only) {
      return absl::FailedPreconditionError(
          absl::StrCat("state directory ", dir_, " is open read-only"));
    }
    absl::MutexLock l(&mu_);
    return CompactLocked();
  }

  bool read_only() const override { return options_.read_only; }

 private:
  absl::Status Lock() {
    const std::string path = LockPath(dir_);
    absl::StatusOr<std::unique_ptr<platform::File>> lock =
        platform::Env::Default()->Open(path, ReadWriteCreate());
    if (!lock.ok()) return platform::AddContext(lock.status(), absl::StrCat("cannot open ", path));
    lock_ = std::move(*lock);
    if (absl::Status l = lock_->Lock(/*wait=*/false); !l.ok()) {
      if (platform::ErrorKindOf(l) != platform::ErrorKind::kWouldBlock) {
        return platform::AddContext(l, absl::StrCat("cannot lock ", path));
      }
      std::string pid = "unknown";
      auto contents = ReadFileToString(path);
      if (contents.ok() && !contents->empty()) {
        pid = std::string(absl::StripAsciiWhitespace(*contents));
      }
      lock_.reset();
      return absl::FailedPreconditionError(absl::StrCat(
          "state directory ", dir_, " is in use by PID ", pid,
          ": only one process may open it for writing; stop that process or use another "
          "state directory"));
    }
    std::string pid = absl::StrCat(platform::ProcessId(), "\n");
    ASR_RETURN_IF_ERROR(platform::AddContext(lock_->Truncate(0), "cannot write " + path));
    return platform::AddContext(platform::WriteFully(*lock_, 0, pid.data(), pid.size()),
                                "cannot write " + path);
  }

  // The directory holds the vault's keys: a writable open makes it 0700 and
  // the store's files 0600 when they are looser (made by an older version,
  // by hand, or under a permissive umask). Stricter modes are left alone.
  absl::Status TightenModes() {
    platform::Env* env = platform::Env::Default();
    {
      platform::OpenOptions o;
      o.directory = true;
      absl::StatusOr<std::unique_ptr<platform::File>> d = env->Open(dir_, o);
      if (!d.ok()) return platform::AddContext(d.status(), absl::StrCat("cannot open ", dir_));
      ASR_RETURN_IF_ERROR(TightenMode(**d, dir_, kStateDirectoryMode));
    }
    ASR_RETURN_IF_ERROR(TightenMode(*lock_, LockPath(dir_), kStateFileMode));
    std::vector<std::string> files = {SnapshotPath(dir_)};
    ASR_ASSIGN_OR_RETURN(std::vector<uint64_t> gens, ListJournalGenerations());
    for (uint64_t g : gens) files.push_back(JournalPath(dir_, g));
    for (const std::string& path : files) {
      // Not through a link, and without blocking on anything odd.
      platform::OpenOptions o;
      o.no_follow = true;
      o.non_blocking = true;
      absl::StatusOr<std::unique_ptr<platform::File>> f = env->Open(path, o);
      if (!f.ok()) {
        const platform::ErrorKind kind = platform::ErrorKindOf(f.status());
        if (kind == platform::ErrorKind::kNotFound || kind == platform::ErrorKind::kLoop) continue;
        return platform::AddContext(f.status(), absl::StrCat("cannot open ", path));
      }
      ASR_RETURN_IF_ERROR(TightenMode(**f, path, kStateFileMode));
    }
    return absl::OkStatus();
  }

  static absl::Status TightenMode(platform::File& file, const std::string& path,
                                  platform::FileMode wanted) {
    absl::StatusOr<platform::FileInfo> st = file.Stat();
    if (!st.ok()) return platform::AddContext(st.status(), absl::StrCat("cannot stat ", path));
    const platform::FileMode mode = st->permissions;
    if ((mode & ~wanted) == 0) return absl::OkStatus();
    if (absl::Status s = file.SetPermissions(mode & wanted); !s.ok()) {
      return platform::AddContext(s, absl::StrFormat("%s is mode %04o, open to other users, and "
                                                     "cannot be made %04o (it holds the vault's "
                                                     "keys)",
                                                     path, mode, wanted));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<uint64_t>> ListJournalGenerations() const {
    std::vector<uint64_t> out;
    absl::StatusOr<std::vector<std::string>> names = platform::Env::Default()->ListDirectory(dir_);
    if (!names.ok())
      return platform::AddContext(names.status(), absl::StrCat("cannot list ", dir_));
    for (const std::string& entry : *names) {
      absl::string_view name(entry);
      if (!absl::ConsumePrefix(&name, "journal-") || !absl::ConsumeSuffix(&name, ".log")) continue;
      uint64_t g;
      if (absl::SimpleAtoi(name, &g)) out.push_back(g);
    }
    return out;
  }

  absl::Status RemoveOldJournals() {
    ASR_ASSIGN_OR_RETURN(std::vector<uint64_t> gens, ListJournalGenerations());
    for (uint64_t g : gens) {
      if (g < generation_) (void)platform::Env::Default()->Unlink(JournalPath(dir_, g));
    }
    return absl::OkStatus();
  }

  absl::Status OpenJournalForAppend(const std::string& path, bool fresh, uint64_t valid_size,
                                    uint64_t file_size) {
    absl::StatusOr<std::unique_ptr<platform::File>> opened =
        platform::Env::Default()->Open(path, ReadWriteCreate());
    if (!opened.ok())
      return platform::AddContext(opened.status(), absl::StrCat("cannot open ", path));
    journal_ = std::move(*opened);
    platform::File& file = *journal_;
    ASR_RETURN_IF_ERROR(TightenMode(file, path, kStateFileMode));
    if (fresh) {
      std::string header = JournalHeader();
      ASR_RETURN_IF_ERROR(platform::AddContext(file.Truncate(0), "cannot truncate " + path));
      ASR_RETURN_IF_ERROR(platform::AddContext(
          platform::WriteFully(file, 0, header.data(), header.size()), "cannot write " + path));
      ASR_RETURN_IF_ERROR(platform::AddContext(file.Sync(), "cannot fsync " + path));
      ASR_RETURN_IF_ERROR(FsyncDirectory(dir_));
      journal_size_ = header.size();
      return absl::OkStatus();
    }
    if (file_size > valid_size) {
      // Drop the torn tail so new records follow the last good one.
      absl::Status s = file.Truncate(valid_size);
      if (s.ok()) s = file.Sync();
      if (!s.ok()) return platform::AddContext(s, "cannot truncate the torn tail of " + path);
    }
    journal_size_ = valid_size;
    return absl::OkStatus();
  }

  absl::Status WriteSnapshot(const Snapshot& snap) {
    std::string bytes(kSnapshotMagic, kMagicSize);
    bytes += Frame(snap.SerializeAsString());
    return WriteFileAtomically(SnapshotPath(dir_), bytes, kStateFileMode);
  }

  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Snapshot snap;
    snap.set_schema_version(kSchemaVersion);
    snap.set_journal_generation(generation_ + 1);
    snap.set_last_sequence(sequence_);
    for (const auto& [k, v] : data_) {
      SnapshotEntry* e = snap.add_entries();
      e->set_key(k);
      e->set_value(v);
    }
    ASR_RETURN_IF_ERROR(WriteSnapshot(snap));
    // The new snapshot is durable: everything in the old journal is in it.
    const uint64_t old = generation_;
    generation_ = old + 1;
    journal_.reset();
    ASR_RETURN_IF_ERROR(OpenJournalForAppend(JournalPath(dir_, generation_), true, 0, 0));
    (void)platform::Env::Default()->Unlink(JournalPath(dir_, old));
    return absl::OkStatus();
  }

  void Apply(const JournalRecord& r) {
    for (const Mutation& m : r.mutations()) {
      if (m.kind() == Mutation::DELETE) {
        data_.erase(m.key());
      } else {
        data_[m.key()] = m.value();
      }
    }
  }

  const std::string dir_;
  const JournalStoreOptions options_;
  std::unique_ptr<platform::File> lock_;  // locked while the store is open for writing
  mutable absl::Mutex mu_;
  StateMap data_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<platform::File> journal_ ABSL_GUARDED_BY(mu_);
  uint64_t journal_size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status healthy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::string SnapshotPath(const std::string& dir) { return JoinPath(dir, "SNAPSHOT"); }

std::string JournalPath(const std::string& dir, uint64_t generation) {
  return JoinPath(dir, absl::StrFormat("journal-%06d.log", generation));
}

std::string LockPath(const std::string& dir) { return JoinPath(dir, "LOCK"); }

absl::StatusOr<std::unique_ptr<StateStore>> OpenJournalStore(const std::string& dir,
                                                             const JournalStoreOptions& options) {
  if (dir.empty()) return absl::InvalidArgumentError("state directory path is empty");
  auto store = std::make_unique<JournalStore>(dir, options);
  ASR_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace asr::store
