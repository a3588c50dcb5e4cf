#include "asr/qemu/qemu_host.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/common/file_lock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/disk_ops.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/replica_vm_spec.h"
#include "asr/model/json.h"
#include "asr/platform/detached_process.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/platform/process.h"
#include "asr/qemu/guest_freeze.h"
#include "asr/qemu/nbd_client.h"

namespace asr::qemu {
namespace {

constexpr char kDefaultQemu[] = "/usr/bin/qemu-system-x86_64";
constexpr absl::Duration kStartLimit = absl::Seconds(60);
constexpr absl::Duration kQuitLimit = absl::Seconds(5);
constexpr absl::Duration kQmpConnectLimit = absl::Seconds(10);
// The guest agent's port on the host: QEMU's working directory is the VM's.
constexpr char kAgentSocket[] = "qga.sock";
// Present from just before an application-consistent point freezes the
// guest until its thaw succeeded: a guest whose freezing asr process died
// before the thaw stays frozen (qemu-ga never thaws by itself), and the
// VM's next point of any kind thaws it first.
constexpr char kFrozenMark[] = "agent-frozen";
constexpr char kPointHolder[] = "holder";

// The shell that runs QEMU detached and records how it ended: $1 is the
// pid of an owner whose end kills QEMU (0: none), the rest QEMU's command
// line; qemu.pid gets its pid at once, exit its exit status when it ends
// (128+N: killed by signal N).
constexpr char kSupervisor[] =
    "owner=$1; shift\n"
    "\"$@\" & pid=$!\n"
    "echo \"$pid\" > qemu.pid.new && mv -f qemu.pid.new qemu.pid\n"
    "watcher=\n"
    "if [ \"$owner\" != 0 ]; then\n"
    "  (while kill -0 \"$owner\" 2>/dev/null; do sleep 1; done; kill -9 \"$pid\") &\n"
    "  watcher=$!\n"
    "fi\n"
    "wait \"$pid\"; code=$?\n"
    "[ -n \"$watcher\" ] && kill \"$watcher\" 2>/dev/null\n"
    "echo \"$code\" > exit.new && mv -f exit.new exit\n";

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

// The supervisor's exit file ("CODE") as words.
std::string ExitText(int code) {
  if (code > 128) return absl::StrCat("killed by signal ", code - 128);
  if (code == 0) return "powered off";
  return absl::StrCat("exited with code ", code);
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

bool Alive(const QemuProcess& p) {
  std::optional<platform::ProcessStatus> s = platform::ProcessStatusOf(p.pid());
  return s.has_value() && s->state != 'Z' && s->state != 'X' && s->start_ticks == p.start_ticks();
}

// A disk QEMU can open: QEMU 7.2 refuses differencing VHDX files and reads
// a differencing VHD as if it had no parent, so a differencing disk (a
// replica's failover or test view) is made a whole one in place: its
// chain's content is copied into a new dynamic disk that replaces the file
// (its parent stays, unused by it).
absl::Status MakeWholeIfDifferencing(const std::string& path) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> src,
                       disk::OpenDisk(path, disk::OpenMode::kReadOnly));
  if (src->info().type != disk::DiskType::kDifferencing) return src->Close();
  disk::CreateOptions o;
  o.format = src->info().format;
  o.type = disk::DiskType::kDynamic;
  o.virtual_size = src->virtual_size();
  o.block_size = src->block_size();
  o.logical_sector_size = src->logical_sector_size();
  o.physical_sector_size = src->info().physical_sector_size;
  o.overwrite = true;
  const std::string tmp = path + ".asr-whole";
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> dst, disk::CreateDisk(tmp, o));
  absl::Status s = disk::CopyDisk(*src, *dst).status();
  if (s.ok()) s = dst->Close();
  (void)src->Close();
  if (s.ok()) s = platform::Env::Default()->Rename(tmp, path);
  if (!s.ok()) {
    (void)platform::Env::Default()->Unlink(tmp);
    return absl::Status(s.code(), absl::StrCat("cannot make the differencing disk ", path,
                                               " a whole disk for QEMU: ", s.message()));
  }
  return absl::OkStatus();
}

// Waits until `p` has ended, at most `limit`; whether it has.
bool WaitForEnd(const QemuProcess& p, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (Alive(p)) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

}  // namespace

// One operation on a VM: the VM's lock (ROOT/vms/ID/vm.lock) and, when its
// QEMU runs, that process and a QMP connection to it.
struct QemuHost::VmSession {
  std::string vm_id;
  std::string dir;
  FileLock lock;
  std::optional<QemuProcess> process;  // set while QEMU runs
  std::unique_ptr<QmpClient> qmp;      // connected when asked and QEMU runs
};

// One VM's point while it is taken (CreatePoint, CreateGroupPoint).
struct QemuHost::PendingPoint {
  QmpClient* qmp = nullptr;  // null: the VM is stopped
  VmSession* session = nullptr;
  model::HostPoint point;
  std::string dir;  // ROOT/vms/ID/points/P
  // Per disk, in the VM's order:
  std::vector<std::string> drives;  // QEMU's drive ids (disk0, ...)
  // Their nodes, which hold the bitmaps: not the drive ids, which name the
  // copy-before-write filter while a backup job runs.
  std::vector<std::string> disk_nodes;
  std::vector<uint64_t> sizes;            // their sizes at the instant
  std::vector<std::string> nodes;         // the fleecing overlays (= job ids)
  std::vector<std::string> overlays;      // their files
  std::vector<std::string> new_bitmaps;   // cut by this point's transaction
  std::vector<std::string> prev_bitmaps;  // the last point's, when trusted ("" otherwise)
  std::string prev_point_id;              // the point those bitmaps started at
  bool started = false;                   // the transaction ran
  bool nbd = false;                       // the NBD server runs
  std::string actions;                    // the transaction's actions
};

absl::StatusOr<std::unique_ptr<QemuHost>> QemuHost::Open(const std::string& root_in,
                                                         const QemuHostOptions& options) {
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
  std::vector<model::Inventory> servers;
  const model::Inventory& first = config.inventory();
  if (!first.server_id().empty() || first.hosts_size() > 0 || first.virtual_machines_size() > 0 ||
      config.servers_size() == 0) {
    servers.push_back(first);
  }
  for (const model::Inventory& inv : config.servers()) servers.push_back(inv);
  // Check what QEMU would otherwise trip over later.
  std::set<std::string> hosts, vms, server_ids;
  for (const model::Inventory& inv : servers) {
    if (!server_ids.insert(inv.server_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path, ": server_id '", inv.server_id(), "' appears twice"));
    }
    for (const model::HyperVHost& h : inv.hosts()) {
      if (!hosts.insert(h.id()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_path, ": host id '", h.id(), "' appears twice"));
      }
    }
  }
  for (const model::Inventory& inv : servers) {
    std::set<std::string> own_hosts;
    for (const model::HyperVHost& h : inv.hosts()) own_hosts.insert(h.id());
    for (const model::VirtualMachine& vm : inv.virtual_machines()) {
      if (vm.id().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(config_path, ": a VM has no id"));
      }
      if (!vms.insert(vm.id()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_path, ": VM id '", vm.id(), "' appears twice"));
      }
      if (!own_hosts.count(vm.host_id())) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_path, ": VM '", vm.id(), "' is on host '", vm.host_id(),
                         "', which inventory.hosts of its server does not list"));
      }
      for (const model::VirtualDisk& d : vm.disks()) {
        if (d.path().empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(config_path, ": disk '", d.id(), "' of VM '", vm.id(), "' has no path"));
        }
        absl::Status f = DiskFormat(d.path()).status();
        if (!f.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", f.message()));
        }
      }
    }
  }
  for (const QemuVm& q : config.vms()) {
    if (!vms.count(q.vm_id())) {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": vms names '", q.vm_id(),
                                                     "', which inventory.virtual_machines lacks"));
    }
  }
  std::unique_ptr<QemuHost> host(
      new QemuHost(root, std::move(config), std::move(servers), options));
  {
    absl::MutexLock l(&host->mu_);
    ASR_RETURN_IF_ERROR(host->RefreshStateLocked());
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(root, "vms")));
  return host;
}

QemuHost::QemuHost(std::string root, QemuHostConfig config, std::vector<model::Inventory> servers,
                   QemuHostOptions options)
    : root_(std::move(root)),
      config_(std::move(config)),
      servers_(std::move(servers)),
      options_(options) {}

QemuHost::~QemuHost() {
  if (!options_.turn_off_vms_on_close) return;
  std::vector<std::string> ids;
  {
    absl::MutexLock l(&mu_);
    for (const model::Inventory& inv : servers_) {
      for (const model::VirtualMachine& vm : inv.virtual_machines()) ids.push_back(vm.id());
    }
    for (const model::VirtualMachine& vm : state_.replica_vms()) ids.push_back(vm.id());
  }
  for (const std::string& id : ids) {
    std::optional<QemuProcess> p = RunningProcess(id);
    if (p.has_value()) {
      kill(p->pid(), SIGKILL);
      WaitForEnd(*p, absl::Seconds(5));
    }
  }
}

