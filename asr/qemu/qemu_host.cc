#include "asr/qemu/qemu_host.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"
#include "asr/platform/process.h"
#include "asr/platform/supervised_process.h"

namespace asr::qemu {
namespace {

constexpr char kDefaultQemu[] = "/usr/bin/qemu-system-x86_64";
constexpr absl::Duration kStartLimit = absl::Seconds(60);
constexpr absl::Duration kQuitLimit = absl::Seconds(5);

absl::Status VmNotFound(const std::string& vm_id) {
  return absl::NotFoundError(absl::StrCat("no VM '", vm_id, "' on this QEMU host"));
}

// A value inside a QEMU option (commas are doubled).
std::string OptionValue(const std::string& s) { return absl::StrReplaceAll(s, {{",", ",,"}}); }

// The disk format QEMU calls it, from the file's extension.
absl::StatusOr<std::string> DiskFormat(const std::string& path) {
  std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".vhdx")) return std::string("vhdx");
  if (absl::EndsWith(lower, ".vhd")) return std::string("vpc");
  return absl::InvalidArgumentError(
      absl::StrCat("disk '", path, "' is neither .vhdx nor .vhd; asr protects VHDX and VHD disks"));
}

std::string ExitText(const platform::ProcessResult& r) {
  if (r.term_signal != 0) return absl::StrCat("killed by signal ", r.term_signal);
  if (r.exit_code == 0) return "powered off";
  return absl::StrCat("exited with code ", r.exit_code);
}

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

// A VM id as a directory name: [A-Za-z0-9._-] kept, anything else %XX.
std::string VmDirName(const std::string& id) {
  std::string out;
  for (unsigned char c : id) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || (c == '.' && !out.empty())) {
      out += static_cast<char>(c);
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

}  // namespace

struct QemuHost::Runtime {
  absl::Mutex op_mu;  // one operation on the VM at a time (held across waits)
  absl::Mutex mu;     // the fields below (held briefly)
  std::shared_ptr<platform::SupervisedProcess> process ABSL_GUARDED_BY(mu);
  std::shared_ptr<QmpClient> qmp ABSL_GUARDED_BY(mu);
  std::string last_exit ABSL_GUARDED_BY(mu);
};

absl::StatusOr<std::unique_ptr<QemuHost>> QemuHost::Open(const std::string& root_in) {
  std::string root = root_in;
  if (root.empty()) return absl::InvalidArgumentError("a QEMU host needs its directory");
  if (root[0] != '/') {
    ASR_ASSIGN_OR_RETURN(std::string cwd, platform::Env::Default()->CurrentDirectory());
    root = JoinPath(cwd, root);
  }
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::string config_path = JoinPath(root, "config.json");
  absl::StatusOr<std::string> text = ReadFileToString(config_path);
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("cannot read the QEMU host's configuration ", config_path, ": ",
                     text.status().message(), " (see asr/qemu/qemu_host.h for its format)"));
  }
  QemuHostConfig config;
  absl::Status parsed = model::FromJson(*text, &config);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", parsed.message()));
  }
  // Check what QEMU would otherwise trip over later.
  std::set<std::string> hosts, vms;
  for (const model::HyperVHost& h : config.inventory().hosts()) hosts.insert(h.id());
  for (const model::VirtualMachine& vm : config.inventory().virtual_machines()) {
    if (vm.id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": a VM has no id"));
    }
    if (!vms.insert(vm.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path, ": VM id '", vm.id(), "' appears twice"));
    }
    if (!hosts.count(vm.host_id())) {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": VM '", vm.id(),
                                                     "' is on host '", vm.host_id(),
                                                     "', which inventory.hosts does not list"));
    }
    for (const model::VirtualDisk& d : vm.disks()) {
      if (d.path().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_path, ": disk '", d.id(), "' of VM '", vm.id(), "' has no path"));
      }
      absl::Status f = DiskFormat(d.path()).status();
      if (!f.ok()) return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", f.message()));
    }
  }
  for (const QemuVm& q : config.vms()) {
    if (!vms.count(q.vm_id())) {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": vms names '", q.vm_id(),
                                                     "', which inventory.virtual_machines lacks"));
    }
  }
  QemuHostState state;
  const std::string state_path = JoinPath(root, "vms.json");
  if (PathExists(state_path)) {
    ASR_ASSIGN_OR_RETURN(std::string s, ReadFileToString(state_path));
    absl::Status st = model::FromJson(s, &state);
    if (!st.ok()) return absl::DataLossError(absl::StrCat(state_path, ": ", st.message()));
  }
  std::unique_ptr<QemuHost> host(new QemuHost(root, std::move(config), std::move(state)));
  absl::Status locked = host->lock_.TryLock(JoinPath(root, "host.lock"));
  if (!locked.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the QEMU host in ", root, " is open in another process (", locked.message(), ")"));
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(root, "vms")));
  return host;
}

QemuHost::QemuHost(std::string root, QemuHostConfig config, QemuHostState state)
    : root_(std::move(root)), config_(std::move(config)), state_(std::move(state)) {}

