#include "asr/cli/mapping_commands.h"

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/cli/engine_options.h"
#include "asr/common/status_macros.h"
#include "asr/mapping/mapping_service.h"
#include "asr/model/json.h"
#include "asr/model/mapping.pb.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

using mapping::MappingService;

// The facade over --state-dir, writable only when the command changes state.
absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const CommandContext& ctx, bool write) {
  absl::StatusOr<SiteRecoveryOptions> hosted = EngineOptionsWithHost(ctx);
  if (!hosted.ok()) return hosted.status();
  SiteRecoveryOptions options = *hosted;
  options.read_only = !write;
  options.create_if_missing = false;
  return SiteRecovery::Open(ctx.state_dir, options);
}

// Prints rows as left-aligned columns separated by two spaces.
void PrintTable(std::ostream& os, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    os << line << "\n";
  }
}

std::string Where(const model::NicResolution& r) {
  if (r.target_vm_network_id().empty()) return "no network";
  std::string net =
      r.target_vm_network_name().empty() ? r.target_vm_network_id() : r.target_vm_network_name();
  return r.target_subnet_name().empty() ? net : absl::StrCat(net, "/", r.target_subnet_name());
}

std::string Source(const model::NicResolution& r) {
  if (r.source_vm_network_id().empty()) return "no network";
  std::string net =
      r.source_vm_network_name().empty() ? r.source_vm_network_id() : r.source_vm_network_name();
  return r.source_subnet_name().empty() ? net : absl::StrCat(net, "/", r.source_subnet_name());
}

std::string Size(uint64_t bytes) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  if (bytes >= kGiB && bytes % kGiB == 0) return absl::StrCat(bytes / kGiB, " GiB");
  return absl::StrCat(bytes, " bytes");
}

template <typename T>
absl::Status PrintJson(const CommandContext& ctx, const T& message) {
  *ctx.out << model::ToJson(message) << "\n";
  return absl::OkStatus();
}

void PrintChanges(const CommandContext& ctx, const model::MappingChangeReport& r) {
  *ctx.out << "  " << r.protected_vms_examined() << " protected VMs on the source network, "
           << r.changes_size() << " replica NICs change\n";
  for (const auto& c : r.changes()) {
    *ctx.out << "    " << c.vm_name() << " NIC " << c.after().nic_id() << ": " << Where(c.before())
             << " -> " << Where(c.after()) << "\n";
  }
  for (const auto& w : r.warnings()) *ctx.out << "  warning: " << w << "\n";
}

// ---- network-map ------------------------------------------------------------

absl::Status NetworkMapAdd(const CommandContext& ctx, const ParsedArgs& a) {
  auto source = a.Require("source");
  if (!source.ok()) return source.status();
  auto target = a.Require("target");
  if (!target.ok()) return target.status();
  model::NetworkMapping m;
  m.set_id(a.Get("id"));
  m.set_source_vm_network_id(*source);
  m.set_target_vm_network_id(*target);
  m.set_source_server_id(a.Get("source-server"));
  m.set_target_server_id(a.Get("target-server"));
  auto s = Open(ctx, true);
  if (!s.ok()) return s.status();
  auto r = (*s)->mappings().MapNetwork(m, a.Has("replace"));
  if (!r.ok()) return r.status();
  if (ctx.json) return PrintJson(ctx, *r);
  const char* verb = r->operation() == "create"   ? "created"
                     : r->operation() == "change" ? "changed"
                                                  : "unchanged:";
  *ctx.out << verb << " network mapping " << r->current().id() << ": "
           << r->current().source_vm_network_id() << " -> " << r->current().target_vm_network_id()
           << " (job " << r->job_id() << ")\n";
  PrintChanges(ctx, *r);
  return absl::OkStatus();
}

absl::Status NetworkMapRemove(const CommandContext& ctx, const ParsedArgs& a) {
  auto s = Open(ctx, true);
  if (!s.ok()) return s.status();
  auto r = (*s)->mappings().UnmapNetwork(a.positional[0]);
  if (!r.ok()) return r.status();
  if (ctx.json) return PrintJson(ctx, *r);
  *ctx.out << "removed network mapping " << r->previous().id() << ": "
           << r->previous().source_vm_network_id() << " -> " << r->previous().target_vm_network_id()
           << " (job " << r->job_id() << ")\n";
  PrintChanges(ctx, *r);
  return absl::OkStatus();
}