std::string QemuHost::VmDir(const std::string& vm_id) const {
  return JoinPath(JoinPath(root_, "vms"), VmDirName(vm_id));
}

// ---- State shared between processes (vms.json) ----

absl::Status QemuHost::RefreshStateLocked() {
  const std::string path = JoinPath(root_, "vms.json");
  absl::StatusOr<platform::FileInfo> st = platform::Env::Default()->Stat(path);
  if (!st.ok()) {
    if (platform::ErrorKindOf(st.status()) != platform::ErrorKind::kNotFound) {
      return platform::AddContext(st.status(), path);
    }
    state_ = QemuHostState();
    state_stamp_.clear();
    return absl::OkStatus();
  }
  const std::string stamp = absl::StrCat(st->inode, ".", st->size, ".", st->mtime_ns);
  if (stamp == state_stamp_) return absl::OkStatus();
  ASR_ASSIGN_OR_RETURN(std::string s, ReadFileToString(path));
  QemuHostState state;
  absl::Status parsed = model::FromJson(s, &state);
  if (!parsed.ok()) return absl::DataLossError(absl::StrCat(path, ": ", parsed.message()));
  state_ = std::move(state);
  state_stamp_ = stamp;
  return absl::OkStatus();
}

absl::Status QemuHost::UpdateState(const std::function<absl::Status(QemuHostState&)>& change) {
  // Between processes: one writer at a time, each from the latest file.
  FileLock lock;
  ASR_RETURN_IF_ERROR(lock.Lock(JoinPath(root_, "state.lock")));
  absl::MutexLock l(&mu_);
  state_stamp_.clear();
  ASR_RETURN_IF_ERROR(RefreshStateLocked());
  QemuHostState next = state_;
  ASR_RETURN_IF_ERROR(change(next));
  ASR_RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(root_, "vms.json"), model::ToJson(next, true) + "\n"));
  state_ = std::move(next);
  state_stamp_.clear();
  return RefreshStateLocked();
}

const model::Inventory* QemuHost::ServerOfHostLocked(const std::string& host_id) const {
  for (const model::Inventory& inv : servers_) {
    for (const model::HyperVHost& h : inv.hosts()) {
      if (h.id() == host_id) return &inv;
    }
  }
  return nullptr;
}

bool QemuHost::IsReplicaLocked(const std::string& vm_id) const {
  for (const model::VirtualMachine& vm : state_.replica_vms()) {
    if (vm.id() == vm_id) return true;
  }
  return false;
}

absl::StatusOr<model::VirtualMachine> QemuHost::FindVmLocked(const std::string& vm_id) const {
  const model::VirtualMachine* found = nullptr;
  std::string server_id;
  for (const model::Inventory& inv : servers_) {
    for (const model::VirtualMachine& vm : inv.virtual_machines()) {
      if (vm.id() == vm_id) {
        found = &vm;
        server_id = inv.server_id();
      }
    }
  }
  for (const model::VirtualMachine& vm : state_.replica_vms()) {
    if (vm.id() == vm_id) {
      found = &vm;
      const model::Inventory* inv = ServerOfHostLocked(vm.host_id());
      server_id = inv != nullptr ? inv->server_id() : "";
    }
  }
  if (found == nullptr) return VmNotFound(vm_id);
  model::VirtualMachine vm = *found;
  if (vm.server_id().empty()) vm.set_server_id(server_id);
  for (model::VirtualDisk& d : *vm.mutable_disks()) {
    if (!d.path().empty() && d.path()[0] != '/') d.set_path(JoinPath(root_, d.path()));
  }
  auto nics = state_.nics().find(vm_id);
  if (nics != state_.nics().end()) *vm.mutable_network_adapters() = nics->second.adapters();
  vm.clear_power_state();
  return vm;
}

absl::StatusOr<model::VirtualMachine> QemuHost::FindVm(const std::string& vm_id) {
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(RefreshStateLocked());
  return FindVmLocked(vm_id);
}

// ---- Processes ----

std::optional<QemuProcess> QemuHost::RunningProcess(const std::string& vm_id) const {
  absl::StatusOr<std::string> text = ReadFileToString(JoinPath(VmDir(vm_id), "process"));
  if (!text.ok()) return std::nullopt;
  QemuProcess p;
  if (!model::FromJson(*text, &p).ok() || !Alive(p)) return std::nullopt;
  return p;
}

std::string QemuHost::LastExit(const std::string& vm_id) const {
  const std::string dir = VmDir(vm_id);
  // The supervisor writes the exit file just after QEMU ends: a QEMU seen
  // gone a moment ago may not have it yet (on a loaded machine), so a
  // missing file is looked for again for a little while.
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  for (;;) {
    absl::StatusOr<std::string> code = ReadFileToString(JoinPath(dir, "exit"));
    int c = 0;
    if (code.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*code), &c)) return ExitText(c);
    if (!PathExists(JoinPath(dir, "process")) || RunningProcess(vm_id).has_value()) return "";
    if (absl::Now() >= deadline) return "ended (how is unknown: its supervisor ended with it)";
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<std::unique_ptr<QemuHost::VmSession>> QemuHost::Lock(const std::string& vm_id,
                                                                    bool connect) {
  ASR_RETURN_IF_ERROR(FindVm(vm_id).status());
  auto s = std::make_unique<VmSession>();
  s->vm_id = vm_id;
  s->dir = VmDir(vm_id);
  ASR_RETURN_IF_ERROR(MakeDirectories(s->dir));
  ASR_RETURN_IF_ERROR(s->lock.Lock(JoinPath(s->dir, "vm.lock")));
  s->process = RunningProcess(vm_id);
  if (connect && s->process.has_value()) {
    absl::StatusOr<std::unique_ptr<QmpClient>> qmp =
        QmpClient::Connect(JoinPath(s->dir, "qmp.sock"), kQmpConnectLimit);
    if (!qmp.ok()) {
      if (!Alive(*s->process)) {
        s->process.reset();  // it ended meanwhile
        return s;
      }
      return absl::UnavailableError(absl::StrCat(
          "VM '", vm_id, "': its QEMU (pid ", s->process->pid(), ") runs but its monitor ",
          JoinPath(s->dir, "qmp.sock"), " does not answer: ", qmp.status().message()));
    }
    s->qmp = std::move(*qmp);
  }
  return s;
}

model::VmPowerState QemuHost::PowerOf(const std::string& vm_id) {
  if (!RunningProcess(vm_id).has_value()) return model::STOPPED;
  // Paused or running: QMP says, when no other operation holds the VM.
  FileLock lock;
  if (!lock.TryLock(JoinPath(VmDir(vm_id), "vm.lock")).ok()) return model::RUNNING;
  absl::StatusOr<std::unique_ptr<QmpClient>> qmp =
      QmpClient::Connect(JoinPath(VmDir(vm_id), "qmp.sock"), absl::Seconds(5));
  if (!qmp.ok()) return RunningProcess(vm_id).has_value() ? model::RUNNING : model::STOPPED;
  return PowerOfSession(**qmp);
}

model::VmPowerState QemuHost::PowerOfSession(QmpClient& qmp) {
  absl::StatusOr<google::protobuf::Value> s = qmp.Execute("query-status", "", absl::Seconds(5));
  if (s.ok()) {
    const google::protobuf::Value* status = QmpField(*s, "status");
    if (status != nullptr &&
        (status->string_value() == "paused" || status->string_value() == "prelaunch")) {
      return model::PAUSED;
    }
  }
  return model::RUNNING;
}

// ---- Inventory and hosts ----

absl::StatusOr<model::Inventory> QemuHost::GetInventory(const model::VmmServer& server) {
  model::Inventory inv;
  std::vector<std::string> ids;
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(RefreshStateLocked());
    const model::Inventory* mine = nullptr;
    for (const model::Inventory& s : servers_) {
      if ((!server.id().empty() && s.server_id() == server.id()) ||
          (!server.friendly_name().empty() && s.server_id() == server.friendly_name())) {
        mine = &s;
      }
    }
    if (mine == nullptr && server.id().empty() && server.friendly_name().empty() &&
        servers_.size() == 1) {
      mine = &servers_[0];
    }
    if (mine == nullptr && servers_.size() == 1 && servers_[0].server_id().empty()) {
      mine = &servers_[0];
    }
    if (mine == nullptr) {
      std::vector<std::string> names;
      for (const model::Inventory& s : servers_) names.push_back(s.server_id());
      return absl::NotFoundError(
          absl::StrCat("this QEMU host (", root_, ") serves server",
                       names.size() == 1 ? " '" : "s '", absl::StrJoin(names, "', '"), "', not '",
                       server.id().empty() ? server.friendly_name() : server.id(), "'"));
    }
    inv = *mine;
    for (const model::VmNetwork& n : state_.isolated_networks()) {
      if (n.server_id() == mine->server_id()) *inv.add_vm_networks() = n;
    }
    inv.clear_virtual_machines();
    for (const model::VirtualMachine& vm : mine->virtual_machines()) ids.push_back(vm.id());
    for (const model::VirtualMachine& vm : state_.replica_vms()) {
      if (ServerOfHostLocked(vm.host_id()) == mine) ids.push_back(vm.id());
    }
    for (const std::string& id : ids) {
      ASR_ASSIGN_OR_RETURN(*inv.add_virtual_machines(), FindVmLocked(id));
    }
  }
  for (model::VirtualMachine& vm : *inv.mutable_virtual_machines()) {
    vm.set_power_state(PowerOf(vm.id()));
  }
  return inv;
}