QemuHost::~QemuHost() {
  std::map<std::string, std::shared_ptr<Runtime>> runtimes;
  {
    absl::MutexLock l(&mu_);
    runtimes = runtimes_;
  }
  for (auto& [id, rt] : runtimes) {
    absl::MutexLock l(&rt->mu);
    rt->qmp.reset();
    if (rt->process) rt->process->Kill();
    rt->process.reset();
  }
}

std::string QemuHost::VmDir(const std::string& vm_id) const {
  return JoinPath(JoinPath(root_, "vms"), VmDirName(vm_id));
}

std::shared_ptr<QemuHost::Runtime> QemuHost::RuntimeOf(const std::string& vm_id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Runtime>& rt = runtimes_[vm_id];
  if (!rt) rt = std::make_shared<Runtime>();
  return rt;
}

bool QemuHost::IsReplicaLocked(const std::string& vm_id) const {
  for (const model::VirtualMachine& vm : state_.replica_vms()) {
    if (vm.id() == vm_id) return true;
  }
  return false;
}

absl::StatusOr<model::VirtualMachine> QemuHost::FindVmLocked(const std::string& vm_id) const {
  const model::VirtualMachine* found = nullptr;
  for (const model::VirtualMachine& vm : config_.inventory().virtual_machines()) {
    if (vm.id() == vm_id) found = &vm;
  }
  for (const model::VirtualMachine& vm : state_.replica_vms()) {
    if (vm.id() == vm_id) found = &vm;
  }
  if (found == nullptr) return VmNotFound(vm_id);
  model::VirtualMachine vm = *found;
  if (vm.server_id().empty()) vm.set_server_id(config_.inventory().server_id());
  for (model::VirtualDisk& d : *vm.mutable_disks()) {
    if (!d.path().empty() && d.path()[0] != '/') d.set_path(JoinPath(root_, d.path()));
  }
  auto nics = state_.nics().find(vm_id);
  if (nics != state_.nics().end()) *vm.mutable_network_adapters() = nics->second.adapters();
  vm.clear_power_state();
  return vm;
}

absl::Status QemuHost::WriteStateLocked() {
  return WriteFileAtomically(JoinPath(root_, "vms.json"), model::ToJson(state_, true) + "\n");
}

model::VmPowerState QemuHost::PowerOf(Runtime& rt) {
  std::shared_ptr<QmpClient> qmp;
  {
    absl::MutexLock l(&rt.mu);
    if (!rt.process) return model::STOPPED;
    if (std::optional<platform::ProcessResult> r = rt.process->Poll()) {
      rt.last_exit = ExitText(*r);
      rt.process.reset();
      rt.qmp.reset();
      return model::STOPPED;
    }
    qmp = rt.qmp;
  }
  if (qmp != nullptr) {
    absl::StatusOr<google::protobuf::Value> s = qmp->Execute("query-status", "", absl::Seconds(5));
    if (s.ok()) {
      const google::protobuf::Value* status = QmpField(*s, "status");
      if (status != nullptr &&
          (status->string_value() == "paused" || status->string_value() == "prelaunch")) {
        return model::PAUSED;
      }
    }
  }
  return model::RUNNING;
}

// ---- Inventory and hosts ----

absl::StatusOr<model::Inventory> QemuHost::GetInventory(const model::VmmServer& server) {
  const std::string& mine = config_.inventory().server_id();
  if (!server.id().empty() && !mine.empty() && server.id() != mine &&
      server.friendly_name() != mine) {
    return absl::NotFoundError(absl::StrCat("this QEMU host (", root_, ") is server '", mine,
                                            "', not '", server.id(), "'"));
  }
  model::Inventory inv;
  std::vector<std::string> ids;
  {
    absl::MutexLock l(&mu_);
    inv = config_.inventory();
    inv.clear_virtual_machines();
    for (const model::VirtualMachine& vm : config_.inventory().virtual_machines()) {
      ids.push_back(vm.id());
    }
    for (const model::VirtualMachine& vm : state_.replica_vms()) ids.push_back(vm.id());
    for (const std::string& id : ids) {
      ASR_ASSIGN_OR_RETURN(*inv.add_virtual_machines(), FindVmLocked(id));
    }
  }
  for (model::VirtualMachine& vm : *inv.mutable_virtual_machines()) {
    vm.set_power_state(PowerOf(*RuntimeOf(vm.id())));
  }
  return inv;
}

absl::Status QemuHost::ConfigureHost(const model::HyperVHost& host,
                                     const model::ReplicationPolicy& policy,
                                     fabric::HostRole role) {
  for (const model::HyperVHost& h : config_.inventory().hosts()) {
    if (h.id() == host.id()) return absl::OkStatus();
  }
  return absl::NotFoundError(
      absl::StrCat("no host '", host.id(), "' in the QEMU host's configuration (", root_, ")"));
}

absl::Status QemuHost::TestProxy(const model::VmmServer& server, absl::string_view password) {
  return absl::OkStatus();  // a local QEMU host is reached without a proxy
}