absl::Status NetworkMapList(const CommandContext& ctx, const ParsedArgs& a) {
  auto s = Open(ctx, false);
  if (!s.ok()) return s.status();
  if (a.Has("source")) {
    auto t = (*s)->mappings().TargetNetworks(a.Get("source"), a.Get("target"));
    if (!t.ok()) return t.status();
    if (ctx.json) return PrintJson(ctx, *t);
    std::vector<std::vector<std::string>> rows = {
        {"TARGET NETWORK", "PROTECTED CLOUD", "RECOVERY CLOUD", "AVAILABLE"}};
    for (const auto& r : t->rows()) {
      rows.push_back({r.target_vm_network_name(), r.primary_cloud_name(), r.recovery_cloud_name(),
                      r.available() ? "available" : "not available"});
    }
    PrintTable(*ctx.out, rows);
    return absl::OkStatus();
  }
  auto t = (*s)->mappings().ListNetworkMappings();
  if (!t.ok()) return t.status();
  if (ctx.json) return PrintJson(ctx, *t);
  std::vector<std::vector<std::string>> rows = {{"SERVER", "VM NETWORK", "MAPPED TO", "MAPPING"}};
  for (const auto& r : t->rows()) {
    rows.push_back({r.server_id(), r.vm_network_name(),
                    r.mapped() ? (r.mapped_vm_network_name().empty() ? r.mapped_vm_network_id()
                                                                     : r.mapped_vm_network_name())
                               : "not mapped",
                    r.mapping_id()});
  }
  PrintTable(*ctx.out, rows);
  return absl::OkStatus();
}

absl::Status NetworkMapResolve(const CommandContext& ctx, const ParsedArgs& a) {
  auto vm = a.Require("vm");
  if (!vm.ok()) return vm.status();
  auto s = Open(ctx, false);
  if (!s.ok()) return s.status();
  if (a.Has("failback")) {
    auto replica = a.Require("replica-network");
    if (!replica.ok()) return replica.status();
    model::FailbackRequest req;
    req.set_vm_id(*vm);
    req.set_nic_id(a.Get("nic"));
    req.set_replica_vm_network_id(*replica == "none" ? "" : *replica);
    req.set_replica_subnet_name(a.Get("replica-subnet"));
    req.set_replica_failover_vm_network_id(a.Get("failover-network"));
    auto r = (*s)->mappings().ResolveFailback(req);
    if (!r.ok()) return r.status();
    if (ctx.json) return PrintJson(ctx, *r);
    std::string to =
        r->vm_network_id().empty()
            ? "disconnected"
            : absl::StrCat(r->vm_network_name().empty() ? r->vm_network_id() : r->vm_network_name(),
                           r->subnet_name().empty() ? "" : "/", r->subnet_name());
    *ctx.out << "on failback the original VM is " << (r->vm_network_id().empty() ? "" : "on ") << to
             << "\n  " << model::FailbackScenario_Name(r->scenario()) << ": " << r->explanation()
             << "\n";
    return absl::OkStatus();
  }
  auto r = (*s)->mappings().ResolveNetworks(*vm);
  if (!r.ok()) return r.status();
  if (ctx.json) return PrintJson(ctx, *r);
  *ctx.out << r->vm_name() << ": " << r->nics_size() << " replica NICs\n";
  for (const auto& n : r->nics()) {
    *ctx.out << "  " << n.nic_id() << ": " << Source(n) << " -> " << Where(n) << "  ("
             << n.explanation() << ")\n";
  }
  return absl::OkStatus();
}

// ---- storage-map ------------------------------------------------------------