absl::Status QemuHost::ConfigureHost(const model::HyperVHost& host,
                                     const model::ReplicationPolicy& policy,
                                     fabric::HostRole role) {
  absl::MutexLock l(&mu_);
  if (ServerOfHostLocked(host.id()) != nullptr) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat("no host '", host.id(), "' in the QEMU host's configuration (", root_, ")"));
}

absl::Status QemuHost::TestProxy(const model::VmmServer& server, absl::string_view password) {
  return absl::OkStatus();  // a local QEMU host is reached without a proxy
}

// ---- VMs ----

absl::StatusOr<model::VirtualMachine> QemuHost::GetVm(const std::string& vm_id) {
  ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVm(vm_id));
  vm.set_power_state(PowerOf(vm_id));
  return vm;
}

absl::StatusOr<model::VmPowerState> QemuHost::GetPowerState(const std::string& vm_id) {
  ASR_RETURN_IF_ERROR(FindVm(vm_id).status());
  return PowerOf(vm_id);
}

absl::StatusOr<model::VirtualMachine> QemuHost::CreateReplicaVm(const model::ReplicaVmSpec& spec) {
  ASR_RETURN_IF_ERROR(fabric::CheckReplicaVmSpec(spec));
  for (const model::VirtualDisk& d : spec.disks()) {
    ASR_RETURN_IF_ERROR(DiskFormat(d.path()).status());
    if (d.path()[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("disk '", d.id(), "' of replica VM '",
                                                     spec.replica_vm_id(), "': '", d.path(),
                                                     "' is not an absolute path; give one"));
    }
  }
  model::VirtualMachine result;
  ASR_RETURN_IF_ERROR(UpdateState([&](QemuHostState& state) -> absl::Status {
    // (mu_ is held: the lookups below see `state` through state_ only for
    // config VMs; replica VMs are looked up in `state` itself.)
    const model::Inventory* server = ServerOfHostLocked(spec.host_id());
    if (server == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", spec.host_id(),
                                              "' on this QEMU host for replica VM '",
                                              spec.replica_vm_id(), "'"));
    }
    absl::StatusOr<model::VirtualMachine> existing = FindVmLocked(spec.replica_vm_id());
    if (existing.ok()) {
      ASR_RETURN_IF_ERROR(fabric::SameReplicaVm(*existing, spec));
      result = *existing;
      return absl::OkStatus();
    }
    model::VirtualMachine vm;
    vm.set_id(spec.replica_vm_id());
    vm.set_name(spec.name().empty() ? spec.replica_vm_id() : spec.name());
    vm.set_server_id(server->server_id());
    vm.set_host_id(spec.host_id());
    *vm.mutable_disks() = spec.disks();
    *vm.mutable_network_adapters() = spec.network_adapters();
    *state.add_replica_vms() = vm;
    result = vm;
    return absl::OkStatus();
  }));
  result.set_power_state(model::STOPPED);
  return result;
}

absl::Status QemuHost::ConnectNic(const std::string& vm_id, const model::NetworkAdapter& nic) {
  int index = -1;
  ASR_RETURN_IF_ERROR(UpdateState([&](QemuHostState& state) -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVmLocked(vm_id));
    for (int i = 0; i < vm.network_adapters_size(); ++i) {
      if (vm.network_adapters(i).id() == nic.id()) index = i;
    }
    if (index < 0) {
      return absl::NotFoundError(absl::StrCat("VM '", vm_id, "' has no NIC '", nic.id(), "'"));
    }
    if (!nic.vm_network_id().empty()) {
      bool known = false;
      for (const model::Inventory& inv : servers_) {
        for (const model::VmNetwork& n : inv.vm_networks()) {
          known = known || n.id() == nic.vm_network_id();
        }
      }
      for (const model::VmNetwork& n : state.isolated_networks()) {
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
    *(*state.mutable_nics())[vm_id].mutable_adapters() = vm.network_adapters();
    return absl::OkStatus();
  }));
  // A running VM sees its link change at once.
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<VmSession> s, Lock(vm_id, /*connect=*/true));
  if (s->qmp == nullptr) return absl::OkStatus();
  return s->qmp
      ->Execute("set_link", absl::StrCat(R"({"name":"nic)", index, R"(","up":)",
                                         nic.vm_network_id().empty() ? "false" : "true", "}"))
      .status();
}

absl::StatusOr<std::string> QemuHost::CreateIsolatedNetwork(const std::string& host_id,
                                                            const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("an isolated network needs a name");
  const std::string id = absl::StrCat("isolated-", name);
  ASR_RETURN_IF_ERROR(UpdateState([&](QemuHostState& state) -> absl::Status {
    const model::Inventory* server = ServerOfHostLocked(host_id);
    if (server == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", host_id, "' on this QEMU host (", root_,
                                              ") for isolated network '", name, "'"));
    }
    for (const model::VmNetwork& n : server->vm_networks()) {
      if (n.id() == id) {
        return absl::AlreadyExistsError(absl::StrCat("network '", id, "' is defined in ",
                                                     JoinPath(root_, "config.json"),
                                                     "; name the isolated network differently"));
      }
    }
    for (const model::VmNetwork& n : state.isolated_networks()) {
      if (n.id() == id) return absl::OkStatus();
    }
    model::VmNetwork& n = *state.add_isolated_networks();
    n.set_id(id);
    n.set_name(absl::StrCat(name, " (isolated)"));
    n.set_server_id(server->server_id());
    return absl::OkStatus();
  }));
  return id;
}