// ---- VMs ----

absl::StatusOr<model::VirtualMachine> QemuHost::GetVm(const std::string& vm_id) {
  model::VirtualMachine vm;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(vm, FindVmLocked(vm_id));
  }
  vm.set_power_state(PowerOf(*RuntimeOf(vm_id)));
  return vm;
}

absl::StatusOr<model::VmPowerState> QemuHost::GetPowerState(const std::string& vm_id) {
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  }
  return PowerOf(*RuntimeOf(vm_id));
}

absl::StatusOr<model::VirtualMachine> QemuHost::CreateReplicaVm(const model::ReplicaVmSpec& spec) {
  if (spec.replica_vm_id().empty()) {
    return absl::InvalidArgumentError("a replica VM needs an id (replica_vm_id)");
  }
  for (const model::VirtualDisk& d : spec.disks()) {
    ASR_RETURN_IF_ERROR(DiskFormat(d.path()).status());
    if (d.path().empty() || d.path()[0] != '/' || !PathExists(DirName(d.path()))) {
      return absl::NotFoundError(absl::StrCat("disk '", d.id(), "' of replica VM '",
                                              spec.replica_vm_id(), "': the directory of '",
                                              d.path(), "' does not exist; create it first"));
    }
  }
  absl::MutexLock l(&mu_);
  bool host_known = false;
  for (const model::HyperVHost& h : config_.inventory().hosts()) {
    host_known = host_known || h.id() == spec.host_id();
  }
  if (!host_known) {
    return absl::NotFoundError(absl::StrCat("no host '", spec.host_id(),
                                            "' on this QEMU host for replica VM '",
                                            spec.replica_vm_id(), "'"));
  }
  absl::StatusOr<model::VirtualMachine> existing = FindVmLocked(spec.replica_vm_id());
  if (existing.ok()) {
    bool same =
        existing->host_id() == spec.host_id() && existing->disks_size() == spec.disks_size();
    for (int i = 0; same && i < spec.disks_size(); ++i) {
      same = existing->disks(i).path() == spec.disks(i).path();
    }
    if (!same) {
      return absl::AlreadyExistsError(absl::StrCat(
          "VM '", spec.replica_vm_id(), "' already exists on host ", existing->host_id(),
          " with other disks; delete it first or use another id"));
    }
    existing->set_power_state(model::STOPPED);
    return *existing;
  }
  model::VirtualMachine vm;
  vm.set_id(spec.replica_vm_id());
  vm.set_name(spec.name().empty() ? spec.replica_vm_id() : spec.name());
  vm.set_server_id(config_.inventory().server_id());
  vm.set_host_id(spec.host_id());
  *vm.mutable_disks() = spec.disks();
  *vm.mutable_network_adapters() = spec.network_adapters();
  *state_.add_replica_vms() = vm;
  absl::Status written = WriteStateLocked();
  if (!written.ok()) {
    state_.mutable_replica_vms()->RemoveLast();
    return written;
  }
  vm.set_power_state(model::STOPPED);
  return vm;
}

absl::Status QemuHost::ConnectNic(const std::string& vm_id, const model::NetworkAdapter& nic) {
  int index = -1;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVmLocked(vm_id));
    for (int i = 0; i < vm.network_adapters_size(); ++i) {
      if (vm.network_adapters(i).id() == nic.id()) index = i;
    }
    if (index < 0) {
      return absl::NotFoundError(absl::StrCat("VM '", vm_id, "' has no NIC '", nic.id(), "'"));
    }
    if (!nic.vm_network_id().empty()) {
      bool known = false;
      for (const model::VmNetwork& n : config_.inventory().vm_networks()) {
        known = known || n.id() == nic.vm_network_id();
      }
      if (!known) {
        return absl::NotFoundError(absl::StrCat("no VM network '", nic.vm_network_id(),
                                                "' on this QEMU host for VM '", vm_id, "'"));
      }
    }
    model::NetworkAdapter& a = *vm.mutable_network_adapters(index);
    a.set_vm_network_id(nic.vm_network_id());
    a.set_subnet_name(nic.vm_network_id().empty() ? "" : nic.subnet_name());
    if (!nic.ip_address().empty()) a.set_ip_address(nic.ip_address());
    QemuHostState before = state_;
    *(*state_.mutable_nics())[vm_id].mutable_adapters() = vm.network_adapters();
    absl::Status written = WriteStateLocked();
    if (!written.ok()) {
      state_ = std::move(before);
      return written;
    }
  }
  // A running VM sees its link change at once.
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  if (PowerOf(*rt) == model::STOPPED) return absl::OkStatus();
  std::shared_ptr<QmpClient> qmp;
  {
    absl::MutexLock l(&rt->mu);
    qmp = rt->qmp;
  }
  if (qmp == nullptr) return absl::OkStatus();
  return qmp
      ->Execute("set_link", absl::StrCat(R"({"name":"nic)", index, R"(","up":)",
                                         nic.vm_network_id().empty() ? "false" : "true", "}"))
      .status();
}

