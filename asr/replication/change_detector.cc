#include "asr/replication/change_detector.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"

namespace asr::replication {
namespace {

using disk::Extent;
using disk::ExtentState;

// The allocation of the disk as a guest sees it: a differencing disk's
// absent ranges resolve to its parent's (recursively); a base disk's absent
// ranges read as zeros.
absl::Status EffectiveExtents(disk::VirtualDisk& d, uint64_t off, uint64_t len,
                              std::vector<Extent>* out) {
  ASR_ASSIGN_OR_RETURN(std::vector<Extent> map, d.GetAllocationMap(off, len));
  for (const Extent& e : map) {
    if (e.state == ExtentState::kAbsent && d.parent() != nullptr) {
      ASR_RETURN_IF_ERROR(EffectiveExtents(*d.parent(), e.offset, e.length, out));
    } else {
      out->push_back(e);
    }
  }
  return absl::OkStatus();
}

// Per block: whether any byte of it is present in the disk's own layer
// (kRead) or the whole block reads as zero / comes from the parent.
// `present_state`: which extent state counts as "has data here".
absl::StatusOr<CyclePlan> PlanFromAllocation(disk::VirtualDisk& d, uint32_t bs,
                                             bool differencing) {
  std::vector<Extent> map;
  if (differencing) {
    ASR_ASSIGN_OR_RETURN(map, d.GetAllocationMap(0, d.virtual_size()));
  } else {
    ASR_RETURN_IF_ERROR(EffectiveExtents(d, 0, d.virtual_size(), &map));
  }
  const uint64_t blocks = Manifest::BlocksFor(d.virtual_size(), bs);
  CyclePlan plan;
  // A block is kRead when any extent overlapping it is present (and, for a
  // differencing child, also when it is partly zeroed by the child: the
  // merged view is read). A block wholly inside zero extents is kZero. For a
  // base disk, absent means zero; for a child, absent means "the parent's,
  // unchanged" and is skipped.
  std::vector<uint8_t> kind(blocks, 0);  // 0 skip, 1 zero, 2 read
  for (const Extent& e : map) {
    if (e.length == 0) continue;
    uint64_t first = e.offset / bs;
    uint64_t last = (e.offset + e.length - 1) / bs;
    uint8_t k;
    if (e.state == ExtentState::kPresent) {
      k = 2;
    } else if (e.state == ExtentState::kZero || !differencing) {
      k = 1;
    } else {
      k = 0;  // differencing, absent: unchanged
    }
    for (uint64_t b = first; b <= last; ++b) {
      if (k == 2) {
        kind[b] = 2;
      } else if (k == 1) {
        // A zero extent covering only part of a block in a child: the rest
        // may be parent data, so read the merged block.
        bool whole = e.offset <= b * bs &&
                     e.offset + e.length >= std::min<uint64_t>((b + 1) * bs, d.virtual_size());
        if (kind[b] == 0 && whole) {
          kind[b] = 1;
        } else if (!whole && differencing) {
          kind[b] = 2;
        } else if (kind[b] == 0) {
          kind[b] = 1;
        }
      }
    }
  }
  // For a base disk, a block partly present and partly zero is read (2 wins).
  for (uint64_t b = 0; b < blocks; ++b) {
    if (kind[b] == 2) {
      AppendRun(&plan, b, 1, BlockAction::kRead);
      plan.planned_read_bytes += std::min<uint64_t>(bs, d.virtual_size() - b * bs);
    } else if (kind[b] == 1) {
      AppendRun(&plan, b, 1, BlockAction::kZero);
    }
  }
  plan.full_coverage = !differencing;
  return plan;
}

class AllocationDetector : public ChangeDetector {
 public:
  explicit AllocationDetector(CycleMode mode) : mode_(mode) {}
  absl::StatusOr<CyclePlan> Plan(disk::VirtualDisk& d, uint32_t bs,
                                 const Manifest* base) override {
    if (mode_ == CycleMode::kDifferencing && d.parent() == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(d.path(), " is not a differencing disk; differencing mode replicates "
                                 "a child over its replicated parent"));
    }
    return PlanFromAllocation(d, bs, mode_ == CycleMode::kDifferencing);
  }
  CycleMode mode() const override { return mode_; }

 private:
  CycleMode mode_;
};

class TrackedDetector : public ChangeDetector {
 public:
  explicit TrackedDetector(std::vector<uint64_t> blocks) : blocks_(std::move(blocks)) {}
  absl::StatusOr<CyclePlan> Plan(disk::VirtualDisk& d, uint32_t bs, const Manifest*) override {
    CyclePlan plan;
    const uint64_t n = Manifest::BlocksFor(d.virtual_size(), bs);
    for (uint64_t b : blocks_) {
      if (b >= n) {
        return absl::InvalidArgumentError(
            absl::StrCat("tracked block ", b, " lies past the end of ", d.path()));
      }
      AppendRun(&plan, b, 1, BlockAction::kRead);
      plan.planned_read_bytes += std::min<uint64_t>(bs, d.virtual_size() - b * bs);
    }
    return plan;
  }
  CycleMode mode() const override { return CycleMode::kTracked; }

 private:
  std::vector<uint64_t> blocks_;
};

}  // namespace

void AppendRun(CyclePlan* plan, uint64_t first, uint64_t count, BlockAction action) {
  if (count == 0) return;
  if (!plan->runs.empty()) {
    PlannedRun& last = plan->runs.back();
    if (last.action == action && last.first_block + last.block_count == first) {
      last.block_count += count;
      return;
    }
  }
  plan->runs.push_back({first, count, action});
}

std::unique_ptr<ChangeDetector> MakeInitialDetector() {
  return std::make_unique<AllocationDetector>(CycleMode::kInitial);
}
std::unique_ptr<ChangeDetector> MakeScanDetector() {
  return std::make_unique<AllocationDetector>(CycleMode::kScan);
}
std::unique_ptr<ChangeDetector> MakeDifferencingDetector() {
  return std::make_unique<AllocationDetector>(CycleMode::kDifferencing);
}
std::unique_ptr<ChangeDetector> MakeTrackedDetector(std::vector<uint64_t> blocks) {
  return std::make_unique<TrackedDetector>(std::move(blocks));
}

}  // namespace asr::replication