absl::Status QemuHost::DeleteIsolatedNetwork(const std::string& host_id,
                                             const std::string& network_id) {
  return UpdateState([&](QemuHostState& state) -> absl::Status {
    if (ServerOfHostLocked(host_id) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no host '", host_id, "' on this QEMU host (", root_, ")"));
    }
    std::vector<std::string> ids;
    for (const model::Inventory& inv : servers_) {
      for (const model::VirtualMachine& vm : inv.virtual_machines()) ids.push_back(vm.id());
    }
    for (const model::VirtualMachine& vm : state.replica_vms()) ids.push_back(vm.id());
    for (const std::string& vm_id : ids) {
      ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVmLocked(vm_id));
      for (const model::NetworkAdapter& a : vm.network_adapters()) {
        if (a.vm_network_id() == network_id) {
          return absl::FailedPreconditionError(
              absl::StrCat("network '", network_id, "' is still connected to VM '", vm_id,
                           "'; delete the VM or disconnect its NIC first"));
        }
      }
    }
    auto* nets = state.mutable_isolated_networks();
    for (int i = 0; i < nets->size(); ++i) {
      if (nets->Get(i).id() == network_id) {
        nets->DeleteSubrange(i, 1);
        break;
      }
    }
    return absl::OkStatus();
  });
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
      // The guest agent's port (qemu-ga in the guest opens it by this name).
      "-chardev",
      absl::StrCat("socket,id=qga0,path=", kAgentSocket, ",server=on,wait=off"),
      "-device",
      "virtio-serial-pci,id=vser0",
      "-device",
      "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0",
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
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<VmSession> s, Lock(vm_id, /*connect=*/false));
  if (s->process.has_value()) return absl::OkStatus();
  ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVm(vm_id));
  std::string extra;
  {
    absl::MutexLock l(&mu_);
    auto it = boot_arguments_.find(vm_id);
    if (it != boot_arguments_.end()) extra = it->second;
  }
  for (const model::VirtualDisk& d : vm.disks()) {
    if (!PathExists(d.path())) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", vm_id, "' cannot start: its disk file '", d.path(), "' is missing"));
    }
    absl::Status whole = MakeWholeIfDifferencing(d.path());
    if (!whole.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("VM '", vm_id, "' cannot start: its disk '",
                                                        d.path(), "': ", whole.message()));
    }
  }
  ASR_ASSIGN_OR_RETURN(std::vector<std::string> args, QemuArguments(vm, extra));
  const std::string& dir = s->dir;
  platform::Env* env = platform::Env::Default();
  const std::string serial = JoinPath(dir, "serial.log");
  if (PathExists(serial)) ASR_RETURN_IF_ERROR(env->Rename(serial, serial + ".1"));
  for (const char* f : {"qmp.sock", kAgentSocket, kFrozenMark, "qemu.pid", "exit", "process"}) {
    if (PathExists(JoinPath(dir, f))) ASR_RETURN_IF_ERROR(env->Unlink(JoinPath(dir, f)));
  }
  const std::string log = JoinPath(dir, "qemu.log");
  ASR_RETURN_IF_ERROR(WriteFileAtomically(log, ""));
  const std::string binary = config_.qemu_binary().empty() ? kDefaultQemu : config_.qemu_binary();
  if (!PathExists(binary)) {
    return absl::FailedPreconditionError(
        absl::StrCat("VM '", vm_id, "' cannot start: no ", binary, " (install qemu-system-x86)"));
  }
  std::vector<std::string> argv = {
      "/bin/sh",
      "-c",
      kSupervisor,
      "asr-qemu-supervisor",
      absl::StrCat(options_.turn_off_vms_on_close ? static_cast<int>(platform::ProcessId()) : 0),
      binary};
  argv.insert(argv.end(), args.begin(), args.end());
  ASR_RETURN_IF_ERROR(platform::SpawnDetached(argv, dir, log));
  // The supervisor writes QEMU's pid at once; QEMU opens its monitor once
  // it has opened the disks, or exits saying why it cannot.
  const absl::Time deadline = absl::Now() + kStartLimit;
  std::optional<QemuProcess> process;
  absl::Status last;
  for (;;) {
    absl::StatusOr<std::string> code = ReadFileToString(JoinPath(dir, "exit"));
    if (code.ok()) {
      absl::StatusOr<std::string> words = ReadFileToString(log);
      int c = 0;
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*code), &c);
      return absl::FailedPreconditionError(absl::StrCat(
          "VM '", vm_id, "' did not start: QEMU ", ExitText(c), ": ",
          words.ok() ? std::string(absl::StripAsciiWhitespace(Tail(*words, 1000))) : "", " (", log,
          ")"));
    }
    if (!process.has_value()) {
      absl::StatusOr<std::string> pid_text = ReadFileToString(JoinPath(dir, "qemu.pid"));
      int pid = 0;
      if (pid_text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*pid_text), &pid)) {
        if (std::optional<platform::ProcessStatus> st = platform::ProcessStatusOf(pid)) {
          QemuProcess p;
          p.set_pid(pid);
          p.set_start_ticks(st->start_ticks);
          p.set_started_unix(absl::ToUnixSeconds(absl::Now()));
          ASR_RETURN_IF_ERROR(
              WriteFileAtomically(JoinPath(dir, "process"), model::ToJson(p) + "\n"));
          process = p;
        }
      }
    } else if (PathExists(JoinPath(dir, "qmp.sock"))) {
      absl::StatusOr<std::unique_ptr<QmpClient>> qmp =
          QmpClient::Connect(JoinPath(dir, "qmp.sock"), kQmpConnectLimit);
      if (qmp.ok()) {
        // A NIC on no network has its link down from the start.
        for (int i = 0; i < vm.network_adapters_size(); ++i) {
          if (!vm.network_adapters(i).vm_network_id().empty()) continue;
          ASR_RETURN_IF_ERROR(
              (*qmp)
                  ->Execute("set_link", absl::StrCat(R"({"name":"nic)", i, R"(","up":false})"))
                  .status());
        }
        return absl::OkStatus();
      }
      last = qmp.status();
    }
    if (absl::Now() >= deadline) {
      if (process.has_value() && Alive(*process)) kill(process->pid(), SIGKILL);
      return absl::DeadlineExceededError(absl::StrCat(
          "VM '", vm_id, "': QEMU did not open its monitor ", JoinPath(dir, "qmp.sock"), " within ",
          absl::FormatDuration(kStartLimit), " (", last.message(), "); killed it"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status QemuHost::ShutdownVm(const std::string& vm_id) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<VmSession> s, Lock(vm_id, /*connect=*/true));
  if (!s->process.has_value()) return absl::OkStatus();
  if (s->qmp != nullptr) {
    absl::Status pressed = s->qmp->Execute("system_powerdown").status();
    if (!pressed.ok() && Alive(*s->process)) {
      return absl::UnavailableError(
          absl::StrCat("VM '", vm_id, "': cannot press its power button: ", pressed.message()));
    }
  }
  const int limit_s =
      config_.shutdown_timeout_seconds() > 0 ? config_.shutdown_timeout_seconds() : 120;
  if (!WaitForEnd(*s->process, absl::Seconds(limit_s))) {
    return absl::DeadlineExceededError(absl::StrCat(
        "VM '", vm_id, "' did not shut down within ", limit_s,
        " s of its ACPI power button (does its guest handle it?); it still runs: TurnOffVm "
        "turns it off"));
  }
  WaitForExitRecord(vm_id);
  return absl::OkStatus();
}

void QemuHost::WaitForExitRecord(const std::string& vm_id) {
  // The supervisor writes how QEMU ended right after it ends.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!PathExists(JoinPath(VmDir(vm_id), "exit")) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status QemuHost::TurnOffVm(const std::string& vm_id) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<VmSession> s, Lock(vm_id, /*connect=*/false));
  if (!s->process.has_value()) return absl::OkStatus();
  bool ended = false;
  absl::StatusOr<std::unique_ptr<QmpClient>> qmp =
      QmpClient::Connect(JoinPath(s->dir, "qmp.sock"), kQuitLimit);
  if (qmp.ok() && (*qmp)->Execute("quit", "", kQuitLimit).ok()) {
    ended = WaitForEnd(*s->process, kQuitLimit);
  }
  if (!ended) {
    if (Alive(*s->process)) kill(s->process->pid(), SIGKILL);
    WaitForEnd(*s->process, kQuitLimit);
  }
  WaitForExitRecord(vm_id);
  return absl::OkStatus();
}

absl::Status QemuHost::KillVmProcess(const std::string& vm_id) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<VmSession> s, Lock(vm_id, /*connect=*/false));
  if (!s->process.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("VM '", vm_id, "' has no QEMU running"));
  }
  if (kill(s->process->pid(), SIGKILL) != 0) return ErrnoToStatus(errno, "kill QEMU");
  WaitForEnd(*s->process, kQuitLimit);
  WaitForExitRecord(vm_id);
  return absl::OkStatus();
}