absl::StatusOr<std::vector<std::string>> QemuHost::QemuArguments(const model::VirtualMachine& vm,
                                                                 const std::string& extra) {
  const QemuVm* q = nullptr;
  for (const QemuVm& c : config_.vms()) {
    if (c.vm_id() == vm.id()) q = &c;
  }
  uint32_t memory = q != nullptr && q->memory_mib() > 0 ? q->memory_mib()
                    : config_.default_memory_mib() > 0  ? config_.default_memory_mib()
                                                        : 256;
  uint32_t cpus = q != nullptr && q->cpus() > 0 ? q->cpus() : 1;
  const QemuBoot& boot = q != nullptr && q->has_boot() ? q->boot() : config_.default_boot();
  std::vector<std::string> a = {
      "-name",
      OptionValue(vm.id()),
      "-nodefaults",
      "-no-user-config",
      "-accel",
      config_.accel().empty() ? "tcg" : config_.accel(),
      "-m",
      absl::StrCat(memory),
      "-smp",
      absl::StrCat(cpus),
      "-display",
      "none",
      "-no-reboot",
      "-serial",
      "file:serial.log",
      "-qmp",
      "unix:qmp.sock,server=on,wait=off",
  };
  if (!boot.kernel().empty()) {
    a.insert(a.end(), {"-kernel", boot.kernel()});
    if (!boot.initrd().empty()) a.insert(a.end(), {"-initrd", boot.initrd()});
    std::string append = boot.append();
    if (!extra.empty()) append = append.empty() ? extra : absl::StrCat(append, " ", extra);
    if (!append.empty()) a.insert(a.end(), {"-append", append});
  }
  for (int i = 0; i < vm.disks_size(); ++i) {
    ASR_ASSIGN_OR_RETURN(std::string format, DiskFormat(vm.disks(i).path()));
    a.insert(a.end(), {"-drive", absl::StrCat("file=", OptionValue(vm.disks(i).path()),
                                              ",format=", format, ",if=virtio,id=disk", i)});
  }
  for (int i = 0; i < vm.network_adapters_size(); ++i) {
    const model::NetworkAdapter& n = vm.network_adapters(i);
    a.insert(a.end(), {"-netdev", absl::StrCat("user,id=net", i, ",restrict=on")});
    std::string device = absl::StrCat("virtio-net-pci,netdev=net", i, ",id=nic", i);
    if (!n.mac_address().empty()) absl::StrAppend(&device, ",mac=", OptionValue(n.mac_address()));
    a.insert(a.end(), {"-device", device});
  }
  return a;
}