absl::Status StorageMapAdd(const CommandContext& ctx, const ParsedArgs& a) {
  auto source = a.Require("source");
  if (!source.ok()) return source.status();
  auto target = a.Require("target");
  if (!target.ok()) return target.status();
  model::StorageMapping m;
  m.set_id(a.Get("id"));
  m.set_source_classification_id(*source);
  m.set_target_classification_id(*target);
  m.set_source_server_id(a.Get("source-server"));
  m.set_target_server_id(a.Get("target-server"));
  auto s = Open(ctx, true);
  if (!s.ok()) return s.status();
  auto r = (*s)->mappings().MapStorage(m, a.Has("replace"));
  if (!r.ok()) return r.status();
  if (ctx.json) return PrintJson(ctx, *r);
  const char* verb = r->operation() == "create"   ? "created"
                     : r->operation() == "change" ? "changed"
                                                  : "unchanged:";
  *ctx.out << verb << " storage mapping " << r->current().id() << ": "
           << r->current().source_classification_id() << " -> "
           << r->current().target_classification_id() << " (job " << r->job_id() << ")\n";
  for (const auto& w : r->warnings()) *ctx.out << "  warning: " << w << "\n";
  return absl::OkStatus();
}

absl::Status StorageMapRemove(const CommandContext& ctx, const ParsedArgs& a) {
  auto s = Open(ctx, true);
  if (!s.ok()) return s.status();
  auto r = (*s)->mappings().UnmapStorage(a.positional[0]);
  if (!r.ok()) return r.status();
  if (ctx.json) return PrintJson(ctx, *r);
  *ctx.out << "removed storage mapping " << r->previous().id() << ": "
           << r->previous().source_classification_id() << " -> "
           << r->previous().target_classification_id() << " (job " << r->job_id() << ")\n";
  return absl::OkStatus();
}

absl::Status StorageMapList(const CommandContext& ctx, const ParsedArgs&) {
  auto s = Open(ctx, false);
  if (!s.ok()) return s.status();
  auto t = (*s)->mappings().ListStorageMappings();
  if (!t.ok()) return t.status();
  if (ctx.json) return PrintJson(ctx, *t);
  std::vector<std::vector<std::string>> rows = {
      {"SERVER", "CLASSIFICATION", "STORAGE", "MAPPED TO", "MAPPING"}};
  for (const auto& r : t->rows()) {
    std::string storage;
    for (const auto& n : r.storage_names()) storage += (storage.empty() ? "" : ",") + n;
    rows.push_back({r.server_id(), r.classification_name(), storage,
                    r.mapped() ? r.mapped_classification_name() : "not mapped", r.mapping_id()});
  }
  PrintTable(*ctx.out, rows);
  return absl::OkStatus();
}

void PrintDisks(const CommandContext& ctx,
                const google::protobuf::RepeatedPtrField<model::DiskPlacement>& disks) {
  for (const auto& d : disks) {
    *ctx.out << "    " << (d.disk_name().empty() ? d.disk_id() : d.disk_name()) << " ("
             << Size(d.size_bytes()) << ") -> "
             << (d.replica_disk_path().empty() ? "nowhere" : d.replica_disk_path()) << "\n      "
             << d.explanation() << "\n";
  }
}

absl::Status StorageMapResolve(const CommandContext& ctx, const ParsedArgs& a) {
  auto vm = a.Require("vm");
  if (!vm.ok()) return vm.status();
  auto s = Open(ctx, false);
  if (!s.ok()) return s.status();
  auto r = (*s)->mappings().ResolveStorage(*vm, a.Get("host"));
  if (!r.ok()) return r.status();
  if (ctx.json) return PrintJson(ctx, *r);
  *ctx.out << r->vm_name() << " on host " << r->host_name() << (r->fits() ? "" : " (does not fit)")
           << ":\n";
  PrintDisks(ctx, r->disks());
  return r->fits() ? absl::OkStatus() : QuietFailure(1);  // the output says why
}

// ---- placement --------------------------------------------------------------

