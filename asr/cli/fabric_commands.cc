#include "asr/cli/fabric_commands.h"

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"

namespace asr::cli {
namespace {

using fabric::SimulatedFabric;

absl::StatusOr<std::unique_ptr<SimulatedFabric>> OpenFabric(const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::string dir, a.Require("dir"));
  return SimulatedFabric::Open(dir);
}

const char* PowerName(model::VmPowerState p) {
  switch (p) {
    case model::RUNNING:
      return "running";
    case model::PAUSED:
      return "paused";
    case model::SAVED:
      return "saved";
    default:
      return "stopped";
  }
}

std::string Mib(uint64_t bytes) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1 << 20));
}

absl::Status Init(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::string dir, a.Require("dir"));
  if (a.Has("example") == a.Has("inventory")) {
    return absl::InvalidArgumentError("give either --example or --inventory FILE");
  }
  fabric::FabricOptions o;
  if (a.Has("disk-size")) {
    ASR_ASSIGN_OR_RETURN(o.disk_size_bytes, ParseSize(a.Get("disk-size")));
  }
  if (a.Has("max-disk-size")) {
    ASR_ASSIGN_OR_RETURN(o.max_disk_size_bytes, ParseSize(a.Get("max-disk-size")));
  }
  std::unique_ptr<SimulatedFabric> f;
  if (a.Has("example")) {
    ASR_ASSIGN_OR_RETURN(f, fabric::CreateExampleFabric(dir, o));
  } else {
    ASR_ASSIGN_OR_RETURN(auto servers, fabric::LoadInventoryFile(a.Get("inventory")));
    ASR_ASSIGN_OR_RETURN(f, SimulatedFabric::Create(dir, servers, o));
  }
  ASR_ASSIGN_OR_RETURN(fabric::FabricState s, f->State());
  int vms = 0, disks = 0;
  for (const auto& server : s.servers()) {
    for (const auto& vm : server.inventory().virtual_machines()) {
      ++vms;
      disks += vm.disks_size();
    }
  }
  *ctx.out << "fabric created in " << dir << ": " << s.servers_size() << " servers, " << vms
           << " VMs, " << disks << " disks\n";
  return absl::OkStatus();
}

absl::Status Show(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(auto f, OpenFabric(a));
  ASR_ASSIGN_OR_RETURN(fabric::FabricState s, f->State());
  if (ctx.json) {
    *ctx.out << model::ToJson(s, true) << "\n";
    return absl::OkStatus();
  }
  const fabric::FabricFaults& faults = s.faults();
  for (const fabric::FabricServer& server : s.servers()) {
    const model::Inventory& inv = server.inventory();
    *ctx.out << "server " << server.name() << "\n";
    for (const model::HyperVHost& h : inv.hosts()) {
      *ctx.out << "  host " << h.id() << (faults.hosts_down().count(h.id()) ? " (DOWN)" : "");
      auto st = faults.recovery_storage().find(h.id());
      if (st != faults.recovery_storage().end())
        *ctx.out << " (storage: " << st->second.message() << ")";
      *ctx.out << "  storage " << h.default_storage_path() << "\n";
      for (const model::VirtualMachine& vm : inv.virtual_machines()) {
        if (vm.host_id() != h.id()) continue;
        *ctx.out << "    vm " << vm.id() << " (" << vm.name() << ") " << PowerName(vm.power_state())
                 << (vm.cloud_id().empty() ? "" : " cloud " + vm.cloud_id()) << "\n";
        for (const model::VirtualDisk& d : vm.disks()) {
          *ctx.out << "      disk " << d.id() << " " << Mib(d.size_bytes()) << " " << d.path()
                   << "\n";
        }
        for (const model::NetworkAdapter& n : vm.network_adapters()) {
          *ctx.out << "      nic " << n.id() << " "
                   << (n.vm_network_id().empty() ? "not connected"
                                                 : n.vm_network_id() + "/" + n.subnet_name())
                   << "\n";
        }
      }
    }
  }
  std::vector<std::string> fl;
  for (const auto& [host, msg] : faults.hosts_down()) fl.push_back("host-down " + host);
  for (const auto& vm : faults.vms_not_starting()) fl.push_back("vm-no-start " + vm);
  for (const auto& vm : faults.point_failures()) fl.push_back("point-fails " + vm);
  if (faults.script_exit_code() != 0) {
    fl.push_back(absl::StrCat("script-fails ", faults.script_exit_code()));
  }
  if (faults.scripts_hang()) fl.push_back("script-hangs");
  for (const auto& [host, st] : faults.recovery_storage()) fl.push_back("storage-full " + host);
  *ctx.out << "faults: " << (fl.empty() ? "none" : absl::StrJoin(fl, ", ")) << "\n";
  return absl::OkStatus();
}

