#include "asr/protection/item_resync.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/status_macros.h"
#include "asr/replication/manifest.h"
#include "asr/replication/verifier.h"

namespace asr::protection {
namespace {

std::string VmLabel(const model::ProtectedItem& item) {
  return item.vm_name().empty() ? item.vm_id() : item.vm_name();
}

std::string DiskLabel(const model::ProtectedDisk& d) {
  return d.name().empty() ? d.disk_id() : d.name();
}

// Minutes after midnight of "HH:MM", or nullopt.
std::optional<int> ParseHhMm(const std::string& s) {
  int h = 0, m = 0;
  if (s.size() != 5 || s[2] != ':' || !absl::SimpleAtoi(s.substr(0, 2), &h) ||
      !absl::SimpleAtoi(s.substr(3, 2), &m) || h < 0 || h > 23 || m < 0 || m > 59) {
    return std::nullopt;
  }
  return h * 60 + m;
}

// The error the item shows while it needs a resynchronization.
model::HealthError ResyncError(const model::ProtectedItem& item,
                               const model::ReplicationPolicy& policy, const std::string& reason) {
  model::HealthError e;
  e.set_code(kResyncRequiredCode);
  e.set_severity("Error");
  e.set_message(absl::StrCat("The replica of VM '", VmLabel(item),
                             "' differs from what was replicated: ", reason));
  std::string action =
      absl::StrCat("resynchronize it (RepairReplication): asrctl item resync ", VmLabel(item));
  if (policy.auto_resynchronize_enabled()) {
    absl::StrAppend(&action, "; the site service does it by itself ",
                    policy.auto_resynchronize_interval_start().empty()
                        ? std::string("at its next pass")
                        : absl::StrCat("between ", policy.auto_resynchronize_interval_start(),
                                       " and ", policy.auto_resynchronize_interval_end(), " UTC"));
  }
  e.set_recommended_action(action);
  return e;
}

void RemoveResyncError(model::ProtectedItem& i) {
  auto* errors = i.mutable_health_errors();
  for (int k = errors->size() - 1; k >= 0; --k) {
    if (errors->Get(k).code() == kResyncRequiredCode) errors->DeleteSubrange(k, 1);
  }
}

absl::StatusOr<model::DiskVerification> VerifyDisk(ResyncContext& c,
                                                   const model::ProtectedDisk& d) {
  ASR_RETURN_IF_ERROR(c.bind(d));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<net::ByteStream> stream,
                       c.transport->Connect(c.item, c.policy.replication_port()));
  replication::VerifyOptions o;
  // The replica side: the source is compared by the resynchronization's
  // scan, at a host point (the live disk changes under a running VM).
  o.check_source = false;
  o.clock = c.clock;
  o.source_name = c.item.primary_host_name();
  absl::StatusOr<replication::VerifyResult> r =
      replication::VerifyReplica(d.source_path(), *stream, o);
  (void)stream->Close();
  if (!r.ok()) return r.status();
  // The requirement lives in the item; without the marker, regular cycles
  // stay tracked until the resynchronization (the flags stay in the manifest).
  ASR_RETURN_IF_ERROR(replication::ClearResyncMarker(d.source_path()));
  ASR_ASSIGN_OR_RETURN(std::optional<replication::Manifest> m,
                       replication::LoadManifest(replication::ManifestPath(d.source_path())));
  model::DiskVerification v;
  v.set_disk_id(d.disk_id());
  v.set_name(d.name());
  v.set_point_id(r->point_id);
  v.set_blocks_checked(r->blocks_checked);
  v.set_block_size(m ? m->block_size : 0);
  v.set_replica_mismatches(r->replica_mismatches);
  for (uint64_t b : r->replica_mismatch_blocks) v.add_replica_mismatch_blocks(b);
  v.set_flagged_blocks(r->flagged_blocks);
  v.set_resync_required(r->resync_required);
  v.set_reason(r->reason);
  return v;
}

// Verifies every disk into `out` (without recording anything in the item).
absl::Status VerifyAll(ResyncContext& c, model::ItemVerification* out) {
  out->set_protected_item_id(c.item.id());
  out->set_vm_name(c.item.vm_name());
  std::vector<std::string> parts;
  for (const model::ProtectedDisk& d : c.item.disks()) {
    absl::StatusOr<model::DiskVerification> v = VerifyDisk(c, d);
    if (!v.ok()) {
      return absl::Status(
          v.status().code(),
          absl::StrCat("verifying disk ", DiskLabel(d), " of VM '", VmLabel(c.item), "' to ",
                       c.transport->Describe(c.item, c.policy.replication_port()), ": ",
                       v.status().message()));
    }
    if (v->resync_required()) {
      out->set_resync_required(true);
      parts.push_back(absl::StrCat("disk ", DiskLabel(d), ": ", v->reason()));
    }
    *out->add_disks() = *std::move(v);
  }
  out->set_reason(out->resync_required()
                      ? absl::StrJoin(parts, "; ")
                      : absl::StrCat("every replica of VM '", VmLabel(c.item),
                                     "' matches what was replicated (", c.item.disks_size(),
                                     c.item.disks_size() == 1 ? " disk)" : " disks)"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<model::ItemVerification> VerifyItemReplicas(ResyncContext& c) {
  const absl::Time start = c.clock->Now();
  model::ItemVerification out;
  absl::Status s = VerifyAll(c, &out);
  const int64_t now = absl::ToUnixSeconds(c.clock->Now());
  ASR_RETURN_IF_ERROR(c.update([&](model::ProtectedItem& i) {
                         i.set_last_verification_time_unix(now);
                         if (!s.ok()) {
                           i.set_last_verification_result(
                               absl::StrCat("verification failed: ", s.message()));
                           return;
                         }
                         i.set_last_verification_result(out.reason());
                         RemoveResyncError(i);
                         i.set_resync_required(out.resync_required());
                         if (out.resync_required()) {
                           i.set_resync_state(model::PreparedForResynchronization);
                           *i.add_health_errors() = ResyncError(i, c.policy, out.reason());
                         } else {
                           i.set_resync_state(model::None);
                         }
                       }).status());
  ASR_RETURN_IF_ERROR(s);
  out.set_seconds(absl::ToDoubleSeconds(c.clock->Now() - start));
  return out;
}

absl::StatusOr<model::ItemVerification> ResyncItemReplicas(ResyncContext& c) {
  const absl::Time start = c.clock->Now();
  ASR_RETURN_IF_ERROR(c.update([](model::ProtectedItem& i) {
                         i.set_resync_state(model::StartedResynchronization);
                         i.set_resynchronization_state(model::ResynchronizationInitiated);
                       }).status());
  model::ItemVerification out;
  absl::StatusOr<model::CycleOutcome> cycle;
  absl::Status s = VerifyAll(c, &out);
  if (s.ok()) {
    cycle = c.scan_cycle();
    s = cycle.status();
  }
  const std::string reason = out.reason();
  const int64_t now = absl::ToUnixSeconds(c.clock->Now());
  ASR_RETURN_IF_ERROR(
      c.update([&](model::ProtectedItem& i) {
         i.set_last_verification_time_unix(now);
         if (s.ok()) {
           i.set_resync_required(false);
           i.set_resync_state(model::None);
           i.set_resynchronization_state(model::ResynchronizationCompleted);
           RemoveResyncError(i);
           i.set_last_verification_result(
               absl::StrCat("resynchronized: point ", cycle->point_sequence(), ", ",
                            cycle->bytes_sent(), " bytes sent (", reason, ")"));
         } else {
           i.set_resync_state(i.resync_required() ? model::PreparedForResynchronization
                                                  : model::None);
           i.set_resynchronization_state(model::ResynchronizationFailed);
           i.set_last_verification_result(absl::StrCat("resynchronization failed: ", s.message()));
         }
       }).status());
  ASR_RETURN_IF_ERROR(s);
  out.set_resynchronized(true);
  out.set_bytes_sent(cycle->bytes_sent());
  out.set_point_sequence(cycle->point_sequence());
  out.set_resync_required(false);
  out.set_seconds(absl::ToDoubleSeconds(c.clock->Now() - start));
  return out;
}

absl::Status CheckAutoResyncWindow(const model::ReplicationPolicy& p) {
  const std::string& a = p.auto_resynchronize_interval_start();
  const std::string& b = p.auto_resynchronize_interval_end();
  if (a.empty() && b.empty()) return absl::OkStatus();
  if (a.empty() != b.empty()) {
    return absl::InvalidArgumentError(
        "the auto-resynchronize window needs both its start and its end (\"HH:MM\"), or neither");
  }
  for (const std::string* v : {&a, &b}) {
    if (!ParseHhMm(*v)) {
      return absl::InvalidArgumentError(absl::StrCat("auto-resynchronize window bound '", *v,
                                                     "' is not a time \"HH:MM\" (00:00..23:59)"));
    }
  }
  return absl::OkStatus();
}

bool InAutoResyncWindow(const model::ReplicationPolicy& p, absl::Time now) {
  if (!p.auto_resynchronize_enabled() || !CheckAutoResyncWindow(p).ok()) return false;
  if (p.auto_resynchronize_interval_start().empty()) return true;
  const int from = *ParseHhMm(p.auto_resynchronize_interval_start());
  const int to = *ParseHhMm(p.auto_resynchronize_interval_end());
  const absl::TimeZone::CivilInfo ci = absl::UTCTimeZone().At(now);
  const int m = ci.cs.hour() * 60 + ci.cs.minute();
  if (from == to) return true;  // all day
  return from < to ? (m >= from && m < to) : (m >= from || m < to);
}

bool VerificationDue(const model::ProtectedItem& item, const model::ReplicationPolicy& policy,
                     absl::Time now) {
  const int hours = policy.verification_frequency_in_hours();
  if (hours <= 0) return false;
  return item.last_verification_time_unix() == 0 ||
         now - absl::FromUnixSeconds(item.last_verification_time_unix()) >= absl::Hours(hours);
}

}  // namespace asr::protection
