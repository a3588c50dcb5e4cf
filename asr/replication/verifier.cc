#include "asr/replication/verifier.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/disk_digest.h"
#include "asr/replication/manifest.h"
#include "asr/replication/protocol.h"

namespace asr::replication {
namespace {

constexpr char kMarkerMagic[] = "asr-resync 1";
constexpr char kStateMagic[] = "asr-verify 1";

// One bit per block.
class BlockSet {
 public:
  explicit BlockSet(uint64_t n) : words_((n + 63) / 64, 0) {}
  void Add(uint64_t b) { words_[b / 64] |= 1ull << (b % 64); }
  bool Has(uint64_t b) const { return (words_[b / 64] >> (b % 64)) & 1; }

 private:
  std::vector<uint64_t> words_;
};

// Mismatching blocks of one side: all of them (for the manifest) and the
// first few (for the report).
struct Mismatches {
  explicit Mismatches(uint64_t blocks) : set(blocks) {}
  void Add(uint64_t b, size_t max_listed) {
    set.Add(b);
    if (first.size() < max_listed) first.push_back(b);
    ++count;
  }
  BlockSet set;
  uint64_t count = 0;
  std::vector<uint64_t> first;
};

// "3 blocks" / "1 block".
std::string Blocks(uint64_t n) { return absl::StrCat(n, n == 1 ? " block" : " blocks"); }

std::string FirstBlock(const std::vector<uint64_t>& first, uint32_t block_size) {
  if (first.empty()) return "";
  return absl::StrCat(" (first: block ", first[0], " at offset ",
                      first[0] * static_cast<uint64_t>(block_size), ")");
}

// One line: the reason is stored as the rest of a line.
std::string OneLine(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

absl::StatusOr<Frame> ReadReply(net::ByteStream& stream) {
  absl::StatusOr<Frame> f = ReadFrame(stream);
  if (absl::IsOutOfRange(f.status())) {
    return absl::UnavailableError(
        absl::StrCat(stream.PeerDescription(), " closed the connection during verification"));
  }
  return f;
}

absl::Status SaveVerifyState(const std::string& disk_path, uint64_t cycle, absl::Time now) {
  return WriteFileAtomically(
      VerifyStatePath(disk_path),
      absl::StrCat(kStateMagic, "\ncycle ", cycle, "\ntime ", absl::ToUnixMicros(now), "\n"));
}

struct VerifyState {
  uint64_t cycle = 0;
  absl::Time time;
};

// nullopt when missing or unreadable (a verification is then due).
std::optional<VerifyState> LoadVerifyState(const std::string& disk_path) {
  absl::StatusOr<std::string> text = ReadFileToString(VerifyStatePath(disk_path));
  if (!text.ok()) return std::nullopt;
  std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  if (lines.size() != 3 || lines[0] != kStateMagic) return std::nullopt;
  VerifyState s;
  int64_t us = 0;
  if (!absl::StartsWith(lines[1], "cycle ") || !absl::StartsWith(lines[2], "time ") ||
      !absl::SimpleAtoi(lines[1].substr(6), &s.cycle) ||
      !absl::SimpleAtoi(lines[2].substr(5), &us)) {
    return std::nullopt;
  }
  s.time = absl::FromUnixMicros(us);
  return s;
}

// The blocks the tracker marks as changed since the point, or nullopt with
// *note saying why every block must be compared.
std::optional<BlockSet> TrackedBlocks(const std::string& disk_path, const Manifest& m,
                                      std::string* note) {
  absl::StatusOr<std::unique_ptr<ChangeTracker>> t =
      ChangeTracker::OpenForCycle(disk_path, m.virtual_size, m.block_size);
  if (!t.ok()) {
    *note = absl::StrCat("the change tracker could not be opened (", t.status().message(),
                         "); every block was compared");
    return std::nullopt;
  }
  if ((*t)->needs_scan()) {
    *note = absl::StrCat("the change tracker cannot be trusted (", (*t)->needs_scan_reason(),
                         "); every block was compared");
    return std::nullopt;
  }
  // Opened for a cycle only: BeginCycle persists nothing, and without
  // CommitCycle the file stays as it was.
  absl::StatusOr<std::vector<uint64_t>> marked = (*t)->BeginCycle();
  if (!marked.ok()) {
    *note = absl::StrCat("the change tracker could not be read (", marked.status().message(),
                         "); every block was compared");
    return std::nullopt;
  }
  BlockSet set(m.block_count());
  for (uint64_t b : *marked) {
    if (b < m.block_count()) set.Add(b);
  }
  return set;
}

}  // namespace

std::string ResyncMarkerPath(const std::string& disk_path) { return disk_path + ".asrresync"; }
std::string VerifyStatePath(const std::string& disk_path) { return disk_path + ".asrverify"; }

absl::StatusOr<std::optional<std::string>> LoadResyncMarker(const std::string& disk_path) {
  const std::string path = ResyncMarkerPath(disk_path);
  if (!PathExists(path)) return std::optional<std::string>();
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kMarkerMagic) {
    return absl::DataLossError(absl::StrCat(path, " is not a resynchronization marker"));
  }
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "reason ")) return std::optional<std::string>(line.substr(7));
  }
  return absl::DataLossError(absl::StrCat(path, " holds no reason"));
}