absl::Status QemuHost::DeleteVm(const std::string& vm_id, bool delete_disks) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<VmSession> s, Lock(vm_id, /*connect=*/false));
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
  if (s->process.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "VM '", vm_id, "' is running; shut it down or turn it off before deleting it"));
  }
  ASR_RETURN_IF_ERROR(UpdateState([&](QemuHostState& state) -> absl::Status {
    auto* vms = state.mutable_replica_vms();
    for (int i = 0; i < vms->size(); ++i) {
      if (vms->Get(i).id() == vm_id) {
        vms->DeleteSubrange(i, 1);
        break;
      }
    }
    state.mutable_nics()->erase(vm_id);
    return absl::OkStatus();
  }));
  {
    absl::MutexLock l(&mu_);
    boot_arguments_.erase(vm_id);
  }
  ASR_RETURN_IF_ERROR(RemoveTree(s->dir));
  if (delete_disks) {
    for (const model::VirtualDisk& d : vm.disks()) {
      if (!PathExists(d.path())) continue;
      absl::Status st = platform::Env::Default()->Unlink(d.path());
      if (!st.ok()) {
        return absl::Status(st.code(), absl::StrCat("VM '", vm_id, "' is deleted, but its disk ",
                                                    d.path(), " is not: ", st.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<model::ScriptResult> QemuHost::RunScript(const model::ScriptRequest& request) {
  {
    absl::MutexLock l(&mu_);
    if (ServerOfHostLocked(request.host_id()) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", request.host_id(),
                                              "' on this QEMU host to run ", request.path()));
    }
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

absl::Status QemuHost::AttachChangeTracking(const std::string& vm_id, const std::string& disk_id,
                                            fabric::WriteSink* sink) {
  // QEMU reports no writes one by one: every point says its disks need a
  // scan instead (HostPointDisk.needs_scan).
  return FindVm(vm_id).status();
}

absl::Status QemuHost::DetachChangeTracking(const std::string& vm_id, const std::string& disk_id) {
  return absl::OkStatus();
}

// ---- Points ----

namespace {

// A drive as query-block describes it.
struct DriveInfo {
  uint64_t size = 0;
  std::string node;  // its root node's name
  struct Bitmap {
    bool recording = false;
    bool busy = false;
    bool inconsistent = false;
  };
  std::map<std::string, Bitmap> bitmaps;
};

absl::StatusOr<std::map<std::string, DriveInfo>> QueryDrives(QmpClient& qmp) {
  ASR_ASSIGN_OR_RETURN(google::protobuf::Value blocks, qmp.Execute("query-block"));
  std::map<std::string, DriveInfo> drives;
  for (const google::protobuf::Value& b : blocks.list_value().values()) {
    const google::protobuf::Value* device = QmpField(b, "device");
    const google::protobuf::Value* inserted = QmpField(b, "inserted");
    const google::protobuf::Value* image = inserted ? QmpField(*inserted, "image") : nullptr;
    const google::protobuf::Value* size = image ? QmpField(*image, "virtual-size") : nullptr;
    const google::protobuf::Value* node = inserted ? QmpField(*inserted, "node-name") : nullptr;
    if (device == nullptr || size == nullptr || node == nullptr) continue;
    DriveInfo& d = drives[device->string_value()];
    d.size = static_cast<uint64_t>(size->number_value());
    d.node = node->string_value();
    const google::protobuf::Value* bitmaps = QmpField(*inserted, "dirty-bitmaps");
    if (bitmaps == nullptr) continue;
    for (const google::protobuf::Value& m : bitmaps->list_value().values()) {
      const google::protobuf::Value* name = QmpField(m, "name");
      if (name == nullptr) continue;
      DriveInfo::Bitmap& bm = d.bitmaps[name->string_value()];
      const google::protobuf::Value* v = QmpField(m, "recording");
      bm.recording = v != nullptr && v->bool_value();
      v = QmpField(m, "busy");
      bm.busy = v != nullptr && v->bool_value();
      v = QmpField(m, "inconsistent");
      bm.inconsistent = v != nullptr && v->bool_value();
    }
  }
  return drives;
}

std::string QemuImgPath(const std::string& qemu_binary) {
  const size_t slash = qemu_binary.rfind('/');
  const std::string dir = slash == std::string::npos ? "/usr/bin" : qemu_binary.substr(0, slash);
  return JoinPath(dir.empty() ? "/" : dir, "qemu-img");
}

// Runs qemu-img in `dir` (where the VM's NBD socket is: a socket's path
// may be longer than a Unix address holds); its output when it succeeds.
absl::StatusOr<std::string> RunQemuImg(const std::string& qemu_img, const std::string& dir,
                                       const std::vector<std::string>& args) {
  std::vector<std::string> a = {"-c", "cd \"$1\" && shift && exec \"$@\"", "sh", dir, qemu_img};
  a.insert(a.end(), args.begin(), args.end());
  platform::RunProcessOptions o;
  o.timeout = absl::Minutes(30);
  o.output_limit = 16 << 20;
  ASR_ASSIGN_OR_RETURN(platform::ProcessResult r, platform::RunProcess("/bin/sh", a, o));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat(qemu_img, " ", absl::StrJoin(args, " "), " failed",
                                            r.timed_out ? " (time limit)" : "", ": ",
                                            absl::StripAsciiWhitespace(r.output)));
  }
  return std::move(r.output);
}

// Writes `extents` of the NBD export into the image at `path` (the
// export's data at an earlier point, `size` bytes): the bytes read.
absl::StatusOr<uint64_t> UpdateImage(
    NbdClient& nbd, const google::protobuf::RepeatedPtrField<model::DiskExtent>& extents,
    const std::string& path, uint64_t size) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> image,
                       disk::OpenDisk(path, disk::OpenMode::kReadWrite));
  if (image->virtual_size() != size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the base image ", path, " has ", image->virtual_size(), " bytes, the disk ", size));
  }
  std::vector<uint8_t> buf(4u << 20);
  uint64_t read = 0;
  for (const model::DiskExtent& e : extents) {
    for (uint64_t at = e.offset(); at < e.offset() + e.length();) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(buf.size(), e.offset() + e.length() - at));
      ASR_RETURN_IF_ERROR(nbd.Read(at, absl::MakeSpan(buf.data(), n)));
      ASR_RETURN_IF_ERROR(image->WriteAt(at, absl::MakeConstSpan(buf.data(), n)));
      at += n;
      read += n;
    }
  }
  ASR_RETURN_IF_ERROR(image->Close());
  return read;
}

// Fleecing jobs and overlay nodes that a point of an asr process that died
// left in QEMU (they keep the drive busy): job ids and node names of points
// are "asr<hex>-diskN" (PreparePoint). Best effort; no point of the VM runs
// meanwhile (its lock is held).
absl::Status EndFleecing(QmpClient& qmp, std::vector<std::string>& nodes);
bool IsFleecingNode(const std::string& name) {
  if (!absl::StartsWith(name, "asr")) return false;
  const size_t dash = name.find("-disk");
  if (dash == std::string::npos || dash == 3) return false;
  for (size_t i = 3; i < dash; ++i) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}
void EndStaleFleecing(QmpClient& qmp) {
  std::set<std::string> stale;
  if (absl::StatusOr<google::protobuf::Value> jobs = qmp.Execute("query-block-jobs"); jobs.ok()) {
    for (const google::protobuf::Value& j : jobs->list_value().values()) {
      const google::protobuf::Value* device = QmpField(j, "device");
      if (device != nullptr && IsFleecingNode(device->string_value())) {
        stale.insert(device->string_value());
      }
    }
  }
  if (absl::StatusOr<google::protobuf::Value> named =
          qmp.Execute("query-named-block-nodes", R"({"flat":true})");
      named.ok()) {
    for (const google::protobuf::Value& n : named->list_value().values()) {
      const google::protobuf::Value* name = QmpField(n, "node-name");
      if (name != nullptr && IsFleecingNode(name->string_value()))
        stale.insert(name->string_value());
    }
  }
  if (stale.empty()) return;
  (void)qmp.Execute("nbd-server-stop");  // its exports hold the overlays
  std::vector<std::string> nodes(stale.begin(), stale.end());
  (void)EndFleecing(qmp, nodes);
}

constexpr char kBitmapPrefix[] = "asr-";
constexpr char kNbdSocket[] = "nbd.sock";  // in the VM's directory, QEMU's working directory

}  // namespace

// A point whose holder died is never released, and its directory (up to a
// full image of each disk) would stay for good: each point records its
// holder (points/P/holder, written before anything else goes in), and the
// VM's next point removes the points of holders that are gone. Points are
// made, undone and released under the VM's lock, which this runs under
// too: a directory without a readable record is one whose making or
// removal a process did not finish, and goes as well.
static void RemovePointsOfDeadHolders(const std::string& points_dir) {
  absl::StatusOr<std::vector<std::string>> names =
      platform::Env::Default()->ListDirectory(points_dir);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    const std::string dir = JoinPath(points_dir, name);
    absl::StatusOr<std::string> text = ReadFileToString(JoinPath(dir, kPointHolder));
    QemuProcess holder;
    if (text.ok() && model::FromJson(*text, &holder).ok() && Alive(holder)) continue;
    (void)RemoveTree(dir);
  }
}

