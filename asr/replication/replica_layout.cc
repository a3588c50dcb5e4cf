#include "asr/replication/replica_layout.h"

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/block_log.h"
#include "asr/replication/replica_internal.h"

namespace asr::replication {
namespace {

using State = ReplicaStore::State;
using Step = model::ReplicaOverlayStep;

std::function<void(const char*)>& HookFn() {
  static auto* hook = new std::function<void(const char*)>();
  return *hook;
}

absl::Status RemoveIfExists(const std::string& path) {
  absl::Status s = platform::Env::Default()->Unlink(path);
  if (s.ok() || absl::IsNotFound(s) || !PathExists(path)) return absl::OkStatus();
  return s;
}

// Writes merge log `log_path` (blocks and zero ranges) into the disk at
// `disk_path`. Idempotent: the log holds whole blocks.
absl::Status ApplyMergeLog(const std::string& log_path, const std::string& disk_path) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<BlockLogReader> log, BlockLogReader::Open(log_path));
  ASR_ASSIGN_OR_RETURN(auto d, disk::OpenDisk(disk_path, disk::OpenMode::kReadWrite));
  std::string zeros;
  ASR_RETURN_IF_ERROR(ForEachJournalEntry(
      *log,
      [&](uint64_t off, const uint8_t* p, uint64_t n) {
        return d->WriteAt(off, absl::MakeConstSpan(p, n));
      },
      [&](uint64_t off, uint64_t len) {
        return ForPresent(*d, off, len, [&](uint64_t o, uint64_t n) -> absl::Status {
          while (n > 0) {
            uint64_t m = std::min<uint64_t>(n, kIoChunk);
            zeros.assign(m, '\0');
            ASR_RETURN_IF_ERROR(d->WriteAt(
                o, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(zeros.data()), m)));
            o += m;
            n -= m;
          }
          return absl::OkStatus();
        });
      }));
  return d->Close();
}

// Points an adopted replica's hard link at DIR/replica.vhdx again.
absl::Status Relink(const std::string& dir, const State& s) {
  const std::string& linked = s.overlay.linked_disk_path();
  if (linked.empty()) return absl::OkStatus();
  const std::string vm = JoinPath(dir, VmDiskName(s));
  platform::Env* env = platform::Env::Default();
  ASR_ASSIGN_OR_RETURN(platform::FileInfo want, env->Stat(vm));
  absl::StatusOr<platform::FileInfo> have = env->Stat(linked);
  if (have.ok() && have->inode == want.inode && have->device == want.device) {
    return absl::OkStatus();
  }
  const std::string tmp = absl::StrCat(linked, ".asrlink.tmp");
  (void)RemoveIfExists(tmp);
  if (absl::Status l = env->HardLink(vm, tmp); !l.ok()) {
    return platform::AddContext(l, absl::StrCat("cannot link ", vm, " as ", linked,
                                                " (the VM's disk path); link it by hand"));
  }
  ASR_RETURN_IF_ERROR(env->Rename(tmp, linked));
  return FsyncDirectory(DirName(linked));
}

// Does the steps of s.overlay.pending, in order.
absl::Status RunSteps(const std::string& dir, const State& s) {
  platform::Env* env = platform::Env::Default();
  std::set<std::string> dirs = {dir};
  for (const Step& st : s.overlay.pending()) {
    const std::string from = LayoutPath(dir, st.from());
    const std::string to = st.to().empty() ? std::string() : LayoutPath(dir, st.to());
    switch (st.kind()) {
      case Step::RENAME: {
        // Both gone: the file was lost outside this code; nothing to do.
        const bool done = st.to_is_new() ? PathExists(to) || !PathExists(from) : !PathExists(from);
        if (!done) ASR_RETURN_IF_ERROR(env->Rename(from, to));
        dirs.insert(DirName(to));
        break;
      }
      case Step::REMOVE:
        ASR_RETURN_IF_ERROR(RemoveIfExists(from));
        dirs.insert(DirName(from));
        break;
      case Step::MERGE:
        if (PathExists(to)) ASR_RETURN_IF_ERROR(ApplyMergeLog(from, to));
        break;
      default:
        return absl::DataLossError(
            absl::StrCat(JoinPath(dir, kReplicaStateFile), ": unknown layout step ", st.kind()));
    }
    LayoutHook("step");
  }
  for (const std::string& d : dirs) ASR_RETURN_IF_ERROR(FsyncDirectory(d));
  return absl::OkStatus();
}

