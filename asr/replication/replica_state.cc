#include "asr/replication/replica_state.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"

namespace asr::replication {
namespace {

using State = ReplicaStore::State;

constexpr absl::string_view kLegacyHeader = "asr-replica-state 1";

absl::Status Corrupt(const std::string& path, absl::string_view why) {
  return absl::DataLossError(absl::StrCat(path, ": replica state is corrupt (", why, ")"));
}

// Splits "<body>crc N\n" and checks N against the body's CRC-32C.
absl::StatusOr<absl::string_view> CheckedBody(const std::string& path, const std::string& text) {
  size_t crc_pos = text.rfind("crc ");
  if (crc_pos == std::string::npos) return Corrupt(path, "no checksum");
  uint32_t crc = 0;
  absl::string_view body = absl::string_view(text).substr(0, crc_pos);
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(crc_pos + 4)), &crc) ||
      crc != Crc32c(body)) {
    return Corrupt(path, "checksum mismatch");
  }
  return body;
}

std::string Undash(const std::string& s) { return s == "-" ? "" : s; }

// The older hand-written format: "asr-replica-state 1", one "key values"
// line per field, "point" and "applying" lines, then "crc N".
absl::StatusOr<State> ParseLegacy(const std::string& path, absl::string_view body) {
  State s;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (first) {
      if (line != kLegacyHeader) return Corrupt(path, "unknown version");
      first = false;
      continue;
    }
    const std::string& k = f[0];
    auto num = [&](size_t i, auto* v) { return i < f.size() && absl::SimpleAtoi(f[i], v); };
    bool ok = true;
    if (k == "has_replica") {
      int v = 0;
      ok = num(1, &v);
      s.has_replica = v != 0;
    } else if (k == "replication_id" && f.size() == 2) {
      s.replication_id = Undash(f[1]);
    } else if (k == "source_disk_id" && f.size() == 2) {
      s.source_disk_id = Undash(f[1]);
    } else if (k == "virtual_size") {
      ok = num(1, &s.virtual_size);
    } else if (k == "block_size") {
      ok = num(1, &s.block_size);
    } else if (k == "replica_file" && f.size() == 2) {
      s.replica_file = f[1];
    } else if (k == "current_cycle") {
      ok = num(1, &s.current_cycle);
    } else if (k == "generation") {
      ok = num(1, &s.generation);
    } else if (k == "policy") {
      ok = num(1, &s.additional_points) && num(2, &s.interval_s) && num(3, &s.retention_s);
    } else if (k == "point" && f.size() == 7) {
      RecoveryPoint p;
      int64_t t = 0, st = 0;
      int app = 0, mode = 0;
      ok = num(1, &p.id) && num(2, &t) && num(3, &st) && num(4, &app) && num(5, &mode);
      p.time = absl::FromUnixMicros(t);
      p.source_time = absl::FromUnixMicros(st);
      p.app_consistent = app != 0;
      p.mode = static_cast<CycleMode>(mode);
      p.delta_file = Undash(f[6]);
      s.points.push_back(p);
    } else if (k == "applying" && f.size() == 9) {
      int mode = 0, flags = 0;
      ok = num(1, &s.apply_start.cycle) && num(2, &s.apply_start.base_cycle) && num(3, &mode) &&
           num(4, &flags) && num(5, &s.apply_start.source_time_us) && num(6, &s.apply_time_us);
      s.apply_start.mode = static_cast<CycleMode>(mode);
      s.apply_start.flags = static_cast<uint8_t>(flags);
      s.apply_journal = Undash(f[7]);
      s.apply_undo = Undash(f[8]);
      s.applying = true;
    } else {
      ok = false;
    }
    if (!ok) return Corrupt(path, absl::StrCat("bad line '", line, "'"));
  }
  if (first) return Corrupt(path, "empty");
  if (!s.points.empty()) s.points.back().latest = true;
  // Loading rewrites a legacy state as JSON, which carries only UTF-8 text:
  // refuse one it could not read back, while the old file is still intact.
  model::ReplicaState back;
  if (!model::FromJson(model::ToJson(ReplicaStateToProto(s), /*pretty=*/false), &back).ok()) {
    return Corrupt(path, "an id or file name is not UTF-8 text");
  }
  return s;
}

// A plain file name: no separator, no "." or "..", nothing a shell or a
// path join could read as more than one name.
bool PlainName(absl::string_view n) {
  if (n.empty() || n.size() > 255 || n[0] == '.') return false;
  for (char c : n) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// `rel` is DIR/NAME with NAME plain (DIR empty: NAME alone).
bool InPlace(absl::string_view rel, absl::string_view dir) {
  if (dir.empty()) return PlainName(rel);
  if (!absl::StartsWith(rel, dir) || rel.size() <= dir.size() || rel[dir.size()] != '/') {
    return false;
  }
  return PlainName(rel.substr(dir.size() + 1));
}

}  // namespace