absl::Status QemuHost::PreparePoint(const model::VirtualMachine& vm, VmSession& s,
                                    PendingPoint& p) {
  p.point.set_id(absl::StrFormat("qp-%d-%d-%d", absl::ToUnixMicros(absl::Now()),
                                 platform::ProcessId(), next_point_.fetch_add(1)));
  p.point.set_vm_id(vm.id());
  p.point.set_type(model::CrashConsistent);
  p.qmp = s.qmp.get();
  p.session = &s;
  const std::string tracking_path = JoinPath(s.dir, "tracking");
  if (p.qmp == nullptr) {
    // Nothing writes a stopped VM's disks: they are the point. Its bitmaps
    // died with its QEMU.
    if (PathExists(tracking_path))
      ASR_RETURN_IF_ERROR(platform::Env::Default()->Unlink(tracking_path));
    for (const model::VirtualDisk& d : vm.disks()) {
      model::HostPointDisk* pd = p.point.add_disks();
      pd->set_disk_id(d.id());
      pd->set_read_path(d.path());
      pd->set_needs_scan(true);
      pd->set_needs_scan_reason(
          "the VM is stopped: QEMU's dirty bitmaps of its disks ended with its process");
    }
    return absl::OkStatus();
  }
  EndStaleFleecing(*p.qmp);
  ASR_ASSIGN_OR_RETURN(auto drives, QueryDrives(*p.qmp));
  // What the last point left: bitmaps of this very QEMU process.
  QemuTracking tracking;
  std::string untrusted;
  {
    absl::StatusOr<std::string> text = ReadFileToString(tracking_path);
    if (!text.ok()) {
      untrusted =
          "no dirty bitmap since an earlier point of this QEMU process (the first point "
          "since the VM started)";
    } else if (!model::FromJson(*text, &tracking).ok()) {
      untrusted = "the record of the VM's dirty bitmaps is unreadable";
    } else if (!s.process.has_value() || tracking.process().pid() != s.process->pid() ||
               tracking.process().start_ticks() != s.process->start_ticks()) {
      untrusted =
          "QEMU was restarted since the last point: its dirty bitmaps (not persistent on "
          "VHDX drives) ended with the earlier process";
    }
  }
  RemovePointsOfDeadHolders(JoinPath(s.dir, "points"));
  p.dir = JoinPath(JoinPath(s.dir, "points"), p.point.id());
  {
    // The point's holder: this process (pid and start time, so that a
    // reused pid is not taken for it).
    ASR_RETURN_IF_ERROR(MakeDirectories(p.dir));
    QemuProcess holder;
    holder.set_pid(platform::ProcessId());
    if (std::optional<platform::ProcessStatus> st = platform::ProcessStatusOf(holder.pid())) {
      holder.set_start_ticks(st->start_ticks);
    }
    holder.set_started_unix(absl::ToUnixSeconds(absl::Now()));
    ASR_RETURN_IF_ERROR(
        WriteFileAtomically(JoinPath(p.dir, kPointHolder), model::ToJson(holder) + "\n"));
  }
  const std::string qemu_img =
      QemuImgPath(config_.qemu_binary().empty() ? kDefaultQemu : config_.qemu_binary());
  for (int i = 0; i < vm.disks_size(); ++i) {
    const std::string drive = absl::StrCat("disk", i);
    auto it = drives.find(drive);
    if (it == drives.end()) return absl::InternalError(absl::StrCat("QEMU has no drive ", drive));
    const DriveInfo& info = it->second;
    // Whether the last point's bitmap of this drive holds every write since
    // that point's instant.
    std::string why = untrusted;
    std::string prev;
    if (why.empty()) {
      const QemuDiskTracking* t = i < tracking.disks_size() ? &tracking.disks(i) : nullptr;
      auto bm = t != nullptr ? info.bitmaps.find(t->bitmap()) : info.bitmaps.end();
      if (t == nullptr || t->drive() != drive || t->bitmap().empty()) {
        why = "the VM's disks changed since the last point";
      } else if (bm == info.bitmaps.end()) {
        why = absl::StrCat("QEMU has no dirty bitmap ", t->bitmap(), " on ", drive);
      } else if (!bm->second.recording || bm->second.busy || bm->second.inconsistent) {
        why = absl::StrCat("dirty bitmap ", t->bitmap(), " on ", drive, " is ",
                           bm->second.inconsistent ? "inconsistent"
                           : bm->second.busy       ? "in use"
                                                   : "not recording");
      } else if (t->size_bytes() != info.size) {
        why = absl::StrCat(drive, " was resized since the last point (", t->size_bytes(), " -> ",
                           info.size, " bytes)");
      } else {
        prev = t->bitmap();
        p.prev_point_id = tracking.point_id();
      }
    }
    // Bitmaps of points that did not end (an asr process that died) go.
    for (const auto& [name, bm] : info.bitmaps) {
      if (absl::StartsWith(name, kBitmapPrefix) && name != prev) {
        (void)p.qmp->Execute(
            "block-dirty-bitmap-remove",
            absl::StrCat(R"({"node":)", QmpQuote(info.node), R"(,"name":)", QmpQuote(name), "}"));
      }
    }
    // Image fleecing: an overlay over the drive that receives, through the
    // backup job's copy-before-write, every old block the guest overwrites
    // after the instant; read through NBD it is the disk at the instant.
    const std::string overlay = JoinPath(p.dir, absl::StrCat(drive, ".fleece.qcow2"));
    ASR_RETURN_IF_ERROR(
        RunQemuImg(qemu_img, p.dir,
                   {"create", "-q", "-f", "qcow2", overlay, absl::StrCat(info.size)})
            .status());
    p.overlays.push_back(overlay);
    // QEMU's node names have at most 31 characters; unique enough between
    // processes (one point of a VM at a time holds its lock).
    const std::string node =
        absl::StrFormat("asr%x%x-%s", static_cast<uint32_t>(absl::ToUnixMicros(absl::Now())),
                        static_cast<uint32_t>(platform::ProcessId()) & 0xffff, drive);
    ASR_RETURN_IF_ERROR(
        p.qmp
            ->Execute("blockdev-add",
                      absl::StrCat(R"({"driver":"qcow2","node-name":)", QmpQuote(node),
                                   R"(,"file":{"driver":"file","filename":)", QmpQuote(overlay),
                                   R"(},"backing":)", QmpQuote(info.node), "}"))
            .status());
    p.nodes.push_back(node);
    const std::string bitmap = absl::StrCat(kBitmapPrefix, p.point.id());
    p.drives.push_back(drive);
    p.disk_nodes.push_back(info.node);
    p.sizes.push_back(info.size);
    p.new_bitmaps.push_back(bitmap);
    p.prev_bitmaps.push_back(prev);
    // The instant: the copy-before-write starts, the new bitmap starts
    // recording and the last one stops, all at once.
    absl::StrAppend(&p.actions, p.actions.empty() ? "" : ",",
                    R"({"type":"blockdev-backup","data":{"device":)", QmpQuote(drive),
                    R"(,"target":)", QmpQuote(node), R"(,"sync":"none","job-id":)", QmpQuote(node),
                    R"(}},{"type":"block-dirty-bitmap-add","data":{"node":)", QmpQuote(info.node),
                    R"(,"name":)", QmpQuote(bitmap), R"(,"persistent":false}})");
    if (!prev.empty()) {
      absl::StrAppend(&p.actions, R"(,{"type":"block-dirty-bitmap-disable","data":{"node":)",
                      QmpQuote(info.node), R"(,"name":)", QmpQuote(prev), "}}");
    }
    model::HostPointDisk* pd = p.point.add_disks();
    pd->set_disk_id(vm.disks(i).id());
    pd->set_read_path(JoinPath(p.dir, absl::StrCat(drive, ".vhdx")));
    if (prev.empty()) {
      pd->set_needs_scan(true);
      pd->set_needs_scan_reason(why);
    }
  }
  return absl::OkStatus();
}

absl::Status QemuHost::StartPoint(PendingPoint& p) {
  if (p.qmp == nullptr) return absl::OkStatus();
  p.qmp->TakeEvents();
  ASR_RETURN_IF_ERROR(
      p.qmp->Execute("transaction", absl::StrCat(R"({"actions":[)", p.actions, "]}")).status());
  p.started = true;
  return absl::OkStatus();
}

// Stops the fleecing jobs and closes the overlays (waiting for QEMU to let
// go of them); best effort when `force`.
namespace {
absl::Status EndFleecing(QmpClient& qmp, std::vector<std::string>& nodes) {
  std::set<std::string> running(nodes.begin(), nodes.end());
  for (const std::string& n : nodes) {
    absl::Status c = qmp.Execute("block-job-cancel",
                                 absl::StrCat(R"({"device":)", QmpQuote(n), R"(,"force":true})"))
                         .status();
    if (!c.ok()) running.erase(n);  // no such job (never started, or ended)
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!running.empty() && absl::Now() < deadline) {
    absl::StatusOr<QmpEvent> e = qmp.WaitForEvent("BLOCK_JOB_CANCELLED", deadline - absl::Now());
    if (!e.ok()) break;
    auto device = e->data.fields().find("device");
    if (device != e->data.fields().end()) running.erase(device->second.string_value());
  }
  absl::Status result;
  while (!nodes.empty()) {
    absl::Status d;
    for (int i = 0; i < 50; ++i) {
      d = qmp.Execute("blockdev-del", absl::StrCat(R"({"node-name":)", QmpQuote(nodes.back()), "}"))
              .status();
      if (d.ok()) break;
      absl::SleepFor(absl::Milliseconds(100));  // a cancelled job lets go of it shortly
    }
    if (!d.ok() && result.ok()) result = d;
    nodes.pop_back();
  }
  return result;
}
}  // namespace