absl::Status QemuHost::StartVm(const std::string& vm_id) {
  model::VirtualMachine vm;
  std::string extra;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(vm, FindVmLocked(vm_id));
    auto it = boot_arguments_.find(vm_id);
    if (it != boot_arguments_.end()) extra = it->second;
  }
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  absl::MutexLock op(&rt->op_mu);
  if (PowerOf(*rt) != model::STOPPED) return absl::OkStatus();
  for (const model::VirtualDisk& d : vm.disks()) {
    if (!PathExists(d.path())) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", vm_id, "' cannot start: its disk file '", d.path(), "' is missing"));
    }
  }
  ASR_ASSIGN_OR_RETURN(std::vector<std::string> args, QemuArguments(vm, extra));
  const std::string dir = VmDir(vm_id);
  ASR_RETURN_IF_ERROR(MakeDirectories(dir));
  platform::Env* env = platform::Env::Default();
  const std::string serial = JoinPath(dir, "serial.log");
  if (PathExists(serial)) ASR_RETURN_IF_ERROR(env->Rename(serial, serial + ".1"));
  const std::string sock = JoinPath(dir, "qmp.sock");
  if (PathExists(sock)) ASR_RETURN_IF_ERROR(env->Unlink(sock));
  const std::string log = JoinPath(dir, "qemu.log");
  const std::string binary = config_.qemu_binary().empty() ? kDefaultQemu : config_.qemu_binary();
  platform::SupervisedProcessOptions o;
  o.working_directory = dir;
  o.output_path = log;
  absl::StatusOr<std::unique_ptr<platform::SupervisedProcess>> started =
      platform::SupervisedProcess::Start(binary, args, o);
  if (!started.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("VM '", vm_id, "' cannot start: ", started.status().message(),
                     absl::IsNotFound(started.status()) ? " (install qemu-system-x86)" : ""));
  }
  std::shared_ptr<platform::SupervisedProcess> process = std::move(*started);
  // Wait for QMP; a QEMU that refuses its arguments exits first.
  const absl::Time deadline = absl::Now() + kStartLimit;
  absl::Status last;
  for (;;) {
    if (std::optional<platform::ProcessResult> r = process->Poll()) {
      absl::StatusOr<std::string> words = ReadFileToString(log);
      absl::MutexLock l(&rt->mu);
      rt->last_exit = ExitText(*r);
      return absl::FailedPreconditionError(absl::StrCat(
          "VM '", vm_id, "' did not start: QEMU ", ExitText(*r), ": ",
          words.ok() ? std::string(absl::StripAsciiWhitespace(Tail(*words, 1000))) : "", " (", log,
          ")"));
    }
    if (PathExists(sock)) {
      absl::StatusOr<std::unique_ptr<QmpClient>> qmp = QmpClient::Connect(sock, absl::Seconds(10));
      if (qmp.ok()) {
        absl::MutexLock l(&rt->mu);
        rt->process = std::move(process);
        rt->qmp = std::move(*qmp);
        return absl::OkStatus();
      }
      last = qmp.status();
    }
    if (absl::Now() >= deadline) {
      process->Kill();
      return absl::DeadlineExceededError(
          absl::StrCat("VM '", vm_id, "': QEMU did not open its monitor ", sock, " within ",
                       absl::FormatDuration(kStartLimit), " (", last.message(), "); killed it"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status QemuHost::ShutdownVm(const std::string& vm_id) {
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  }
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  absl::MutexLock op(&rt->op_mu);
  if (PowerOf(*rt) == model::STOPPED) return absl::OkStatus();
  std::shared_ptr<platform::SupervisedProcess> process;
  std::shared_ptr<QmpClient> qmp;
  {
    absl::MutexLock l(&rt->mu);
    process = rt->process;
    qmp = rt->qmp;
  }
  if (qmp != nullptr) {
    absl::Status pressed = qmp->Execute("system_powerdown").status();
    if (!pressed.ok() && !process->Poll().has_value()) {
      return absl::UnavailableError(
          absl::StrCat("VM '", vm_id, "': cannot press its power button: ", pressed.message()));
    }
  }
  const int limit_s =
      config_.shutdown_timeout_seconds() > 0 ? config_.shutdown_timeout_seconds() : 120;
  absl::StatusOr<platform::ProcessResult> r = process->WaitFor(absl::Seconds(limit_s));
  if (!r.ok()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "VM '", vm_id, "' did not shut down within ", limit_s,
        " s of its ACPI power button (does its guest handle it?); it still runs: TurnOffVm "
        "turns it off"));
  }
  absl::MutexLock l(&rt->mu);
  rt->last_exit = ExitText(*r);
  rt->process.reset();
  rt->qmp.reset();
  return absl::OkStatus();
}

absl::Status QemuHost::TurnOffVm(const std::string& vm_id) {
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  }
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  absl::MutexLock op(&rt->op_mu);
  if (PowerOf(*rt) == model::STOPPED) return absl::OkStatus();
  std::shared_ptr<platform::SupervisedProcess> process;
  std::shared_ptr<QmpClient> qmp;
  {
    absl::MutexLock l(&rt->mu);
    process = rt->process;
    qmp = rt->qmp;
  }
  absl::StatusOr<platform::ProcessResult> r = absl::FailedPreconditionError("QMP is not connected");
  if (qmp != nullptr && qmp->Execute("quit", "", kQuitLimit).ok()) {
    r = process->WaitFor(kQuitLimit);
  }
  platform::ProcessResult result = r.ok() ? *r : process->Kill();
  absl::MutexLock l(&rt->mu);
  rt->last_exit = ExitText(result);
  rt->process.reset();
  rt->qmp.reset();
  return absl::OkStatus();
}

absl::Status QemuHost::KillVmProcess(const std::string& vm_id) {
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  }
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  absl::MutexLock l(&rt->mu);
  if (!rt->process) {
    return absl::FailedPreconditionError(absl::StrCat("VM '", vm_id, "' has no QEMU running"));
  }
  rt->last_exit = ExitText(rt->process->Kill());
  rt->process.reset();
  rt->qmp.reset();
  return absl::OkStatus();
}