absl::Status CheckStatePaths(const std::string& path, const State& s) {
  auto bad = [&](absl::string_view what, absl::string_view value, absl::string_view place) {
    return absl::DataLossError(absl::StrCat(
        path, ": replica state is corrupt or forged: ", what, " \"", EscapeForMessage(value),
        "\" is not a plain file name ", place,
        "; nothing was read or deleted through it. Restore the state file from a backup or "
        "re-create the replica"));
  };
  if (!InPlace(s.replica_file, "")) {
    return bad("replica_file", s.replica_file, "in the replica directory");
  }
  for (const RecoveryPoint& p : s.points) {
    if (!p.delta_file.empty() && !InPlace(p.delta_file, "points")) {
      return bad(absl::StrCat("point ", p.id, "'s delta_file"), p.delta_file, "under points/");
    }
  }
  if (s.applying) {
    if (!InPlace(s.apply_journal, "journal")) {
      return bad("the apply's journal", s.apply_journal, "under journal/");
    }
    if (!s.apply_undo.empty() && !InPlace(s.apply_undo, "points")) {
      return bad("the apply's undo", s.apply_undo, "under points/");
    }
  }
  // The layout's names (replica_layout.h): the base and the held latest
  // point plain names in the directory; a view's disk under overlays/ or,
  // as its creator chose, absolute; a step's names one of those, a
  // journal or delta file, or an absolute view path (+ ".tmp").
  if (!s.overlay.base_file().empty() && !InPlace(s.overlay.base_file(), "")) {
    return bad("the overlay's base_file", s.overlay.base_file(), "in the replica directory");
  }
  if (!s.failover.held_file().empty() && !InPlace(s.failover.held_file(), "")) {
    return bad("the failover's held_file", s.failover.held_file(), "in the replica directory");
  }
  auto view_path_ok = [&](absl::string_view v) {
    return InPlace(v, "") || InPlace(v, "overlays") ||
           (absl::StartsWith(v, "/") && !absl::StrContains(v, "/../") &&
            !absl::EndsWith(v, "/..") && v.find('\0') == absl::string_view::npos);
  };
  for (const model::ReplicaOverlayView& v : s.overlay.views()) {
    if (!view_path_ok(v.path())) {
      return bad(absl::StrCat("view ", v.name(), "'s path"), v.path(),
                 "under overlays/ (or an absolute path)");
    }
  }
  // An absolute name in a step must be a view's path (or its temporary).
  auto step_name_ok = [&](absl::string_view n) {
    if (!absl::StartsWith(n, "/")) {
      return view_path_ok(n) || InPlace(n, "points") || InPlace(n, "journal");
    }
    for (const model::ReplicaOverlayView& v : s.overlay.views()) {
      if (n == v.path() || n == absl::StrCat(v.path(), ".tmp")) return view_path_ok(v.path());
    }
    return false;
  };
  for (const model::ReplicaOverlayStep& st : s.overlay.pending()) {
    for (const std::string* n : {&st.from(), &st.to()}) {
      if (n->empty() && n == &st.to() && st.kind() == model::ReplicaOverlayStep::REMOVE) continue;
      if (!step_name_ok(*n)) {
        return bad("a pending layout step's file", *n, "in the replica directory");
      }
    }
  }
  auto bad_id = [&](absl::Status st) {
    return absl::DataLossError(
        absl::StrCat(path, ": replica state is corrupt or forged: ", st.message()));
  };
  if (!s.replication_id.empty()) {
    absl::Status st = CheckIdentifier("replication_id", s.replication_id);
    if (!st.ok()) return bad_id(st);
  }
  if (absl::Status st = CheckSourceDiskId(s.source_disk_id); !st.ok()) return bad_id(st);
  if (absl::Status st = CheckDisplayName("writer", s.writer, kMaxIdentifierBytes); !st.ok()) {
    return bad_id(st);
  }
  return absl::OkStatus();
}