// Steps 3 and 4 of a transaction for a state saved with its steps.
absl::Status FinishSteps(const std::string& dir, State* s) {
  ASR_RETURN_IF_ERROR(RunSteps(dir, *s));
  LayoutHook("steps-done");
  ASR_RETURN_IF_ERROR(Relink(dir, *s));
  State done = *s;
  done.overlay.clear_pending();
  ASR_RETURN_IF_ERROR(SaveReplicaState(dir, done));
  *s = std::move(done);
  return absl::OkStatus();
}

std::vector<std::string> ListNames(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = platform::Env::Default()->ListDirectory(dir);
  return names.ok() ? *std::move(names) : std::vector<std::string>();
}

// Files of layout changes that never reached their commit point.
void RemoveDebris(const std::string& dir, const State& s) {
  std::set<std::string> keep = {s.overlay.base_file(), s.failover.held_file(), s.replica_file};
  for (const model::ReplicaOverlayView& v : s.overlay.views()) keep.insert(v.path());
  for (const std::string& n : ListNames(dir)) {
    const bool ours = absl::StartsWith(n, "base-") || absl::StartsWith(n, "latest-") ||
                      absl::StartsWith(n, "failover-") || absl::StartsWith(n, "merge-") ||
                      (absl::StartsWith(n, "replica-") && absl::EndsWith(n, ".tmp"));
    if (ours && !keep.count(n)) (void)RemoveIfExists(JoinPath(dir, n));
  }
  const std::string overlays = JoinPath(dir, "overlays");
  for (const std::string& n : ListNames(overlays)) {
    if (absl::EndsWith(n, ".tmp") && !keep.count(JoinPath("overlays", n))) {
      (void)RemoveIfExists(JoinPath(overlays, n));
    }
  }
}

}  // namespace

void SetLayoutHookForTesting(std::function<void(const char* step)> hook) {
  HookFn() = std::move(hook);
}

void LayoutHook(const char* step) {
  if (HookFn()) HookFn()(step);
}

std::string LayoutPath(const std::string& dir, const std::string& name) {
  return absl::StartsWith(name, "/") ? name : JoinPath(dir, name);
}

std::string LayoutExtension(const State& s) {
  return absl::EndsWith(s.replica_file, ".vhd") ? ".vhd" : ".vhdx";
}

std::string VmDiskName(const State& s) { return absl::StrCat("replica", LayoutExtension(s)); }

absl::Status CommitLayout(const std::string& dir, State next, State* state) {
  absl::Status saved = SaveReplicaState(dir, next);
  if (!saved.ok()) {
    (void)SaveReplicaState(dir, *state);  // either may be in the file: the previous one
    return saved;
  }
  LayoutHook("saved");
  *state = next;
  return FinishSteps(dir, state);
}

absl::Status RecoverLayout(const std::string& dir, State* s) {
  if (!s->overlay.pending().empty()) ASR_RETURN_IF_ERROR(FinishSteps(dir, s));
  if (!s->overlay.base_file().empty() && s->overlay.views().empty() && !s->failover.active()) {
    ASR_RETURN_IF_ERROR(MergeReplica(dir, s));
  }
  RemoveDebris(dir, *s);
  if (s->has_replica) ASR_RETURN_IF_ERROR(Relink(dir, *s));
  return absl::OkStatus();
}