absl::Status QemuHost::FinishPoint(PendingPoint& p) {
  if (p.qmp == nullptr) return absl::OkStatus();
  const std::string vm_dir = p.session->dir;
  const std::string qemu_img =
      QemuImgPath(config_.qemu_binary().empty() ? kDefaultQemu : config_.qemu_binary());
  // The overlays through QEMU's NBD server, each with the last point's
  // bitmap (found in the overlay's backing chain) as a metadata context.
  (void)p.qmp->Execute("nbd-server-stop");  // one left by an asr process that died
  (void)platform::Env::Default()->Unlink(JoinPath(vm_dir, kNbdSocket));
  ASR_RETURN_IF_ERROR(
      p.qmp
          ->Execute("nbd-server-start", absl::StrCat(R"({"addr":{"type":"unix","data":{"path":)",
                                                     QmpQuote(kNbdSocket), "}}}"))
          .status());
  p.nbd = true;
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    std::string args =
        absl::StrCat(R"({"device":)", QmpQuote(p.nodes[i]), R"(,"name":)", QmpQuote(p.drives[i]));
    if (!p.prev_bitmaps[i].empty()) {
      absl::StrAppend(&args, R"(,"bitmap":)", QmpQuote(p.prev_bitmaps[i]));
    }
    ASR_RETURN_IF_ERROR(p.qmp->Execute("nbd-server-add", args + "}").status());
  }
  // The base: each disk's full image at an earlier point, which this point
  // brings up to date with the extents alone when it is the image of the
  // point the bitmaps start at and no unreleased point holds it.
  const std::string base_dir = JoinPath(vm_dir, "base");
  const std::string base_record = JoinPath(base_dir, "record");
  QemuBase base;
  bool base_usable = false;
  if (absl::StatusOr<std::string> text = ReadFileToString(base_record); text.ok()) {
    base_usable = model::FromJson(*text, &base).ok() && !base.held() && !p.prev_point_id.empty() &&
                  base.point_id() == p.prev_point_id &&
                  base.disks_size() == static_cast<int>(p.drives.size());
    // From here on the images change (or are superseded by this point's):
    // without a record none is trusted, so a crash leaves no wrong base.
    ASR_RETURN_IF_ERROR(platform::Env::Default()->Unlink(base_record));
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(base_dir));
  PointCopy copy;
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const std::string uri = absl::StrCat("nbd+unix:///", p.drives[i], "?socket=", kNbdSocket);
    model::HostPointDisk* pd = p.point.mutable_disks(static_cast<int>(i));
    const std::string context = absl::StrCat("qemu:dirty-bitmap:", p.prev_bitmaps[i]);
    NbdClientOptions no;
    no.timeout = absl::Minutes(2);
    if (!p.prev_bitmaps[i].empty()) no.meta_contexts = {context};
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<NbdClient> nbd,
                         NbdClient::Connect(JoinPath(vm_dir, kNbdSocket), p.drives[i], no));
    if (nbd->size() != p.sizes[i]) {
      return absl::InternalError(absl::StrCat("the NBD export of ", p.drives[i], " has ",
                                              nbd->size(), " bytes, the drive ", p.sizes[i]));
    }
    if (!p.prev_bitmaps[i].empty()) {
      // The bitmap's dirty clusters, read through QEMU's NBD server.
      ASR_ASSIGN_OR_RETURN(std::vector<NbdExtent> extents,
                           nbd->BlockStatus(context, 0, p.sizes[i]));
      uint64_t covered = 0;
      for (const NbdExtent& e : extents) {
        if (e.offset != covered) {
          return absl::InternalError(absl::StrCat("the block status of ", p.prev_bitmaps[i],
                                                  " skipped [", covered, ", ", e.offset,
                                                  "): the dirty bitmap cannot be read"));
        }
        covered = e.offset + e.length;
        if ((e.flags & 1) == 0) continue;  // clean
        model::DiskExtent* x = pd->add_changed_extents();
        x->set_offset(e.offset);
        x->set_length(e.length);
      }
      if (covered != p.sizes[i]) {
        return absl::InternalError(absl::StrCat("the block status of ", p.prev_bitmaps[i],
                                                " covered ", covered, " of ", p.sizes[i],
                                                " bytes"));
      }
      pd->set_changes_since_point_id(p.prev_point_id);
    }
    // The point's image: the base brought up to this point by the changed
    // extents alone, or a full copy of the export.
    const std::string base_image = JoinPath(base_dir, absl::StrCat(p.drives[i], ".vhdx"));
    bool updated = false;
    if (base_usable && !p.prev_bitmaps[i].empty() && base.disks(i).drive() == p.drives[i] &&
        base.disks(i).size_bytes() == p.sizes[i] && PathExists(base_image)) {
      ASR_ASSIGN_OR_RETURN(uint64_t n,
                           UpdateImage(*nbd, pd->changed_extents(), base_image, p.sizes[i]));
      ASR_RETURN_IF_ERROR(platform::Env::Default()->Rename(base_image, pd->read_path()));
      copy.bytes_read += n;
      ++copy.disks_updated;
      updated = true;
    }
    ASR_RETURN_IF_ERROR(nbd->Disconnect());
    if (!updated) {
      // The point's copy, read through the overlay while the guest runs on.
      ASR_RETURN_IF_ERROR(RunQemuImg(qemu_img, vm_dir,
                                     {"convert", "-q", "-f", "raw", "-O", "vhdx", "-o",
                                      "subformat=dynamic,block_size=2M", uri, pd->read_path()})
                              .status());
      copy.bytes_read += p.sizes[i];
      ++copy.disks_copied;
      if (PathExists(base_image)) {
        ASR_RETURN_IF_ERROR(platform::Env::Default()->Unlink(base_image));
      }
    }
  }
  for (const std::string& d : p.drives) {
    (void)p.qmp->Execute("nbd-server-remove", absl::StrCat(R"({"name":)", QmpQuote(d), "}"));
  }
  ASR_RETURN_IF_ERROR(p.qmp->Execute("nbd-server-stop").status());
  p.nbd = false;
  ASR_RETURN_IF_ERROR(EndFleecing(*p.qmp, p.nodes));
  for (const std::string& o : p.overlays) (void)platform::Env::Default()->Unlink(o);
  p.overlays.clear();
  // The last point's bitmaps are read; this point's record every write
  // since its instant, in this QEMU process.
  for (size_t i = 0; i < p.drives.size(); ++i) {
    if (p.prev_bitmaps[i].empty()) continue;
    ASR_RETURN_IF_ERROR(p.qmp
                            ->Execute("block-dirty-bitmap-remove",
                                      absl::StrCat(R"({"node":)", QmpQuote(p.disk_nodes[i]),
                                                   R"(,"name":)", QmpQuote(p.prev_bitmaps[i]), "}"))
                            .status());
    p.prev_bitmaps[i].clear();
  }
  // This point's images are the base from now on, held by the point until
  // ReleasePoint hands them back.
  QemuBase held;
  held.set_point_id(p.point.id());
  held.set_held(true);
  for (size_t i = 0; i < p.drives.size(); ++i) {
    QemuBaseDisk* d = held.add_disks();
    d->set_drive(p.drives[i]);
    d->set_size_bytes(p.sizes[i]);
  }
  ASR_RETURN_IF_ERROR(WriteFileAtomically(base_record, model::ToJson(held) + "\n"));
  {
    absl::MutexLock l(&mu_);
    last_point_copy_[p.point.vm_id()] = copy;
  }
  QemuTracking t;
  if (p.session->process.has_value()) *t.mutable_process() = *p.session->process;
  t.set_point_id(p.point.id());
  for (size_t i = 0; i < p.drives.size(); ++i) {
    QemuDiskTracking* d = t.add_disks();
    d->set_drive(p.drives[i]);
    d->set_bitmap(p.new_bitmaps[i]);
    d->set_size_bytes(p.sizes[i]);
  }
  return WriteFileAtomically(JoinPath(vm_dir, "tracking"), model::ToJson(t) + "\n");
}