model::ReplicaState ReplicaStateToProto(const State& s) {
  model::ReplicaState m;
  m.set_has_replica(s.has_replica);
  m.set_writer(s.writer);
  m.set_replication_id(s.replication_id);
  m.set_source_disk_id(s.source_disk_id);
  m.set_virtual_size(s.virtual_size);
  m.set_block_size(s.block_size);
  m.set_replica_file(s.replica_file);
  m.set_current_cycle(s.current_cycle);
  m.set_generation(s.generation);
  m.set_additional_points(s.additional_points);
  m.set_interval_seconds(s.interval_s);
  m.set_retention_seconds(s.retention_s);
  for (const RecoveryPoint& p : s.points) {
    model::ReplicaStatePoint* q = m.add_points();
    q->set_id(p.id);
    q->set_time_us(absl::ToUnixMicros(p.time));
    q->set_source_time_us(absl::ToUnixMicros(p.source_time));
    q->set_app_consistent(p.app_consistent);
    q->set_mode(static_cast<uint32_t>(p.mode));
    q->set_delta_file(p.delta_file);
  }
  if (s.applying) {
    model::ReplicaApply* a = m.mutable_applying();
    a->set_cycle(s.apply_start.cycle);
    a->set_base_cycle(s.apply_start.base_cycle);
    a->set_mode(static_cast<uint32_t>(s.apply_start.mode));
    a->set_flags(s.apply_start.flags);
    a->set_source_time_us(s.apply_start.source_time_us);
    a->set_time_us(s.apply_time_us);
    a->set_journal(s.apply_journal);
    a->set_undo(s.apply_undo);
  }
  if (s.overlay.ByteSizeLong() > 0) *m.mutable_overlay() = s.overlay;
  if (s.failover.ByteSizeLong() > 0) *m.mutable_failover() = s.failover;
  return m;
}

State ReplicaStateFromProto(const model::ReplicaState& m) {
  State s;
  s.has_replica = m.has_replica();
  s.writer = m.writer();
  s.replication_id = m.replication_id();
  s.source_disk_id = m.source_disk_id();
  s.virtual_size = m.virtual_size();
  s.block_size = m.block_size();
  s.replica_file = m.replica_file();
  s.current_cycle = m.current_cycle();
  s.generation = m.generation();
  s.additional_points = m.additional_points();
  s.interval_s = m.interval_seconds();
  s.retention_s = m.retention_seconds();
  for (const model::ReplicaStatePoint& q : m.points()) {
    RecoveryPoint p;
    p.id = q.id();
    p.time = absl::FromUnixMicros(q.time_us());
    p.source_time = absl::FromUnixMicros(q.source_time_us());
    p.app_consistent = q.app_consistent();
    p.mode = static_cast<CycleMode>(q.mode());
    p.delta_file = q.delta_file();
    s.points.push_back(std::move(p));
  }
  if (!s.points.empty()) s.points.back().latest = true;
  if (m.has_applying()) {
    const model::ReplicaApply& a = m.applying();
    s.applying = true;
    s.apply_start.cycle = a.cycle();
    s.apply_start.base_cycle = a.base_cycle();
    s.apply_start.mode = static_cast<CycleMode>(a.mode());
    s.apply_start.flags = static_cast<uint8_t>(a.flags());
    s.apply_start.source_time_us = a.source_time_us();
    s.apply_time_us = a.time_us();
    s.apply_journal = a.journal();
    s.apply_undo = a.undo();
  }
  s.overlay = m.overlay();
  s.failover = m.failover();
  return s;
}

std::string SerializeReplicaState(const State& s) {
  std::string out = model::ToJson(ReplicaStateToProto(s), /*pretty=*/true);
  if (out.empty() || out.back() != '\n') out += '\n';
  absl::StrAppend(&out, "crc ", Crc32c(out), "\n");
  return out;
}

absl::StatusOr<State> ParseReplicaState(const std::string& path, const std::string& text,
                                        bool* legacy) {
  ASR_ASSIGN_OR_RETURN(absl::string_view body, CheckedBody(path, text));
  const bool old = absl::StartsWith(body, kLegacyHeader);
  if (legacy != nullptr) *legacy = old;
  State state;
  if (old) {
    ASR_ASSIGN_OR_RETURN(state, ParseLegacy(path, body));
  } else {
    model::ReplicaState m;
    absl::Status s = model::FromJson(body, &m);
    if (!s.ok()) return Corrupt(path, s.message());
    state = ReplicaStateFromProto(m);
  }
  ASR_RETURN_IF_ERROR(CheckStatePaths(path, state));
  return state;
}

absl::StatusOr<LoadedState> LoadReplicaState(const std::string& dir) {
  std::string path = JoinPath(dir, kReplicaStateFile);
  LoadedState loaded;
  if (!PathExists(path)) return loaded;
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  ASR_ASSIGN_OR_RETURN(loaded.state, ParseReplicaState(path, text, &loaded.legacy));
  return loaded;
}

absl::Status SaveReplicaState(const std::string& dir, const State& s) {
  return WriteFileAtomically(JoinPath(dir, kReplicaStateFile), SerializeReplicaState(s));
}

}  // namespace asr::replication