absl::Status ClearResyncMarker(const std::string& disk_path) {
  const std::string path = ResyncMarkerPath(disk_path);
  absl::Status s = platform::Env::Default()->Unlink(path);
  if (!s.ok() && platform::ErrorKindOf(s) != platform::ErrorKind::kNotFound) {
    return platform::AddContext(s, absl::StrCat("cannot remove ", path));
  }
  return absl::OkStatus();
}

bool VerificationDue(const std::string& disk_path, const VerifySchedule& schedule, uint64_t cycle,
                     absl::Time now) {
  const bool by_cycles = schedule.every_cycles > 0;
  const bool by_time = schedule.interval > absl::ZeroDuration();
  if (!by_cycles && !by_time) return false;
  std::optional<VerifyState> last = LoadVerifyState(disk_path);
  if (!last) return true;
  if (by_cycles && (cycle < last->cycle || cycle - last->cycle >= schedule.every_cycles)) {
    return true;  // (a cycle below the last verified one: a new replication)
  }
  return by_time && now - last->time >= schedule.interval;
}

model::VerifyResult VerifyResultToProto(const VerifyResult& r, const std::string& disk_path) {
  model::VerifyResult m;
  m.set_disk(disk_path);
  m.set_replication_id(r.replication_id);
  m.set_point_id(r.point_id);
  m.set_blocks_checked(r.blocks_checked);
  m.set_replica_mismatches(r.replica_mismatches);
  for (uint64_t b : r.replica_mismatch_blocks) m.add_replica_mismatch_blocks(b);
  m.set_source_checked(r.source_checked);
  m.set_source_mismatches(r.source_mismatches);
  for (uint64_t b : r.source_mismatch_blocks) m.add_source_mismatch_blocks(b);
  m.set_tracked_blocks_skipped(r.tracked_blocks_skipped);
  m.set_flagged_blocks(r.flagged_blocks);
  m.set_tracker_note(r.tracker_note);
  m.set_resync_required(r.resync_required);
  m.set_reason(r.reason);
  m.set_bytes_read(r.bytes_read);
  m.set_seconds(std::round(absl::ToDoubleMilliseconds(r.elapsed)) / 1000);
  return m;
}

std::string VerifyResultToJson(const VerifyResult& r, const std::string& disk_path) {
  return model::ToJson(VerifyResultToProto(r, disk_path));
}

