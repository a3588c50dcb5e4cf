// asr/cli/qemu_commands.h: the VMs of a QEMU host (asr/qemu/qemu_host.h)
// from the command line. The QEMU host is the one --qemu-host DIR or
// ASR_QEMU_HOST names (engine_options.h); its VMs run detached, so a VM
// started by one asrctl command runs on after it and every later command
// (the site service, a failover) finds it.
//
//   asrctl --qemu-host /srv/asr-qemu qemu vm list [--json]
//   asrctl --qemu-host /srv/asr-qemu qemu vm start vm1 [--boot-args "asr.interval_ms=200"]
//   asrctl --qemu-host /srv/asr-qemu qemu vm serial vm1 [--wait "ASR-VERDICT"] [--timeout 3m]
//   asrctl --qemu-host /srv/asr-qemu qemu vm shutdown vm1     (ACPI power button, waits)
//   asrctl --qemu-host /srv/asr-qemu qemu vm turn-off vm1     (quit, else SIGKILL)
//   asrctl --qemu-host /srv/asr-qemu qemu vm kill vm1         (SIGKILL: a crash, for drills)
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterQemuCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_QEMU_COMMANDS_H_
#define ASR_CLI_QEMU_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterQemuCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_QEMU_COMMANDS_H_