void QemuHost::UndoPoint(PendingPoint& p) {
  if (p.qmp != nullptr) {
    // No bitmap of a point that failed is trusted: the next point scans.
    if (p.session != nullptr) {
      (void)platform::Env::Default()->Unlink(JoinPath(p.session->dir, "tracking"));
    }
    if (p.nbd) (void)p.qmp->Execute("nbd-server-stop");
    (void)EndFleecing(*p.qmp, p.nodes);
    for (size_t i = 0; i < p.drives.size(); ++i) {
      for (const std::string& b : {p.new_bitmaps[i], p.prev_bitmaps[i]}) {
        if (b.empty()) continue;
        (void)p.qmp->Execute("block-dirty-bitmap-remove",
                             absl::StrCat(R"({"node":)", QmpQuote(p.disk_nodes[i]), R"(,"name":)",
                                          QmpQuote(b), "}"));
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
    std::set<std::string> seen;
    for (const std::string& id : vm_ids) {
      if (!seen.insert(id).second) {
        return absl::InvalidArgumentError(absl::StrCat("VM '", id, "' appears twice in the group"));
      }
      ASR_ASSIGN_OR_RETURN(vms.emplace_back(), FindVm(id));
    }
  }
  if (type != model::AppConsistent) type = model::CrashConsistent;  // also when unspecified
  // One operation per VM at a time (between processes too); taken in id
  // order so two group points never wait on each other.
  std::vector<size_t> order(vms.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return vm_ids[a] < vm_ids[b]; });
  std::vector<std::unique_ptr<VmSession>> sessions(vms.size());
  for (size_t i : order) {
    ASR_ASSIGN_OR_RETURN(sessions[i], Lock(vm_ids[i], /*connect=*/true));
  }
  for (size_t i : order) ThawLeftFrozen(vm_ids[i], sessions[i]->dir);
  std::vector<PendingPoint> pending(vms.size());
  // On an error no point is held: every job, node and file goes.
  auto undo_all = [&](const absl::Status& error) {
    for (PendingPoint& p : pending) UndoPoint(p);
    return absl::Status(error.code(),
                        absl::StrCat("point of ", vm_ids.size() == 1 ? "VM" : "VMs", " '",
                                     absl::StrJoin(vm_ids, "', '"), "': ", error.message()));
  };
  for (size_t i = 0; i < vms.size(); ++i) {
    absl::Status prepared = PreparePoint(vms[i], *sessions[i], pending[i]);
    if (!prepared.ok()) return undo_all(prepared);
  }
  // App-consistent: every running guest quiesced and frozen by its agent
  // before any instant, thawed right after the last (the GuestFreeze
  // thaws on every path out of here, errors included). A stopped VM's
  // disks are quiet already.
  std::unique_ptr<GuestFreeze> frozen;
  std::vector<FreezeTarget> targets;  // the running guests frozen for it
  const absl::Time freeze_start = absl::Now();
  if (type == model::AppConsistent) {
    for (size_t i : order) {
      if (pending[i].qmp == nullptr) continue;
      targets.push_back({vm_ids[i], JoinPath(sessions[i]->dir, kAgentSocket)});
    }
    GuestFreezeOptions fo;
    fo.agent = options_.agent;
    for (const FreezeTarget& t : targets) {
      absl::Status marked =
          WriteFileAtomically(JoinPath(DirName(t.socket_path), kFrozenMark),
                              absl::StrCat("frozen by asr process ", platform::ProcessId(),
                                           " for an application-consistent point\n"));
      if (!marked.ok()) return undo_all(marked);
    }
    std::vector<std::string> still_frozen;
    absl::StatusOr<std::unique_ptr<GuestFreeze>> f =
        GuestFreeze::Freeze(targets, fo, &still_frozen);
    if (!f.ok()) {
      UnmarkFrozen(targets, still_frozen);
      return undo_all(f.status());
    }
    frozen = std::move(*f);
  }
  // (A stopped VM's point is its disks as its guest left them: nothing
  // writes them, so it is what was asked.)
  for (PendingPoint& p : pending) p.point.set_type(type);
  // The instant: with one VM, its transaction; with several, every running
  // VM is paused (QMP stop drains its I/O) before any transaction starts,
  // and resumed after the last.
  const bool pause = std::count_if(pending.begin(), pending.end(),
                                   [](const PendingPoint& p) { return p.qmp != nullptr; }) > 1;
  std::vector<QmpClient*> paused;
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
  for (QmpClient* q : paused) {
    absl::Status resumed = q->Execute("cont").status();
    if (started.ok() && !resumed.ok()) started = resumed;
  }
  const absl::Time after = absl::Now();
  absl::Status thawed;
  if (frozen != nullptr) {
    thawed = frozen->Thaw();
    UnmarkFrozen(targets, frozen->still_frozen());
  }
  const absl::Duration quiesce = frozen != nullptr ? absl::Now() - freeze_start : absl::Duration();
  if (!started.ok()) return undo_all(started);
  if (!thawed.ok()) return undo_all(thawed);
  {
    absl::MutexLock l(&mu_);
    last_point_transaction_ = after - before;
    last_point_quiesce_ = quiesce;
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

void QemuHost::UnmarkFrozen(const std::vector<FreezeTarget>& targets,
                            const std::vector<std::string>& still_frozen) {
  for (const FreezeTarget& t : targets) {
    if (std::find(still_frozen.begin(), still_frozen.end(), t.vm_id) != still_frozen.end()) {
      continue;  // the next point of the VM tries its thaw again
    }
    (void)platform::Env::Default()->Unlink(JoinPath(DirName(t.socket_path), kFrozenMark));
  }
}

void QemuHost::ThawLeftFrozen(const std::string& vm_id, const std::string& vm_dir) {
  const std::string mark = JoinPath(vm_dir, kFrozenMark);
  if (!PathExists(mark)) return;
  GuestAgentClient agent(JoinPath(vm_dir, kAgentSocket), vm_id, options_.agent);
  absl::StatusOr<int> thawed = agent.Thaw();
  // Thawed, or nothing to thaw: no agent answers (the VM is off, or its
  // agent is gone, and with it the guest that was frozen). An agent that
  // answers with an error keeps the mark: the next point tries again.
  if (thawed.ok() || absl::IsUnavailable(thawed.status())) {
    (void)platform::Env::Default()->Unlink(mark);
  }
}

absl::Status QemuHost::ReleasePoint(const model::HostPoint& point) {
  if (!absl::StartsWith(point.id(), "qp-") || absl::StrContains(point.id(), "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("point '", point.id(), "' was not taken by a QEMU host"));
  }
  const std::string dir = JoinPath(JoinPath(VmDir(point.vm_id()), "points"), point.id());
  // When the point holds the VM's base, its images become the base again
  // (under the VM's lock: a point may be bringing the base up to date).
  absl::StatusOr<std::unique_ptr<VmSession>> s = Lock(point.vm_id(), /*connect=*/false);
  if (s.ok()) {
    const std::string base_dir = JoinPath((*s)->dir, "base");
    const std::string record = JoinPath(base_dir, "record");
    QemuBase base;
    absl::StatusOr<std::string> text = ReadFileToString(record);
    if (text.ok() && model::FromJson(*text, &base).ok() && base.held() &&
        base.point_id() == point.id()) {
      ASR_RETURN_IF_ERROR(platform::Env::Default()->Unlink(record));
      bool moved = true;
      for (const QemuBaseDisk& d : base.disks()) {
        const std::string name = absl::StrCat(d.drive(), ".vhdx");
        if (!platform::Env::Default()->Rename(JoinPath(dir, name), JoinPath(base_dir, name)).ok()) {
          moved = false;  // the base stays without a record: the next point copies in full
          break;
        }
      }
      if (moved) {
        base.set_held(false);
        ASR_RETURN_IF_ERROR(WriteFileAtomically(record, model::ToJson(base) + "\n"));
      }
    }
  }
  return RemoveTree(dir);
}

PointCopy QemuHost::last_point_copy(const std::string& vm_id) const {
  absl::MutexLock l(&mu_);
  auto it = last_point_copy_.find(vm_id);
  return it == last_point_copy_.end() ? PointCopy{} : it->second;
}

absl::Duration QemuHost::last_point_transaction() const {
  absl::MutexLock l(&mu_);
  return last_point_transaction_;
}

absl::Duration QemuHost::last_point_quiesce() const {
  absl::MutexLock l(&mu_);
  return last_point_quiesce_;
}

// ---- QEMU's view ----

absl::StatusOr<VmProcessInfo> QemuHost::ProcessInfo(const std::string& vm_id) {
  ASR_RETURN_IF_ERROR(FindVm(vm_id).status());
  VmProcessInfo info;
  info.power = PowerOf(vm_id);
  info.serial_log = JoinPath(VmDir(vm_id), "serial.log");
  if (std::optional<QemuProcess> p = RunningProcess(vm_id)) {
    info.pid = p->pid();
  } else {
    info.last_exit = LastExit(vm_id);
  }
  return info;
}

absl::StatusOr<std::vector<QemuVmStatus>> QemuHost::ListVms() {
  std::vector<QemuVmStatus> out;
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(RefreshStateLocked());
    std::vector<std::string> ids;
    for (const model::Inventory& inv : servers_) {
      for (const model::VirtualMachine& vm : inv.virtual_machines()) ids.push_back(vm.id());
    }
    for (const model::VirtualMachine& vm : state_.replica_vms()) ids.push_back(vm.id());
    for (const std::string& id : ids) {
      ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVmLocked(id));
      QemuVmStatus& st = out.emplace_back();
      st.set_vm_id(vm.id());
      st.set_name(vm.name());
      st.set_server_id(vm.server_id());
      st.set_host_id(vm.host_id());
      st.set_replica(IsReplicaLocked(id));
    }
  }
  for (QemuVmStatus& st : out) {
    ASR_ASSIGN_OR_RETURN(VmProcessInfo info, ProcessInfo(st.vm_id()));
    st.set_power_state(info.power);
    st.set_pid(info.pid);
    st.set_last_exit(info.last_exit);
    st.set_serial_log(info.serial_log);
  }
  return out;
}

absl::Status QemuHost::SetBootArguments(const std::string& vm_id, const std::string& arguments) {
  absl::MutexLock l(&mu_);
  if (vm_id.empty()) return absl::InvalidArgumentError("boot arguments need a VM id");
  if (arguments.empty()) {
    boot_arguments_.erase(vm_id);
  } else {
    boot_arguments_[vm_id] = arguments;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> QemuHost::SerialLog(const std::string& vm_id) {
  ASR_RETURN_IF_ERROR(FindVm(vm_id).status());
  std::string path = JoinPath(VmDir(vm_id), "serial.log");
  if (!PathExists(path)) return std::string();
  return ReadFileToString(path);
}

absl::StatusOr<std::string> QemuHost::WaitForSerial(const std::string& vm_id,
                                                    const std::string& prefix,
                                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  ASR_RETURN_IF_ERROR(SerialLog(vm_id).status());  // NotFound for an unknown VM
  for (;;) {
    // Whether it still runs, before reading: a line printed just before
    // QEMU exited is found by the read that follows.
    bool stopped = !RunningProcess(vm_id).has_value();
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
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<VmSession> s, Lock(vm_id, /*connect=*/true));
  if (!s->process.has_value() || s->qmp == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("VM '", vm_id, "' is not running"));
  }
  return s->qmp->Execute(command, arguments_json, timeout);
}

}  // namespace asr::qemu