absl::Status Power(const CommandContext& ctx, const ParsedArgs& a, const std::string& what) {
  ASR_ASSIGN_OR_RETURN(auto f, OpenFabric(a));
  const std::string& vm = a.positional[0];
  if (what == "start") {
    ASR_RETURN_IF_ERROR(f->StartVm(vm));
  } else if (what == "stop") {
    ASR_RETURN_IF_ERROR(f->ShutdownVm(vm));
  } else {
    ASR_RETURN_IF_ERROR(f->TurnOffVm(vm));
  }
  ASR_ASSIGN_OR_RETURN(model::VmPowerState p, f->GetPowerState(vm));
  *ctx.out << vm << ": " << PowerName(p) << "\n";
  return absl::OkStatus();
}

absl::Status Workload(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(auto f, OpenFabric(a));
  absl::Duration duration;
  if (!absl::ParseDuration(a.Get("duration"), &duration) || duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration needs a positive duration such as 10s or 2m");
  }
  fabric::WorkloadOptions w;
  if (a.Has("rate")) {
    ASR_ASSIGN_OR_RETURN(int64_t rate, ParseInt(a.Get("rate"), "--rate", 1, 100000));
    w.writes_per_second = static_cast<double>(rate);
  }
  if (a.Has("min-write")) {
    ASR_ASSIGN_OR_RETURN(w.min_write_bytes, ParseSize(a.Get("min-write")));
  }
  if (a.Has("max-write")) {
    ASR_ASSIGN_OR_RETURN(w.max_write_bytes, ParseSize(a.Get("max-write")));
  }
  if (a.Has("seed")) {
    ASR_ASSIGN_OR_RETURN(int64_t seed, ParseInt(a.Get("seed"), "--seed", 0, INT64_MAX));
    w.seed = static_cast<uint64_t>(seed);
  } else {
    w.seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  }
  if (a.Has("threads")) {
    ASR_ASSIGN_OR_RETURN(int64_t t, ParseInt(a.Get("threads"), "--threads", 1, 64));
    w.threads = static_cast<int>(t);
  }
  if (a.Has("vm")) {
    for (absl::string_view vm : absl::StrSplit(a.Get("vm"), ',', absl::SkipEmpty())) {
      w.vms.insert(std::string(vm));
    }
  }
  ASR_RETURN_IF_ERROR(f->StartWorkload(w));
  platform::Sleep(duration);
  fabric::WorkloadStats st = f->StopWorkload();
  if (ctx.json) {
    *ctx.out << absl::StrFormat(
        "{\"writes\": %d, \"bytes\": %d, \"errors\": %d, \"lastError\": \"%s\"}\n", st.writes,
        st.bytes, st.errors, absl::CHexEscape(st.last_error));
  } else {
    *ctx.out << st.writes << " writes (" << Mib(st.bytes) << ") in "
             << absl::FormatDuration(duration) << ", " << st.errors << " errors"
             << (st.last_error.empty() ? "" : " (last: " + st.last_error + ")") << "\n";
  }
  if (st.errors > 0 && st.writes == 0) {
    return absl::FailedPreconditionError(absl::StrCat("no write succeeded: ", st.last_error));
  }
  return absl::OkStatus();
}

absl::Status Fault(const CommandContext& ctx, const ParsedArgs& a, bool set) {
  ASR_ASSIGN_OR_RETURN(auto f, OpenFabric(a));
  const std::string& kind = a.positional[0];
  std::string target = a.positional.size() > 1 ? a.positional[1] : "";
  auto need = [&](const char* what) -> absl::Status {
    if (target.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("fault ", kind, " needs ", what));
    }
    return absl::OkStatus();
  };
  if (kind == "host-down") {
    ASR_RETURN_IF_ERROR(need("a host id"));
    ASR_RETURN_IF_ERROR(f->SetHostDown(target, set));
  } else if (kind == "vm-no-start") {
    ASR_RETURN_IF_ERROR(need("a VM id"));
    ASR_RETURN_IF_ERROR(f->SetVmWillNotStart(target, set));
  } else if (kind == "point-fails") {
    ASR_RETURN_IF_ERROR(need("a VM id (or *)"));
    ASR_RETURN_IF_ERROR(f->SetPointFails(target, set));
  } else if (kind == "script-fails") {
    int code = 0;
    if (set) {
      ASR_RETURN_IF_ERROR(need("an exit code"));
      ASR_ASSIGN_OR_RETURN(int64_t c, ParseInt(target, "exit code", 1, 255));
      code = static_cast<int>(c);
    }
    ASR_RETURN_IF_ERROR(f->SetScriptFailure(code));
  } else if (kind == "script-hangs") {
    ASR_RETURN_IF_ERROR(f->SetScriptHang(set));
  } else if (kind == "storage-full") {
    ASR_RETURN_IF_ERROR(need("a recovery host id"));
    absl::Status status =
        set ? absl::ResourceExhaustedError(a.Get("message", "disk full on " + target))
            : absl::OkStatus();
    ASR_RETURN_IF_ERROR(f->FailRecoveryStorage(target, status));
  } else if (kind == "all" && !set) {
    ASR_RETURN_IF_ERROR(f->ClearFaults());
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown fault '", kind,
        "': host-down HOST, vm-no-start VM, point-fails VM|*, script-fails CODE, script-hangs, "
        "storage-full HOST (and `fault clear all`)"));
  }
  *ctx.out << "fault " << kind << (target.empty() ? "" : " " + target)
           << (set ? " set" : " cleared") << "\n";
  return absl::OkStatus();
}