absl::Status FreezeReplica(const std::string& dir, State* s) {
  if (!s->overlay.base_file().empty()) return absl::OkStatus();
  if (!s->has_replica) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " holds no replica yet: replicate the disk first"));
  }
  State next = *s;
  const uint64_t g = ++next.generation;
  const std::string ext = LayoutExtension(*s);
  const std::string base = absl::StrCat("base-", g, ext);
  const std::string child = absl::StrCat("replica-", g, ext, ".tmp");
  const std::string replica = JoinPath(dir, s->replica_file);
  // The base is the replica's file under a second name until the commit
  // point; then DIR/replica.vhdx is replaced by the child.
  (void)RemoveIfExists(JoinPath(dir, base));
  if (absl::Status l = platform::Env::Default()->HardLink(replica, JoinPath(dir, base)); !l.ok()) {
    return platform::AddContext(l, absl::StrCat("cannot link ", replica, " as ", base));
  }
  LayoutHook("freeze-linked");
  {
    disk::CreateOptions co;
    co.format = ext == ".vhd" ? disk::DiskFormat::kVhd : disk::DiskFormat::kVhdx;
    co.type = disk::DiskType::kDifferencing;
    co.parent_path = JoinPath(dir, base);
    co.overwrite = true;
    ASR_ASSIGN_OR_RETURN(auto d, disk::CreateDisk(JoinPath(dir, child), co));
    ASR_RETURN_IF_ERROR(d->Close());
  }
  LayoutHook("freeze-made");
  next.overlay.set_base_file(base);
  Step* st = next.overlay.add_pending();
  st->set_kind(Step::RENAME);
  st->set_from(child);
  st->set_to(s->replica_file);
  return CommitLayout(dir, std::move(next), s);
}

absl::Status MergeReplica(const std::string& dir, State* s) {
  if (s->overlay.base_file().empty()) return absl::OkStatus();
  State next = *s;
  const uint64_t g = ++next.generation;
  const std::string log_name = absl::StrCat("merge-", g, ".blog");
  const std::string log_path = JoinPath(dir, log_name);
  {
    ASR_ASSIGN_OR_RETURN(auto replica,
                         disk::OpenDisk(JoinPath(dir, s->replica_file), disk::OpenMode::kReadOnly));
    const uint64_t vs = replica->virtual_size();
    const uint32_t bs = s->block_size;
    BlockLogWriter w;
    ASR_RETURN_IF_ERROR(w.Create(log_path, s->current_cycle, bs, vs));
    ASR_ASSIGN_OR_RETURN(std::vector<disk::Extent> own, replica->GetAllocationMap(0, vs));
    std::string data;
    uint64_t next_block = 0;  // blocks below it are in the log
    for (const disk::Extent& e : own) {
      if (e.state == disk::ExtentState::kAbsent || e.length == 0) continue;
      for (uint64_t b = std::max(e.offset / bs * bs, next_block); b < e.offset + e.length;
           b += bs) {
        const uint32_t len = BlockLen(b, bs, vs);
        data.resize(len);
        uint8_t* p = reinterpret_cast<uint8_t*>(data.data());
        ASR_RETURN_IF_ERROR(replica->ReadAt(b, absl::MakeSpan(p, len)));
        if (IsAllZero(p, len)) {
          ASR_RETURN_IF_ERROR(w.AppendZero(b, len));
        } else {
          ASR_RETURN_IF_ERROR(
              w.AppendBlock(b, len, static_cast<uint8_t>(BlockCodec::kRaw), Crc32c(p, len), data));
        }
        next_block = b + bs;
      }
    }
    ASR_RETURN_IF_ERROR(w.Seal(kZeroDigest));
  }
  LayoutHook("merge-log");
  const std::string base = s->overlay.base_file();
  next.overlay.clear_base_file();
  Step* m = next.overlay.add_pending();
  m->set_kind(Step::MERGE);
  m->set_from(log_name);
  m->set_to(base);
  Step* r = next.overlay.add_pending();
  r->set_kind(Step::RENAME);
  r->set_from(base);
  r->set_to(s->replica_file);
  Step* d = next.overlay.add_pending();
  d->set_kind(Step::REMOVE);
  d->set_from(log_name);
  return CommitLayout(dir, std::move(next), s);
}

}  // namespace asr::replication