absl::Status QemuHost::DeleteVm(const std::string& vm_id, bool delete_disks) {
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  absl::MutexLock op(&rt->op_mu);
  model::VirtualMachine vm;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(vm, FindVmLocked(vm_id));
    if (!IsReplicaLocked(vm_id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", vm_id, "' is defined in ", JoinPath(root_, "config.json"),
                       "; remove it there (only replica VMs are deleted by asr)"));
    }
  }
  if (PowerOf(*rt) != model::STOPPED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "VM '", vm_id, "' is running; shut it down or turn it off before deleting it"));
  }
  {
    absl::MutexLock l(&mu_);
    QemuHostState before = state_;
    auto* vms = state_.mutable_replica_vms();
    for (int i = 0; i < vms->size(); ++i) {
      if (vms->Get(i).id() == vm_id) {
        vms->DeleteSubrange(i, 1);
        break;
      }
    }
    state_.mutable_nics()->erase(vm_id);
    absl::Status written = WriteStateLocked();
    if (!written.ok()) {
      state_ = std::move(before);
      return written;
    }
    runtimes_.erase(vm_id);
  }
  ASR_RETURN_IF_ERROR(RemoveTree(VmDir(vm_id)));
  if (delete_disks) {
    for (const model::VirtualDisk& d : vm.disks()) {
      if (!PathExists(d.path())) continue;
      absl::Status s = platform::Env::Default()->Unlink(d.path());
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat("VM '", vm_id, "' is deleted, but its disk ",
                                                   d.path(), " is not: ", s.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<model::ScriptResult> QemuHost::RunScript(const model::ScriptRequest& request) {
  bool known = false;
  for (const model::HyperVHost& h : config_.inventory().hosts()) {
    known = known || h.id() == request.host_id();
  }
  if (!known) {
    return absl::NotFoundError(absl::StrCat("no host '", request.host_id(),
                                            "' on this QEMU host to run ", request.path()));
  }
  platform::RunProcessOptions o;
  o.timeout = absl::Seconds(request.timeout_seconds() > 0 ? request.timeout_seconds() : 300);
  o.output_limit = 64 * 1024;
  o.environment.insert(request.environment().begin(), request.environment().end());
  std::vector<std::string> args(request.arguments().begin(), request.arguments().end());
  absl::StatusOr<platform::ProcessResult> r = platform::RunProcess(request.path(), args, o);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("host ", request.host_id(), ": ", r.status().message()));
  }
  model::ScriptResult result;
  result.set_exit_code(r->exit_code);
  result.set_timed_out(r->timed_out);
  result.set_output(std::move(r->output));
  return result;
}

// ---- Points ----

// One VM's point while it is taken (CreatePoint, CreateGroupPoint).
struct QemuHost::PendingPoint {
  std::shared_ptr<QmpClient> qmp;  // null: the VM is stopped
  model::HostPoint point;
  std::string dir;                 // ROOT/vms/ID/points/P
  std::vector<std::string> nodes;  // the point's block nodes (= job ids)
  std::string actions;             // the transaction's actions
};

absl::Status QemuHost::PreparePoint(const model::VirtualMachine& vm, Runtime& rt, PendingPoint& p) {
  {
    absl::MutexLock l(&mu_);
    p.point.set_id(absl::StrCat("qp-", next_point_++));
  }
  p.point.set_vm_id(vm.id());
  p.point.set_type(model::CrashConsistent);
  if (PowerOf(rt) != model::STOPPED) {
    absl::MutexLock l(&rt.mu);
    p.qmp = rt.qmp;
  }
  if (p.qmp == nullptr) {
    // Nothing writes a stopped VM's disks: they are the point.
    for (const model::VirtualDisk& d : vm.disks()) {
      model::HostPointDisk* pd = p.point.add_disks();
      pd->set_disk_id(d.id());
      pd->set_read_path(d.path());
    }
    return absl::OkStatus();
  }
  // The disks' sizes as QEMU sees them (drive ids disk0, disk1, ...).
  ASR_ASSIGN_OR_RETURN(google::protobuf::Value blocks, p.qmp->Execute("query-block"));
  std::map<std::string, uint64_t> sizes;
  for (const google::protobuf::Value& b : blocks.list_value().values()) {
    const google::protobuf::Value* device = QmpField(b, "device");
    const google::protobuf::Value* inserted = QmpField(b, "inserted");
    const google::protobuf::Value* image = inserted ? QmpField(*inserted, "image") : nullptr;
    const google::protobuf::Value* size = image ? QmpField(*image, "virtual-size") : nullptr;
    if (device != nullptr && size != nullptr) {
      sizes[device->string_value()] = static_cast<uint64_t>(size->number_value());
    }
  }
  p.dir = JoinPath(JoinPath(VmDir(vm.id()), "points"), p.point.id());
  ASR_RETURN_IF_ERROR(MakeDirectories(p.dir));
  for (int i = 0; i < vm.disks_size(); ++i) {
    const std::string drive = absl::StrCat("disk", i);
    auto size = sizes.find(drive);
    if (size == sizes.end()) return absl::InternalError(absl::StrCat("QEMU has no drive ", drive));
    const std::string path = JoinPath(p.dir, absl::StrCat(drive, ".vhdx"));
    disk::CreateOptions o;
    o.format = disk::DiskFormat::kVhdx;
    o.virtual_size = size->second;
    o.block_size = 2u << 20;
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> target, disk::CreateDisk(path, o));
    ASR_RETURN_IF_ERROR(target->Close());
    const std::string node = absl::StrCat("asr-", p.point.id(), "-", drive);
    ASR_RETURN_IF_ERROR(
        p.qmp
            ->Execute("blockdev-add",
                      absl::StrCat(R"({"driver":"vhdx","node-name":)", QmpQuote(node),
                                   R"(,"file":{"driver":"file","filename":)", QmpQuote(path), "}}"))
            .status());
    p.nodes.push_back(node);
    absl::StrAppend(&p.actions, p.actions.empty() ? "" : ",",
                    R"({"type":"blockdev-backup","data":{"device":)", QmpQuote(drive),
                    R"(,"target":)", QmpQuote(node), R"(,"sync":"full","job-id":)", QmpQuote(node),
                    R"(,"auto-dismiss":true}})");
    model::HostPointDisk* pd = p.point.add_disks();
    pd->set_disk_id(vm.disks(i).id());
    pd->set_read_path(path);
  }
  return absl::OkStatus();
}