absl::Status Verify(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(auto f, OpenFabric(a));
  ASR_ASSIGN_OR_RETURN(std::string vm, a.Require("vm"));
  ASR_ASSIGN_OR_RETURN(std::string disk, a.Require("disk"));
  ASR_ASSIGN_OR_RETURN(std::string image, a.Require("image"));
  if (a.Has("point") == a.Has("latest")) {
    return absl::InvalidArgumentError("give either --point ID or --latest");
  }
  if (a.Has("point")) {
    ASR_RETURN_IF_ERROR(f->VerifyDiskAtPoint(vm, disk, a.Get("point"), image));
    *ctx.out << image << " holds every write to " << vm << " " << disk << " before point "
             << a.Get("point") << "\n";
  } else {
    ASR_RETURN_IF_ERROR(f->VerifyDiskLatest(vm, disk, image));
    *ctx.out << image << " holds every write to " << vm << " " << disk << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterFabricCommands(CommandRegistry& r) {
  r.Add({"fabric init",
         "fabric init --dir DIR (--example | --inventory FILE) [--disk-size SIZE] "
         "[--max-disk-size SIZE]",
         "Create a simulated VMM fabric with real VHDX disks (the New York/Chicago example, or "
         "servers from an inventory file); sizes: every disk, or the cap (default 1G)",
         {"dir", "inventory", "disk-size", "max-disk-size"},
         {"example"},
         0,
         0,
         Init});
  r.Add({"fabric show",
         "fabric show --dir DIR [--json]",
         "Show the fabric's servers, hosts, VMs (power, disks, NICs) and faults",
         {"dir"},
         {},
         0,
         0,
         Show});
  r.Add({"fabric workload",
         "fabric workload --dir DIR --duration 10s [--rate N] [--vm VM[,VM...]] "
         "[--min-write SIZE] [--max-write SIZE] [--seed N] [--threads N]",
         "Write into the running VMs' disks (N writes per second per VM, default 10), logging "
         "every write in DIR/writes.log",
         {"dir", "duration", "rate", "vm", "min-write", "max-write", "seed", "threads"},
         {},
         0,
         0,
         Workload});
  for (const char* what : {"start", "stop", "off"}) {
    std::string w = what;
    r.Add({"fabric vm " + w,
           "fabric vm " + w + " VM --dir DIR",
           w == "start"  ? "Start a VM"
           : w == "stop" ? "Shut a VM down (clean)"
                         : "Turn a VM off at once",
           {"dir"},
           {},
           1,
           1,
           [w](const CommandContext& ctx, const ParsedArgs& a) { return Power(ctx, a, w); }});
  }
  r.Add({"fabric fault set",
         "fabric fault set KIND [TARGET] --dir DIR [--message TEXT]   (KIND: host-down HOST, "
         "vm-no-start VM, point-fails VM|*, script-fails CODE, script-hangs, storage-full HOST)",
         "Inject a fault; it reaches every process using the fabric at its next call",
         {"dir", "message"},
         {},
         1,
         2,
         [](const CommandContext& ctx, const ParsedArgs& a) { return Fault(ctx, a, true); }});
  r.Add({"fabric fault clear",
         "fabric fault clear KIND [TARGET] --dir DIR   (KIND as for set, or all)",
         "Clear an injected fault",
         {"dir"},
         {},
         1,
         2,
         [](const CommandContext& ctx, const ParsedArgs& a) { return Fault(ctx, a, false); }});
  r.Add({"fabric verify",
         "fabric verify --dir DIR --vm VM --disk DISK (--point ID | --latest) --image FILE",
         "Check that a disk image holds every acknowledged write logged before a point (or every "
         "one; a write cut off by its process's death is not demanded); names the first missing",
         {"dir", "vm", "disk", "point", "image"},
         {"latest"},
         0,
         0,
         Verify});
}

}  // namespace asr::cli