absl::Status PlacementShow(const CommandContext& ctx, const ParsedArgs& a) {
  auto vm = a.Require("vm");
  if (!vm.ok()) return vm.status();
  auto s = Open(ctx, false);
  if (!s.ok()) return s.status();
  mapping::PlacementOptions options;
  options.pairing_id = a.Get("pairing");
  auto p = (*s)->mappings().ShowPlacement(*vm, options);
  if (!p.ok()) return p.status();
  if (ctx.json) {
    ASR_RETURN_IF_ERROR(PrintJson(ctx, *p));
    return p->placed() ? absl::OkStatus() : QuietFailure(1);  // the JSON says why
  }
  if (!p->placed()) {
    for (const auto& h : p->hosts()) {
      *ctx.out << "  host " << h.host_name() << ": ";
      for (int i = 0; i < h.reasons_size(); ++i) *ctx.out << (i ? "; " : "") << h.reasons(i);
      *ctx.out << "\n";
    }
    for (const auto& w : p->warnings()) *ctx.out << "  warning: " << w << "\n";
    return absl::FailedPreconditionError(p->explanation());
  }
  *ctx.out << p->vm_name() << " -> host " << p->host_name() << " in recovery cloud "
           << p->recovery_cloud_name() << " (pairing " << p->pairing_id() << ")\n";
  *ctx.out << "  disks:\n";
  PrintDisks(ctx, p->disks());
  *ctx.out << "  NICs:\n";
  for (const auto& n : p->nics()) {
    *ctx.out << "    " << n.nic_id() << ": " << Source(n) << " -> " << Where(n) << "\n";
  }
  for (const auto& w : p->warnings()) *ctx.out << "  warning: " << w << "\n";
  *ctx.out << "  why: " << p->explanation() << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterMappingCommands(CommandRegistry& r) {
  r.Add({"network-map add",
         "network-map add --source NET --target NET [--replace] [--id ID] "
         "[--source-server S] [--target-server S] [--json]",
         "Map a source VM network to a target VM network (a job); reports the replica NICs "
         "that change.",
         {"source", "target", "id", "source-server", "target-server"},
         {"replace"},
         0,
         0,
         NetworkMapAdd});
  r.Add({"network-map remove",
         "network-map remove MAPPING|SOURCE-NET [--json]",
         "Remove a network mapping (a job); its replicas then join no network.",
         {},
         {},
         1,
         1,
         NetworkMapRemove});
  r.Add({"network-map list",
         "network-map list [--source NET [--target NET]] [--json]",
         "List every VM network and what it is mapped to; with --source, which target networks "
         "are available for which cloud pairing.",
         {"source", "target"},
         {},
         0,
         0,
         NetworkMapList});
  r.Add({"network-map resolve",
         "network-map resolve --vm VM [--failback --replica-network NET|none "
         "[--replica-subnet S] [--failover-network NET] [--nic NIC]] [--json]",
         "Show the network and subnet each replica NIC of a VM joins, or with --failback what "
         "the original VM joins on reverse replication.",
         {"vm", "replica-network", "replica-subnet", "failover-network", "nic"},
         {"failback"},
         0,
         0,
         NetworkMapResolve});
  r.Add({"storage-map add",
         "storage-map add --source CLASS --target CLASS [--replace] [--id ID] "
         "[--source-server S] [--target-server S] [--json]",
         "Map a source storage classification to a target classification (a job).",
         {"source", "target", "id", "source-server", "target-server"},
         {"replace"},
         0,
         0,
         StorageMapAdd});
  r.Add({"storage-map remove",
         "storage-map remove MAPPING|SOURCE-CLASS [--json]",
         "Remove a storage mapping (a job).",
         {},
         {},
         1,
         1,
         StorageMapRemove});
  r.Add({"storage-map list",
         "storage-map list [--json]",
         "List every storage classification and what it is mapped to.",
         {},
         {},
         0,
         0,
         StorageMapList});
  r.Add({"storage-map resolve",
         "storage-map resolve --vm VM [--host HOST] [--json]",
         "Show where each replica disk of a VM goes (on HOST, or on the host placement picks).",
         {"vm", "host"},
         {},
         0,
         0,
         StorageMapResolve});
  r.Add({"placement show",
         "placement show --vm VM [--pairing ID] [--json]",
         "Show the replica placement of a VM: host, disk paths, NIC networks and subnets, and "
         "why.",
         {"vm", "pairing"},
         {},
         0,
         0,
         PlacementShow});
}

}  // namespace asr::cli