absl::Status QemuHost::StartPoint(PendingPoint& p) {
  if (p.qmp == nullptr) return absl::OkStatus();
  p.qmp->TakeEvents();
  return p.qmp->Execute("transaction", absl::StrCat(R"({"actions":[)", p.actions, "]}")).status();
}

absl::Status QemuHost::FinishPoint(PendingPoint& p) {
  if (p.qmp == nullptr) return absl::OkStatus();
  // The copies run while the guest goes on; wait for every job to end.
  std::set<std::string> running(p.nodes.begin(), p.nodes.end());
  const absl::Time deadline = absl::Now() + absl::Minutes(10);
  while (!running.empty()) {
    ASR_ASSIGN_OR_RETURN(
        QmpEvent e, p.qmp->WaitForEvent("BLOCK_JOB_COMPLETED",
                                        std::max(deadline - absl::Now(), absl::ZeroDuration())));
    auto device = e.data.fields().find("device");
    if (device == e.data.fields().end() || !running.count(device->second.string_value())) continue;
    auto error = e.data.fields().find("error");
    if (error != e.data.fields().end()) {
      return absl::InternalError(absl::StrCat("QEMU's copy ", device->second.string_value(),
                                              " failed: ", error->second.string_value()));
    }
    running.erase(device->second.string_value());
  }
  // Closed by QEMU: from now on the files are asr's to read.
  while (!p.nodes.empty()) {
    ASR_RETURN_IF_ERROR(p.qmp
                            ->Execute("blockdev-del", absl::StrCat(R"({"node-name":)",
                                                                   QmpQuote(p.nodes.back()), "}"))
                            .status());
    p.nodes.pop_back();
  }
  return absl::OkStatus();
}

void QemuHost::UndoPoint(PendingPoint& p) {
  if (p.qmp != nullptr) {
    for (const std::string& n : p.nodes) {
      (void)p.qmp->Execute("block-job-cancel",
                           absl::StrCat(R"({"device":)", QmpQuote(n), R"(,"force":true})"));
    }
    for (const std::string& n : p.nodes) {
      for (int i = 0; i < 50; ++i) {
        if (p.qmp->Execute("blockdev-del", absl::StrCat(R"({"node-name":)", QmpQuote(n), "}"))
                .ok()) {
          break;
        }
        absl::SleepFor(absl::Milliseconds(100));  // a cancelled job lets go of it shortly
      }
    }
  }
  if (!p.dir.empty()) (void)RemoveTree(p.dir);
}

absl::StatusOr<model::HostPoint> QemuHost::CreatePoint(const std::string& vm_id,
                                                       model::RecoveryPointType type) {
  ASR_ASSIGN_OR_RETURN(std::vector<model::HostPoint> points, CreateGroupPoint({vm_id}, type));
  return points[0];
}

absl::StatusOr<std::vector<model::HostPoint>> QemuHost::CreateGroupPoint(
    const std::vector<std::string>& vm_ids, model::RecoveryPointType type) {
  if (vm_ids.empty()) return absl::InvalidArgumentError("a group point needs at least one VM");
  std::vector<model::VirtualMachine> vms;
  {
    absl::MutexLock l(&mu_);
    std::set<std::string> seen;
    for (const std::string& id : vm_ids) {
      if (!seen.insert(id).second) {
        return absl::InvalidArgumentError(absl::StrCat("VM '", id, "' appears twice in the group"));
      }
      ASR_ASSIGN_OR_RETURN(vms.emplace_back(), FindVmLocked(id));
    }
  }
  if (type == model::AppConsistent) {
    return absl::FailedPreconditionError(
        absl::StrCat("VM '", vm_ids[0],
                     "': an app-consistent point needs the QEMU guest agent, which this "
                     "host does not talk to; take a crash-consistent point"));
  }
  // One operation per VM at a time; taken in id order so two group points
  // never wait on each other.
  std::vector<size_t> order(vms.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return vm_ids[a] < vm_ids[b]; });
  std::vector<std::shared_ptr<Runtime>> rts(vms.size());
  std::vector<std::unique_ptr<absl::MutexLock>> ops;
  for (size_t i : order) {
    rts[i] = RuntimeOf(vm_ids[i]);
    ops.push_back(std::make_unique<absl::MutexLock>(&rts[i]->op_mu));
  }
  std::vector<PendingPoint> pending(vms.size());
  // On an error no point is held: every job, node and file goes.
  auto undo_all = [&](const absl::Status& error) {
    for (PendingPoint& p : pending) UndoPoint(p);
    return absl::Status(error.code(),
                        absl::StrCat("point of ", vm_ids.size() == 1 ? "VM" : "VMs", " '",
                                     absl::StrJoin(vm_ids, "', '"), "': ", error.message()));
  };
  for (size_t i = 0; i < vms.size(); ++i) {
    absl::Status prepared = PreparePoint(vms[i], *rts[i], pending[i]);
    if (!prepared.ok()) return undo_all(prepared);
  }
  // The instant: with one VM, its transaction; with several, every running
  // VM is paused (QMP stop drains its I/O) before any transaction starts,
  // and resumed after the last.
  const bool pause = std::count_if(pending.begin(), pending.end(),
                                   [](const PendingPoint& p) { return p.qmp != nullptr; }) > 1;
  std::vector<std::shared_ptr<QmpClient>> paused;
  const absl::Time before = absl::Now();
  absl::Status started;
  if (pause) {
    for (size_t i : order) {
      if (pending[i].qmp == nullptr) continue;
      started = pending[i].qmp->Execute("stop").status();
      if (!started.ok()) break;
      paused.push_back(pending[i].qmp);
    }
  }
  const absl::Time instant = absl::Now();
  for (size_t i = 0; started.ok() && i < pending.size(); ++i) started = StartPoint(pending[i]);
  for (const std::shared_ptr<QmpClient>& q : paused) {
    absl::Status resumed = q->Execute("cont").status();
    if (started.ok() && !resumed.ok()) started = resumed;
  }
  const absl::Time after = absl::Now();
  if (!started.ok()) return undo_all(started);
  {
    absl::MutexLock l(&mu_);
    last_point_transaction_ = after - before;
  }
  std::vector<model::HostPoint> points;
  for (PendingPoint& p : pending) {
    absl::Status finished = FinishPoint(p);
    if (!finished.ok()) return undo_all(finished);
    p.point.set_time_us(absl::ToUnixMicros(pause ? instant : after));
    points.push_back(p.point);
  }
  return points;
}

