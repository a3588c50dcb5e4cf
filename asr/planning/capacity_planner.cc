#include "asr/planning/capacity_planner.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/platform/env.h"

namespace asr::planning {
namespace {

constexpr double kBitsPerMbit = 1e6;

// One hash per block of the virtual disk, and the bytes of blocks that are
// not all zeros.
struct Scan {
  std::vector<uint64_t> hashes;
  uint64_t used_bytes = 0;
  uint64_t virtual_size = 0;
};

absl::StatusOr<Scan> ScanDisk(const std::string& path, uint32_t block_size) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> d,
                       disk::OpenDisk(path, disk::OpenMode::kReadOnly));
  Scan s;
  s.virtual_size = d->virtual_size();
  std::vector<uint8_t> buf(block_size);
  for (uint64_t off = 0; off < s.virtual_size; off += block_size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(block_size, s.virtual_size - off));
    ASR_RETURN_IF_ERROR(d->ReadAt(off, absl::MakeSpan(buf.data(), n)));
    s.hashes.push_back(
        absl::HashOf(absl::string_view(reinterpret_cast<const char*>(buf.data()), n)));
    // What a replica holds: blocks of zeros are not stored.
    if (std::any_of(buf.begin(), buf.begin() + n, [](uint8_t b) { return b != 0; })) {
      s.used_bytes += n;
    }
  }
  ASR_RETURN_IF_ERROR(d->Close());
  return s;
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30)) return absl::StrFormat("%.2f GiB", b / (1ull << 30));
  if (bytes >= (1ull << 20)) return absl::StrFormat("%.2f MiB", b / (1ull << 20));
  if (bytes >= (1ull << 10)) return absl::StrFormat("%.1f KiB", b / (1ull << 10));
  return absl::StrCat(bytes, " B");
}

absl::StatusOr<model::CapacityPlan> ComputeCapacityPlan(const model::CapacityPlanInput& in) {
  if (in.disks().empty()) {
    return absl::InvalidArgumentError(
        "the plan has no disks: name protected VMs (--vm) or give --disks N --disk-size SIZE");
  }
  const int f = in.copy_frequency_seconds();
  if (f <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the copy frequency must be a positive number of seconds (30, 300 or 900), not ", f));
  }
  if (in.recovery_points_to_retain() < 0 || in.app_consistent_frequency_hours() < 0) {
    return absl::InvalidArgumentError(
        "recovery points to retain and the app-consistent frequency cannot be negative");
  }
  double ratio = in.compression_ratio() == 0 ? 1.0 : in.compression_ratio();
  if (!(ratio >= 1.0) || !std::isfinite(ratio)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the compression ratio is bytes changed / bytes sent, 1 or more (1 = incompressible), "
        "not ",
        in.compression_ratio()));
  }
  if (!(in.headroom() >= 0) || !std::isfinite(in.headroom())) {
    return absl::InvalidArgumentError(
        absl::StrCat("the headroom is a fraction >= 0 (0.2 = 20%), not ", in.headroom()));
  }
  if (!(in.link_mbps() >= 0) || !std::isfinite(in.link_mbps())) {
    return absl::InvalidArgumentError(
        absl::StrCat("the link speed is in Mbit/s and >= 0, not ", in.link_mbps()));
  }

  model::CapacityPlan p;
  *p.mutable_input() = in;
  p.mutable_input()->set_compression_ratio(ratio);
  auto line = [&](std::string s) { p.add_arithmetic(std::move(s)); };

  uint64_t churn = 0, base = 0;
  for (const model::CapacityDiskInput& d : in.disks()) {
    churn += d.churn_bytes_per_hour();
    base += d.used_bytes();
  }
  p.set_churn_bytes_per_hour(churn);
  p.set_base_bytes(base);
  line(absl::StrFormat("churn per hour = %d B (%s) over %d disk(s)", churn, FormatBytes(churn),
                       in.disks_size()));

  // Bandwidth.
  const uint64_t changed =
      static_cast<uint64_t>(std::llround(static_cast<double>(churn) * f / 3600.0));
  p.set_changed_bytes_per_cycle(changed);
  line(absl::StrFormat("changed per cycle = %d B/h * %d s / 3600 s/h = %d B (%s)", churn, f,
                       changed, FormatBytes(changed)));
  const uint64_t sent = static_cast<uint64_t>(std::llround(static_cast<double>(changed) / ratio));
  p.set_sent_bytes_per_cycle(sent);
  line(absl::StrFormat("sent per cycle = %d B / compression %.2f = %d B (%s)", changed, ratio, sent,
                       FormatBytes(sent)));
  const double mean = static_cast<double>(sent) * 8.0 / f / kBitsPerMbit;
  p.set_mean_mbps(mean);
  line(absl::StrFormat("mean bandwidth = %d B * 8 bit/B / %d s = %.3f Mbit/s", sent, f, mean));
  const double required = mean * (1.0 + in.headroom());
  p.set_required_mbps(required);
  line(absl::StrFormat("required bandwidth = %.3f Mbit/s * (1 + headroom %.2f) = %.3f Mbit/s", mean,
                       in.headroom(), required));

  // Storage.
  line(absl::StrFormat("base = sum of used sizes = %d B (%s)", base, FormatBytes(base)));
  p.set_point_bytes(changed);
  const int points = in.recovery_points_to_retain();
  p.set_points_kept(points);
  int app = 0;
  if (in.app_consistent_frequency_hours() > 0 && points > 0) {
    const int64_t window = static_cast<int64_t>(points) * f;
    const int64_t every = static_cast<int64_t>(in.app_consistent_frequency_hours()) * 3600;
    app = static_cast<int>((window + every - 1) / every);
    line(absl::StrFormat("app-consistent points = ceil(%d points * %d s / (%d h * 3600 s/h)) = %d",
                         points, f, in.app_consistent_frequency_hours(), app));
  }
  p.set_app_consistent_points(app);
  const uint64_t storage = base + static_cast<uint64_t>(points + app) * changed;
  p.set_replica_storage_bytes(storage);
  line(
      absl::StrFormat("replica storage = base %d B + (%d retained + %d app-consistent) * %d B "
                      "per point = %d B (%s)",
                      base, points, app, changed, storage, FormatBytes(storage)));

  if (in.link_mbps() > 0) {
    p.set_link_checked(true);
    p.set_link_sufficient(in.link_mbps() >= required);
    line(absl::StrFormat(
        "link %.3f Mbit/s %s required %.3f Mbit/s: %s", in.link_mbps(),
        p.link_sufficient() ? ">=" : "<", required,
        p.link_sufficient() ? "meets the RPO" : "too slow: cycles fall behind and the RPO grows"));
  }
  return p;
}