absl::StatusOr<VerifyResult> VerifyReplica(const std::string& disk_path, net::ByteStream& stream,
                                           const VerifyOptions& options) {
  const absl::Time start = absl::Now();
  const Clock& clock = options.clock != nullptr ? *options.clock : Clock::Real();
  ASR_ASSIGN_OR_RETURN(std::optional<Manifest> m, LoadManifest(ManifestPath(disk_path)));
  if (!m) {
    return absl::FailedPreconditionError(
        absl::StrCat(disk_path, " has no committed replication state (", ManifestPath(disk_path),
                     "); run an initial replication first"));
  }
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> disk,
                       disk::OpenDisk(disk_path, disk::OpenMode::kReadOnly));
  if (disk->virtual_size() != m->virtual_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        disk_path, " changed size from ", m->virtual_size, " to ", disk->virtual_size(),
        " bytes since it was replicated; resizing a replica is not supported"));
  }

  // [Handshake] (unless the stream's session is past it).
  uint32_t version = 0;
  uint64_t point = 0;
  if (options.session) {
    version = options.session->protocol_version;
    point = options.session->point_id;
  } else {
    Hello h;
    h.replication_id = m->replication_id;
    h.source_disk_id = disk->info().disk_id;
    h.virtual_size = m->virtual_size;
    h.block_size = m->block_size;
    h.source_name = options.source_name;
    ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kHello, h.Encode()));
    ASR_ASSIGN_OR_RETURN(Frame f, ReadReply(stream));
    ASR_ASSIGN_OR_RETURN(HelloReply reply, HelloReply::Decode(f));
    if (!reply.status.ok()) {
      return absl::Status(reply.status.code(),
                          absl::StrCat("receiver refused: ", reply.status.message()));
    }
    if (!reply.has_replica) {
      return absl::FailedPreconditionError(
          "the receiver holds no replica of this disk; run an initial replication first");
    }
    version = reply.version;
    point = reply.current_cycle;
  }
  if (version < kVerifyVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the receiver speaks replication protocol version ", version,
                     "; verification needs version ", kVerifyVersion,
                     " or later (upgrade the recovery host; replication cycles still work)"));
  }
  if (point != m->cycle) {
    absl::StatusOr<std::optional<Manifest>> pending = LoadManifest(PendingManifestPath(disk_path));
    if (pending.ok() && *pending && (*pending)->cycle == point) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the replica is at point ", point, ", whose acknowledgement was lost, but ",
          ManifestPath(disk_path), " describes point ", m->cycle,
          "; run a replication cycle first (it adopts point ", point, "), then verify"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "the replica is at point ", point, " but ", ManifestPath(disk_path), " describes point ",
        m->cycle, "; run a replication cycle first, then verify"));
  }

  VerifyResult result;
  result.replication_id = m->replication_id;
  result.point_id = point;
  const uint64_t count = m->block_count();
  const size_t listed = options.max_listed_blocks;
  Mismatches replica(count), source(count);

  // [Source] digested on its own thread while the receiver digests the
  // replica. Both threads only read *m until they are joined.
  std::optional<BlockSet> tracked;
  if (options.check_source) {
    if (options.use_tracker_file) {
      tracked = TrackedBlocks(disk_path, *m, &result.tracker_note);
    } else {
      result.tracker_note = "the change tracker was not consulted; every block was compared";
    }
  }
  std::atomic<bool> cancel{false};
  absl::Status source_status;
  uint64_t skipped = 0;
  std::thread source_thread;
  if (options.check_source) {
    source_thread = std::thread([&] {
      source_status = DigestDiskBlocks(
          *disk, m->hasher, m->block_size, 0, count, kMaxVerifyDigests,
          [&](uint64_t first, absl::Span<const Digest> d) -> absl::Status {
            if (cancel.load()) return absl::CancelledError("verification stopped");
            for (size_t i = 0; i < d.size(); ++i) {
              const uint64_t b = first + i;
              if (m->digests[b] == kResyncDigest) continue;  // flagged already
              if (tracked && tracked->Has(b)) {
                ++skipped;
                continue;
              }
              if (d[i] != m->digests[b]) source.Add(b, listed);
            }
            return absl::OkStatus();
          },
          &result.bytes_read);
    });
  }
  auto join = [&]() {
    if (source_thread.joinable()) source_thread.join();
  };

  // [Replica] VERIFY_REQUEST, then the digests in block order.
  absl::Status replica_status = [&]() -> absl::Status {
    VerifyRequest req;
    req.hasher = m->hasher;
    req.block_size = m->block_size;
    req.first_block = 0;
    req.block_count = count;
    ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kVerifyRequest, req.Encode()));
    uint64_t next = 0;
    Frame f;
    VerifyDigests digests;
    for (;;) {
      absl::Status read = ReadFrameInto(stream, &f);
      if (absl::IsOutOfRange(read)) {
        return absl::UnavailableError(
            absl::StrCat(stream.PeerDescription(), " closed the connection during verification"));
      }
      ASR_RETURN_IF_ERROR(read);
      if (f.type == FrameType::kVerifyEnd) break;
      if (f.type != FrameType::kVerifyDigests) return Unexpected(f, FrameType::kVerifyDigests);
      ASR_RETURN_IF_ERROR(VerifyDigests::DecodeInto(f, &digests));
      if (digests.first_block != next || digests.digests.size() > count - next) {
        return absl::FailedPreconditionError(absl::StrCat(
            "protocol violation: VERIFY_DIGESTS for blocks ", digests.first_block, "..+",
            digests.digests.size(), " where block ", next, " of ", count, " was expected"));
      }
      for (size_t i = 0; i < digests.digests.size(); ++i) {
        const uint64_t b = next + i;
        if (m->digests[b] == kResyncDigest) {
          ++result.flagged_blocks;
        } else if (digests.digests[i] != m->digests[b]) {
          replica.Add(b, listed);
        }
      }
      next += digests.digests.size();
    }
    ASR_ASSIGN_OR_RETURN(VerifyEnd end, VerifyEnd::Decode(f));
    if (!end.status.ok()) {
      return absl::Status(end.status.code(),
                          absl::StrCat("the receiver could not verify: ", end.status.message()));
    }
    if (end.point_id != point || end.blocks != count || next != count) {
      return absl::FailedPreconditionError(absl::StrCat(
          "protocol violation: VERIFY_END for point ", end.point_id, " with ", end.blocks,
          " blocks after ", next, " digests; expected point ", point, " and ", count));
    }
    return absl::OkStatus();
  }();
  if (!replica_status.ok()) cancel = true;
  join();
  ASR_RETURN_IF_ERROR(replica_status);
  if (options.check_source) {
    ASR_RETURN_IF_ERROR(source_status);
    result.source_checked = true;
  }

  result.blocks_checked = count;
  result.replica_mismatches = replica.count;
  result.replica_mismatch_blocks = std::move(replica.first);
  result.source_mismatches = source.count;
  result.source_mismatch_blocks = std::move(source.first);
  result.tracked_blocks_skipped = skipped;
  result.resync_required =
      result.replica_mismatches + result.source_mismatches + result.flagged_blocks > 0;

  std::vector<std::string> parts;
  if (result.replica_mismatches > 0) {
    parts.push_back(absl::StrCat(Blocks(result.replica_mismatches), " of the replica ",
                                 result.replica_mismatches == 1 ? "differs" : "differ",
                                 " from what was sent",
                                 FirstBlock(result.replica_mismatch_blocks, m->block_size)));
  }
  if (result.source_mismatches > 0) {
    parts.push_back(absl::StrCat(
        Blocks(result.source_mismatches), " of the source disk changed since point ", point,
        " without the change tracker knowing",
        FirstBlock(result.source_mismatch_blocks, m->block_size),
        result.tracker_note.empty() ? "" : absl::StrCat(" (", result.tracker_note, ")")));
  }
  if (result.flagged_blocks > 0) {
    parts.push_back(absl::StrCat(Blocks(result.flagged_blocks),
                                 " flagged by an earlier verification not resent yet"));
  }
  const absl::Time now = clock.Now();
  if (result.resync_required) {
    result.reason = absl::StrCat(absl::StrJoin(parts, "; "), ": resynchronization required");
  } else {
    result.reason = absl::StrCat("the replica's point ", point, " matches what was sent",
                                 result.source_checked ? " and the source matches it" : "", " (",
                                 Blocks(count), ")");
  }

  // Raise "resynchronization required" durably: first the manifest (so a
  // scan resends the blocks even if the marker were lost), then the marker.
  if (result.replica_mismatches + result.source_mismatches > 0) {
    for (uint64_t b = 0; b < count; ++b) {
      if (replica.set.Has(b) || source.set.Has(b)) m->digests[b] = kResyncDigest;
    }
    ASR_RETURN_IF_ERROR(SaveManifest(ManifestPath(disk_path), *m));
  }
  if (result.resync_required) {
    ASR_RETURN_IF_ERROR(WriteFileAtomically(
        ResyncMarkerPath(disk_path),
        absl::StrCat(kMarkerMagic, "\ntime ",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", now, absl::UTCTimeZone()), "\npoint ",
                     point, "\nreason ", OneLine(result.reason), "\n")));
  } else {
    ASR_RETURN_IF_ERROR(ClearResyncMarker(disk_path));
  }
  ASR_RETURN_IF_ERROR(SaveVerifyState(disk_path, point, now));
  result.elapsed = absl::Now() - start;
  return result;
}

}  // namespace asr::replication
