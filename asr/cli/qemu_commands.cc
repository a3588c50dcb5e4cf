#include "asr/cli/qemu_commands.h"

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asr/cli/engine_options.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"
#include "asr/qemu/qemu_host.h"

namespace asr::cli {
namespace {

absl::StatusOr<qemu::QemuHost*> QemuHostOf(const CommandContext& ctx) {
  if (QemuHostDirFor(ctx).empty()) {
    return absl::InvalidArgumentError(
        "no QEMU host is named: pass --qemu-host DIR (or set ASR_QEMU_HOST=DIR), DIR holding "
        "the host's config.json (see asr/qemu/README.md)");
  }
  ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, HostFor(ctx));
  auto* q = dynamic_cast<qemu::QemuHost*>(h);
  if (q == nullptr) return absl::InternalError("the host of this command line is no QEMU host");
  return q;
}

const char* PowerName(model::VmPowerState p) {
  switch (p) {
    case model::RUNNING:
      return "running";
    case model::PAUSED:
      return "paused";
    case model::STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

absl::Status VmList(const CommandContext& ctx, const ParsedArgs&) {
  ASR_ASSIGN_OR_RETURN(qemu::QemuHost * host, QemuHostOf(ctx));
  ASR_ASSIGN_OR_RETURN(std::vector<qemu::QemuVmStatus> vms, host->ListVms());
  if (ctx.json) {
    qemu::QemuVmList list;
    for (qemu::QemuVmStatus& v : vms) *list.add_vms() = std::move(v);
    *ctx.out << model::ToJson(list) << "\n";
    return absl::OkStatus();
  }
  for (const qemu::QemuVmStatus& v : vms) {
    *ctx.out << v.vm_id() << " (" << v.name() << "): " << PowerName(v.power_state());
    if (v.pid() > 0) *ctx.out << ", QEMU pid " << v.pid();
    if (!v.last_exit().empty()) *ctx.out << ", last run " << v.last_exit();
    *ctx.out << "; server " << v.server_id() << ", host " << v.host_id()
             << (v.replica() ? ", replica VM made by asr" : "") << "\n";
  }
  return absl::OkStatus();
}

absl::Status VmStart(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(qemu::QemuHost * host, QemuHostOf(ctx));
  const std::string& vm = a.positional[0];
  if (a.Has("boot-args")) ASR_RETURN_IF_ERROR(host->SetBootArguments(vm, a.Get("boot-args")));
  ASR_RETURN_IF_ERROR(host->StartVm(vm));
  ASR_ASSIGN_OR_RETURN(qemu::VmProcessInfo info, host->ProcessInfo(vm));
  if (!ctx.json) {
    *ctx.out << "VM " << vm << " runs (QEMU pid " << info.pid << ", serial console "
             << info.serial_log << "); it runs on after this command\n";
  }
  return absl::OkStatus();
}

absl::Status VmShutdown(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(qemu::QemuHost * host, QemuHostOf(ctx));
  ASR_RETURN_IF_ERROR(host->ShutdownVm(a.positional[0]));
  if (!ctx.json) *ctx.out << "VM " << a.positional[0] << " is shut down\n";
  return absl::OkStatus();
}

absl::Status VmTurnOff(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(qemu::QemuHost * host, QemuHostOf(ctx));
  ASR_RETURN_IF_ERROR(host->TurnOffVm(a.positional[0]));
  if (!ctx.json) *ctx.out << "VM " << a.positional[0] << " is turned off\n";
  return absl::OkStatus();
}

absl::Status VmKill(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(qemu::QemuHost * host, QemuHostOf(ctx));
  ASR_RETURN_IF_ERROR(host->KillVmProcess(a.positional[0]));
  if (!ctx.json) *ctx.out << "VM " << a.positional[0] << ": QEMU killed (SIGKILL)\n";
  return absl::OkStatus();
}

absl::Status VmSerial(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(qemu::QemuHost * host, QemuHostOf(ctx));
  const std::string& vm = a.positional[0];
  if (!a.Has("wait")) {
    ASR_ASSIGN_OR_RETURN(std::string log, host->SerialLog(vm));
    *ctx.out << log;
    return absl::OkStatus();
  }
  absl::Duration timeout = absl::Minutes(5);
  if (a.Has("timeout") &&
      (!absl::ParseDuration(a.Get("timeout"), &timeout) || timeout <= absl::ZeroDuration())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout '", a.Get("timeout"), "' is not a duration like 90s or 5m"));
  }
  ASR_ASSIGN_OR_RETURN(std::string line, host->WaitForSerial(vm, a.Get("wait"), timeout));
  *ctx.out << line << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterQemuCommands(CommandRegistry& r) {
  r.Add({"qemu vm list",
         "qemu vm list [--json]",
         "List the VMs of the QEMU host (--qemu-host DIR or ASR_QEMU_HOST): power state, QEMU "
         "pid, how the last run ended.",
         {},
         {},
         0,
         0,
         VmList});
  r.Add({"qemu vm start",
         "qemu vm start VM [--boot-args \"ARGS\"]",
         "Start a VM of the QEMU host; it runs detached, after this command ends. --boot-args "
         "adds kernel arguments to a direct kernel boot.",
         {"boot-args"},
         {},
         1,
         1,
         VmStart});
  r.Add({"qemu vm shutdown",
         "qemu vm shutdown VM",
         "Press the VM's ACPI power button and wait until its guest has powered off.",
         {},
         {},
         1,
         1,
         VmShutdown});
  r.Add({"qemu vm turn-off",
         "qemu vm turn-off VM",
         "Turn a VM off at once (QEMU quit, else SIGKILL); no guest shutdown.",
         {},
         {},
         1,
         1,
         VmTurnOff});
  r.Add({"qemu vm kill",
         "qemu vm kill VM",
         "Kill the VM's QEMU process (SIGKILL), as a crash of its host would: for drills of "
         "unplanned failover.",
         {},
         {},
         1,
         1,
         VmKill});
  r.Add({"qemu vm serial",
         "qemu vm serial VM [--wait TEXT] [--timeout DURATION]",
         "Print the serial console of the VM's current boot; with --wait, the first line "
         "holding TEXT once it appears (default limit 5m).",
         {"wait", "timeout"},
         {},
         1,
         1,
         VmSerial});
}

}  // namespace asr::cli