absl::StatusOr<model::CapacityPlanInput> PlanInputFromItems(
    const std::vector<model::ProtectedItem>& items,
    const std::vector<model::ReplicationPolicy>& policies) {
  if (items.empty()) {
    return absl::InvalidArgumentError("no protected VMs to plan from: protect a VM first");
  }
  const std::string& policy_id = items.front().policy_id();
  const model::ReplicationPolicy* policy = nullptr;
  for (const model::ReplicationPolicy& p : policies) {
    if (p.id() == policy_id) policy = &p;
  }
  if (policy == nullptr) {
    return absl::NotFoundError(absl::StrCat("the policy '", policy_id, "' of VM '",
                                            items.front().vm_name(), "' is not in the site"));
  }
  model::CapacityPlanInput in;
  for (const model::ProtectedItem& item : items) {
    if (item.policy_id() != policy_id) {
      return absl::InvalidArgumentError(absl::StrCat(
          "VM '", item.vm_name(), "' uses policy '", item.policy_id(), "', VM '",
          items.front().vm_name(), "' uses '", policy_id, "': plan each policy separately"));
    }
    for (const model::ProtectedDisk& d : item.disks()) {
      model::CapacityDiskInput* di = in.add_disks();
      di->set_name(absl::StrCat(item.vm_name(), "/", d.name().empty() ? d.disk_id() : d.name()));
      di->set_used_bytes(d.size_bytes());
    }
  }
  in.set_copy_frequency_seconds(policy->replication_frequency_in_seconds());
  in.set_recovery_points_to_retain(policy->number_of_recovery_points_to_retain());
  in.set_app_consistent_frequency_hours(
      policy->application_consistent_snapshot_frequency_in_hours());
  in.set_compression_ratio(1.0);
  return in;
}

absl::StatusOr<model::CapacityMeasurement> MeasureDiskChurn(const std::string& path,
                                                            absl::Duration duration,
                                                            uint32_t block_size) {
  if (duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the measurement needs a positive duration, e.g. 60s");
  }
  if (block_size < 512 || (block_size & (block_size - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the block size must be a power of two of at least 512, not ", block_size));
  }
  const absl::Time start = absl::Now();
  ASR_ASSIGN_OR_RETURN(Scan before, ScanDisk(path, block_size));
  const absl::Duration left = duration - (absl::Now() - start);
  if (left > absl::ZeroDuration()) platform::Sleep(left);
  ASR_ASSIGN_OR_RETURN(Scan after, ScanDisk(path, block_size));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (after.virtual_size != before.virtual_size) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " was resized while measured (", before.virtual_size, " -> ",
                     after.virtual_size, " bytes): measure again"));
  }
  model::CapacityMeasurement m;
  m.set_path(path);
  m.set_virtual_size_bytes(after.virtual_size);
  m.set_used_bytes(after.used_bytes);
  m.set_block_size(block_size);
  uint64_t blocks = 0, bytes = 0;
  for (size_t i = 0; i < after.hashes.size(); ++i) {
    if (after.hashes[i] != before.hashes[i]) {
      ++blocks;
      bytes += std::min<uint64_t>(block_size, after.virtual_size - i * block_size);
    }
  }
  m.set_blocks_changed(blocks);
  m.set_bytes_changed(bytes);
  m.set_seconds(seconds);
  m.set_churn_bytes_per_hour(
      static_cast<uint64_t>(std::llround(static_cast<double>(bytes) * 3600.0 / seconds)));
  return m;
}

}  // namespace asr::planning