absl::Status QemuHost::ReleasePoint(const model::HostPoint& point) {
  if (!absl::StartsWith(point.id(), "qp-")) {
    return absl::InvalidArgumentError(
        absl::StrCat("point '", point.id(), "' was not taken by a QEMU host"));
  }
  return RemoveTree(JoinPath(JoinPath(VmDir(point.vm_id()), "points"), point.id()));
}

absl::Duration QemuHost::last_point_transaction() const {
  absl::MutexLock l(&mu_);
  return last_point_transaction_;
}

// ---- QEMU's view ----

absl::StatusOr<VmProcessInfo> QemuHost::ProcessInfo(const std::string& vm_id) {
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  }
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  VmProcessInfo info;
  info.power = PowerOf(*rt);
  info.serial_log = JoinPath(VmDir(vm_id), "serial.log");
  absl::MutexLock l(&rt->mu);
  if (rt->process) info.pid = rt->process->pid();
  info.last_exit = rt->last_exit;
  return info;
}

absl::Status QemuHost::SetBootArguments(const std::string& vm_id, const std::string& arguments) {
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  if (arguments.empty()) {
    boot_arguments_.erase(vm_id);
  } else {
    boot_arguments_[vm_id] = arguments;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> QemuHost::SerialLog(const std::string& vm_id) {
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  }
  std::string path = JoinPath(VmDir(vm_id), "serial.log");
  if (!PathExists(path)) return std::string();
  return ReadFileToString(path);
}

absl::StatusOr<std::string> QemuHost::WaitForSerial(const std::string& vm_id,
                                                    const std::string& prefix,
                                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  ASR_RETURN_IF_ERROR(SerialLog(vm_id).status());  // NotFound for an unknown VM
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  for (;;) {
    // Whether it still runs, before reading: a line printed just before
    // QEMU exited is found by the read that follows.
    bool stopped = PowerOf(*rt) == model::STOPPED;
    ASR_ASSIGN_OR_RETURN(std::string log, SerialLog(vm_id));
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      size_t at = line.find(prefix);
      if (at != absl::string_view::npos) {
        return std::string(absl::StripTrailingAsciiWhitespace(line.substr(at)));
      }
    }
    if (stopped) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", vm_id, "' stopped without printing \"", prefix,
                       "\" on its serial console; its last lines: ", Tail(log, 600)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "VM '", vm_id, "' did not print \"", prefix, "\" on its serial console within ",
          absl::FormatDuration(timeout), "; its last lines: ", Tail(log, 600)));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::StatusOr<google::protobuf::Value> QemuHost::Qmp(const std::string& vm_id,
                                                      absl::string_view command,
                                                      absl::string_view arguments_json,
                                                      absl::Duration timeout) {
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(FindVmLocked(vm_id).status());
  }
  std::shared_ptr<Runtime> rt = RuntimeOf(vm_id);
  if (PowerOf(*rt) == model::STOPPED) {
    return absl::FailedPreconditionError(absl::StrCat("VM '", vm_id, "' is not running"));
  }
  std::shared_ptr<QmpClient> qmp;
  {
    absl::MutexLock l(&rt->mu);
    qmp = rt->qmp;
  }
  if (qmp == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("VM '", vm_id, "' has no QMP connection"));
  }
  return qmp->Execute(command, arguments_json, timeout);
}

}  // namespace asr::qemu
