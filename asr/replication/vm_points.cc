#include "asr/replication/vm_points.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"

namespace asr::replication {
namespace {

std::string FormatInstant(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

struct DirPoint {
  uint64_t id = 0;
  bool app_consistent = false;
};

// One directory's points by source time (microseconds); of two at the same
// instant, the newer.
absl::StatusOr<std::map<int64_t, DirPoint>> PointsByInstant(const std::string& dir) {
  ASR_ASSIGN_OR_RETURN(std::vector<RecoveryPoint> points, ListRecoveryPoints(dir));
  std::map<int64_t, DirPoint> out;
  for (const RecoveryPoint& p : points) {
    DirPoint& d = out[absl::ToUnixMicros(p.source_time)];
    if (p.id >= d.id) d = {p.id, p.app_consistent};
  }
  return out;
}

absl::Status CheckDistinct(const std::vector<std::string>& names, absl::string_view what) {
  std::set<std::string> seen;
  for (const std::string& n : names) {
    if (!seen.insert(n).second) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", n, " is given twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<VmPoint>> CommonPoints(const std::vector<std::string>& replica_dirs) {
  if (replica_dirs.empty()) {
    return absl::InvalidArgumentError("a VM's points need the replica directory of each disk");
  }
  ASR_RETURN_IF_ERROR(CheckDistinct(replica_dirs, "replica directory"));
  std::map<int64_t, VmPoint> common;
  for (size_t i = 0; i < replica_dirs.size(); ++i) {
    ASR_ASSIGN_OR_RETURN(auto points, PointsByInstant(replica_dirs[i]));
    if (i == 0) {
      for (const auto& [us, p] : points) {
        VmPoint& v = common[us];
        v.source_time = absl::FromUnixMicros(us);
        v.point_ids.push_back(p.id);
        v.app_consistent = p.app_consistent;
      }
      continue;
    }
    for (auto it = common.begin(); it != common.end();) {
      auto found = points.find(it->first);
      if (found == points.end()) {
        it = common.erase(it);
        continue;
      }
      it->second.point_ids.push_back(found->second.id);
      it->second.app_consistent = it->second.app_consistent && found->second.app_consistent;
      ++it;
    }
  }
  std::vector<VmPoint> out;
  for (auto& [us, v] : common) out.push_back(std::move(v));
  return out;
}

absl::StatusOr<VmPoint> LatestWholePoint(const std::vector<std::string>& replica_dirs) {
  ASR_ASSIGN_OR_RETURN(std::vector<VmPoint> points, CommonPoints(replica_dirs));
  if (points.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "the replicas ", absl::StrJoin(replica_dirs, ", "),
        " hold no recovery point at a common instant yet; wait for a cycle of every disk"));
  }
  return points.back();
}

absl::Status RestoreVmPoint(const std::vector<std::string>& replica_dirs, absl::Time source_time,
                            const std::vector<std::string>& out_paths,
                            const RestoreOptions& options) {
  if (out_paths.size() != replica_dirs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("a VM point of ", replica_dirs.size(),
                                                   " disks needs as many output paths, not ",
                                                   out_paths.size()));
  }
  ASR_RETURN_IF_ERROR(CheckDistinct(out_paths, "output path"));
  ASR_ASSIGN_OR_RETURN(std::vector<VmPoint> points, CommonPoints(replica_dirs));
  const int64_t wanted = absl::ToUnixMicros(source_time);
  const VmPoint* point = nullptr;
  for (const VmPoint& p : points) {
    if (absl::ToUnixMicros(p.source_time) == wanted) point = &p;
  }
  if (point == nullptr) {
    std::vector<std::string> without;
    for (const std::string& dir : replica_dirs) {
      ASR_ASSIGN_OR_RETURN(auto mine, PointsByInstant(dir));
      if (!mine.count(wanted)) without.push_back(dir);
    }
    std::vector<std::string> whole;
    for (const VmPoint& p : points) whole.push_back(FormatInstant(p.source_time));
    return absl::NotFoundError(absl::StrCat("the VM point at ", FormatInstant(source_time),
                                            " is not whole: ", absl::StrJoin(without, ", "),
                                            without.size() == 1 ? " has" : " have",
                                            " no point at that instant; whole points: ",
                                            whole.empty() ? "none" : absl::StrJoin(whole, ", ")));
  }
  for (size_t i = 0; i < replica_dirs.size(); ++i) {
    const bool existed = PathExists(out_paths[i]);
    absl::Status s = RestorePoint(replica_dirs[i], point->point_ids[i], out_paths[i], options);
    if (!s.ok()) {
      // A VM is restored whole or not at all.
      if (!existed) (void)platform::Env::Default()->Unlink(out_paths[i]);
      for (size_t j = 0; j < i; ++j) (void)platform::Env::Default()->Unlink(out_paths[j]);
      return absl::Status(s.code(),
                          absl::StrCat("restoring the VM point at ", FormatInstant(source_time),
                                       ": disk ", i, " (", replica_dirs[i], "): ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace asr::replication
