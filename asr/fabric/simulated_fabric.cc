#include "asr/fabric/simulated_fabric.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/replica_vm_spec.h"
#include "asr/model/json.h"
#include "asr/platform/env.h"
#include "asr/platform/process.h"

namespace asr::fabric {

struct SimulatedFabric::OpenGuestDisk {
  absl::Mutex mu;
  std::unique_ptr<disk::VirtualDisk> disk ABSL_GUARDED_BY(mu);  // null once closed
  FileLock writer;
};

struct SimulatedFabric::HeldPoint {
  std::string vm_id;
  FileLock freeze;  // exclusive while the point is held
};

namespace {

constexpr char kStateFile[] = "fabric.json";
constexpr char kStateLock[] = "fabric.lock";
constexpr char kLogFile[] = "writes.log";
constexpr char kLogLock[] = "writes.lock";
constexpr uint32_t kLogMagic = 0x314C5741;  // "AWL1"
constexpr uint64_t kMiB = 1ull << 20;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

uint64_t RandomId() {
  uint64_t id = 0;
  if (!platform::FillRandom(&id, sizeof id)) {
    id = SplitMix64(static_cast<uint64_t>(NowMicros()) ^
                    static_cast<uint64_t>(platform::ProcessId()));
  }
  return id;
}

// "64 KiB", "10.2 MiB", "512 B".
std::string HumanBytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return absl::StrCat(n, " B");
  if (v == static_cast<double>(static_cast<uint64_t>(v))) {
    return absl::StrCat(static_cast<uint64_t>(v), " ", kUnits[u]);
  }
  return absl::StrFormat("%.1f %s", v, kUnits[u]);
}

// One path component a file system takes: [A-Za-z0-9._-], no "." or "..".
std::string SanitizeComponent(absl::string_view c) {
  std::string out;
  for (char ch : c) {
    out.push_back(absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' ||
                          ch == '_'
                      ? ch
                      : '_');
  }
  if (out.find_first_not_of('.') == std::string::npos) out = std::string(out.size() + 1, '_');
  return out;
}

// ROOT/storage/SERVER[/HOST]/components of `original`, e.g.
// C:\ClusterStorage\Volume1\vm1.vhdx -> .../C_/ClusterStorage/Volume1/vm1.vhdx.
std::string LocalPath(const std::string& root, const std::string& server, const std::string& host,
                      const std::string& original) {
  std::string path = JoinPath(JoinPath(root, "storage"), SanitizeComponent(server));
  if (!host.empty()) path = JoinPath(path, SanitizeComponent(host));
  for (absl::string_view c : absl::StrSplit(original, absl::ByAnyChar("\\/"), absl::SkipEmpty())) {
    path = JoinPath(path, SanitizeComponent(c));
  }
  return path;
}

absl::Status HostDown(const FabricState& s, const std::string& host_id) {
  auto it = s.faults().hosts_down().find(host_id);
  if (it == s.faults().hosts_down().end()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("host ", host_id, " is not responding",
                                             it->second.empty() ? "" : ": ", it->second));
}

model::VirtualMachine* FindVm(FabricState& s, const std::string& vm_id, int* server = nullptr) {
  for (int i = 0; i < s.servers_size(); ++i) {
    for (model::VirtualMachine& vm :
         *s.mutable_servers(i)->mutable_inventory()->mutable_virtual_machines()) {
      if (vm.id() == vm_id) {
        if (server) *server = i;
        return &vm;
      }
    }
  }
  return nullptr;
}

const model::HyperVHost* FindHost(const FabricState& s, const std::string& host_id,
                                  int* server = nullptr) {
  for (int i = 0; i < s.servers_size(); ++i) {
    for (const model::HyperVHost& h : s.servers(i).inventory().hosts()) {
      if (h.id() == host_id) {
        if (server) *server = i;
        return &h;
      }
    }
  }
  return nullptr;
}

absl::Status VmNotFound(const std::string& vm_id) {
  return absl::NotFoundError(absl::StrCat("no VM '", vm_id, "' on any host of the fabric"));
}

const char* PowerName(model::VmPowerState p) {
  switch (p) {
    case model::RUNNING:
      return "RUNNING";
    case model::STOPPED:
      return "STOPPED";
    case model::PAUSED:
      return "PAUSED";
    case model::SAVED:
      return "SAVED";
    default:
      return "STOPPED (unspecified)";
  }
}

// ---- write log encoding ----

void PutU32(std::string* s, uint32_t v) {
  char b[4];
  disk::StoreLe32(reinterpret_cast<uint8_t*>(b), v);
  s->append(b, 4);
}
void PutU64(std::string* s, uint64_t v) {
  char b[8];
  disk::StoreLe64(reinterpret_cast<uint8_t*>(b), v);
  s->append(b, 8);
}
void PutStr(std::string* s, const std::string& v) {
  uint16_t n = static_cast<uint16_t>(std::min<size_t>(v.size(), 0xFFFF));
  char b[2] = {static_cast<char>(n & 0xFF), static_cast<char>(n >> 8)};
  s->append(b, 2);
  s->append(v.data(), n);
}

std::string EncodeRecord(const WriteLogRecord& r) {
  std::string body;
  body.push_back(static_cast<char>(r.kind));
  PutU64(&body, r.seq);
  PutU64(&body, static_cast<uint64_t>(r.time_us));
  PutU64(&body, r.writer);
  PutU64(&body, r.offset);
  PutU64(&body, r.length);
  PutU64(&body, r.data_seed);
  PutU32(&body, r.data_crc);
  PutU64(&body, r.point);
  PutStr(&body, r.vm_id);
  PutStr(&body, r.disk_id);
  // Writes: 1 = an acknowledgement record follows when the write completes
  // (absent in logs of older asr, whose writes count as acknowledged).
  if (r.kind == WriteLogRecord::Kind::kWrite) body.push_back(1);
  std::string out;
  PutU32(&out, kLogMagic);
  PutU32(&out, static_cast<uint32_t>(body.size()));
  out += body;
  PutU32(&out, Crc32c(out));
  return out;
}

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool U8(uint8_t* v) {
    if (n_ < 1) return false;
    *v = *p_;
    Skip(1);
    return true;
  }
  bool U32(uint32_t* v) {
    if (n_ < 4) return false;
    *v = disk::LoadLe32(p_);
    Skip(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (n_ < 8) return false;
    *v = disk::LoadLe64(p_);
    Skip(8);
    return true;
  }
  bool Str(std::string* v) {
    if (n_ < 2) return false;
    size_t len = p_[0] | (static_cast<size_t>(p_[1]) << 8);
    Skip(2);
    if (n_ < len) return false;
    v->assign(reinterpret_cast<const char*>(p_), len);
    Skip(len);
    return true;
  }

 private:
  void Skip(size_t k) {
    p_ += k;
    n_ -= k;
  }
  const uint8_t* p_;
  size_t n_;
};

// Parses the record at data[0..size): its size, or 0 if it is cut short or damaged.
size_t DecodeRecord(const uint8_t* data, size_t size, WriteLogRecord* r) {
  if (size < 12 || disk::LoadLe32(data) != kLogMagic) return 0;
  uint32_t len = disk::LoadLe32(data + 4);
  if (len > (1u << 20) || size < 12ull + len) return 0;
  if (disk::LoadLe32(data + 8 + len) != Crc32c(data, 8 + len)) return 0;
  Reader in(data + 8, len);
  uint8_t kind = 0;
  uint64_t time = 0;
  if (!in.U8(&kind) || !in.U64(&r->seq) || !in.U64(&time) || !in.U64(&r->writer) ||
      !in.U64(&r->offset) || !in.U64(&r->length) || !in.U64(&r->data_seed) ||
      !in.U32(&r->data_crc) || !in.U64(&r->point) || !in.Str(&r->vm_id) || !in.Str(&r->disk_id)) {
    return 0;
  }
  if (kind != 1 && kind != 2 && kind != 3) return 0;
  r->kind = static_cast<WriteLogRecord::Kind>(kind);
  uint8_t acked_later = 0;
  r->acknowledged = !(kind == 1 && in.U8(&acked_later) && acked_later == 1);
  r->time_us = static_cast<int64_t>(time);
  return 12 + len;
}

// Parses records from `data` until the end or a torn/damaged record; the
// bytes consumed.
size_t DecodeRecords(const std::string& data, std::vector<WriteLogRecord>* out) {
  size_t pos = 0;
  while (pos < data.size()) {
    WriteLogRecord r;
    size_t n =
        DecodeRecord(reinterpret_cast<const uint8_t*>(data.data()) + pos, data.size() - pos, &r);
    if (n == 0) break;
    out->push_back(std::move(r));
    pos += n;
  }
  return pos;
}

absl::StatusOr<std::unique_ptr<platform::File>> OpenLog(const std::string& root) {
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kReadWrite;
  o.create = true;
  o.mode = 0644;
  return platform::Env::Default()->Open(JoinPath(root, kLogFile), o);
}

absl::StatusOr<std::string> ReadRange(platform::File& f, uint64_t from, uint64_t to) {
  std::string data(to - from, '\0');
  ASR_ASSIGN_OR_RETURN(size_t n, platform::ReadFully(f, from, data.data(), data.size()));
  data.resize(n);
  return data;
}

// `root` as an absolute path, so that the paths stored in fabric.json mean
// the same files to every process whatever its working directory.
absl::StatusOr<std::string> Absolute(const std::string& root) {
  if (!root.empty() && root[0] == '/') return root;
  ASR_ASSIGN_OR_RETURN(std::string cwd, platform::Env::Default()->CurrentDirectory());
  return JoinPath(cwd, root.empty() ? "." : root);
}

std::string FreezeLockPath(const std::string& root, const std::string& vm_id) {
  return JoinPath(JoinPath(root, "locks"), SanitizeComponent(vm_id) + ".freeze");
}

}  // namespace

void GuestData(uint64_t seed, uint64_t index, uint8_t* out, size_t size) {
  uint64_t word_index = index / 8;
  size_t skip = static_cast<size_t>(index % 8);
  size_t done = 0;
  while (done < size) {
    uint64_t w = SplitMix64(seed ^ (word_index * 0xD6E8FEB86659FD93ull));
    uint8_t b[8];
    disk::StoreLe64(b, w);
    size_t n = std::min<size_t>(8 - skip, size - done);
    std::memcpy(out + done, b + skip, n);
    done += n;
    skip = 0;
    ++word_index;
  }
}

absl::StatusOr<std::vector<FabricServer>> LoadInventoryFile(const std::string& path) {
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  FabricInventoryFile file;
  absl::Status s = model::FromJson(text, &file);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not an inventory file {\"servers\":[{\"name\":...,\"inventory\":{...}}]}: ",
        s.message()));
  }
  if (file.servers().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": lists no servers"));
  }
  return std::vector<FabricServer>(file.servers().begin(), file.servers().end());
}

absl::StatusOr<std::vector<WriteLogRecord>> ReadWriteLog(const std::string& root) {
  std::string path = JoinPath(root, kLogFile);
  std::vector<WriteLogRecord> out;
  if (!PathExists(path)) return out;
  ASR_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  std::vector<WriteLogRecord> all;
  DecodeRecords(data, &all);
  // Acknowledgements mark their writes (which precede them) and go.
  std::map<uint64_t, size_t> write_at;  // seq -> index in `out`
  for (WriteLogRecord& r : all) {
    if (r.kind == WriteLogRecord::Kind::kAck) {
      auto it = write_at.find(r.seq);
      if (it != write_at.end()) out[it->second].acknowledged = true;
      continue;
    }
    if (r.kind == WriteLogRecord::Kind::kWrite) write_at[r.seq] = out.size();
    out.push_back(std::move(r));
  }
  return out;
}

// ---------------------------------------------------------------------------

SimulatedFabric::SimulatedFabric(std::string root, FabricState state)
    : root_(std::move(root)), writer_id_(RandomId()), state_(std::move(state)) {}

SimulatedFabric::~SimulatedFabric() {
  StopWorkload();
  CloseDisks().IgnoreError();
}

absl::StatusOr<std::unique_ptr<SimulatedFabric>> SimulatedFabric::Open(
    const std::string& root_arg) {
  ASR_ASSIGN_OR_RETURN(std::string root, Absolute(root_arg));
  std::string path = JoinPath(root, kStateFile);
  if (!PathExists(path)) {
    return absl::NotFoundError(absl::StrCat("no fabric in ", root, " (", kStateFile,
                                            " is missing): create one with `asrctl fabric init "
                                            "--dir ",
                                            root, " --example`"));
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(root, "locks")));
  std::unique_ptr<SimulatedFabric> f(new SimulatedFabric(root, FabricState()));
  {
    absl::MutexLock l(&f->mu_);
    ASR_RETURN_IF_ERROR(f->RefreshLocked());
  }
  {
    FileLock lock;
    ASR_RETURN_IF_ERROR(lock.Lock(JoinPath(root, kLogLock)));
    absl::MutexLock l(&f->log_mu_);
    ASR_RETURN_IF_ERROR(f->TailLogLocked(/*dispatch=*/false));
  }
  return f;
}

absl::StatusOr<std::unique_ptr<SimulatedFabric>> SimulatedFabric::Create(
    const std::string& root_arg, const std::vector<FabricServer>& servers,
    const FabricOptions& options) {
  ASR_ASSIGN_OR_RETURN(std::string root, Absolute(root_arg));
  ASR_RETURN_IF_ERROR(MakeDirectories(root));
  if (PathExists(JoinPath(root, kStateFile))) {
    return absl::AlreadyExistsError(
        absl::StrCat(root, " already holds a fabric; open it, or choose an empty directory"));
  }
  if (servers.empty()) return absl::InvalidArgumentError("a fabric needs at least one server");
  FabricState state;
  state.set_version(1);
  std::set<std::string> names, vm_ids, disk_paths;
  for (const FabricServer& in : servers) {
    if (in.name().empty() || !names.insert(in.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("server names must be non-empty and distinct ('", in.name(), "')"));
    }
    FabricServer& s = *state.add_servers();
    s = in;
    model::Inventory& inv = *s.mutable_inventory();
    if (inv.server_id().empty()) inv.set_server_id(s.name());
    for (model::StorageClassification& sc : *inv.mutable_storage_classifications()) {
      for (model::StorageTarget& t : *sc.mutable_targets()) {
        t.set_path(LocalPath(root, s.name(), "", t.path()));
        ASR_RETURN_IF_ERROR(MakeDirectories(t.path()));
      }
    }
    for (model::HyperVHost& h : *inv.mutable_hosts()) {
      if (h.default_storage_path().empty()) h.set_default_storage_path("Hyper-V");
      h.set_default_storage_path(LocalPath(root, s.name(), h.id(), h.default_storage_path()));
      ASR_RETURN_IF_ERROR(MakeDirectories(h.default_storage_path()));
    }
    for (model::VirtualMachine& vm : *inv.mutable_virtual_machines()) {
      if (!vm_ids.insert(vm.id()).second) {
        return absl::InvalidArgumentError(absl::StrCat("VM id '", vm.id(), "' appears twice"));
      }
      if (vm.power_state() == model::VM_POWER_STATE_UNSPECIFIED) {
        vm.set_power_state(model::STOPPED);
      }
      for (model::VirtualDisk& d : *vm.mutable_disks()) {
        std::string original = d.path().empty() ? vm.id() + "-" + d.id() + ".vhdx" : d.path();
        std::string local = d.storage_target_id().empty()
                                ? LocalPath(root, s.name(), vm.host_id(), original)
                                : LocalPath(root, s.name(), "", original);
        if (!disk_paths.insert(local).second) {
          return absl::InvalidArgumentError(
              absl::StrCat("disk '", d.id(), "' of VM '", vm.id(),
                           "' shares its file with another disk: ", original));
        }
        uint64_t size = options.disk_size_bytes;
        if (size == 0) {
          size = d.size_bytes() == 0 ? options.max_disk_size_bytes
                                     : std::min(d.size_bytes(), options.max_disk_size_bytes);
        }
        size = (size + kMiB - 1) / kMiB * kMiB;
        ASR_RETURN_IF_ERROR(MakeDirectories(DirName(local)));
        disk::CreateOptions co;
        co.format = absl::EndsWithIgnoreCase(local, ".vhd") ? disk::DiskFormat::kVhd
                                                            : disk::DiskFormat::kVhdx;
        co.type = disk::DiskType::kDynamic;
        co.virtual_size = size;
        if (co.format == disk::DiskFormat::kVhdx) co.block_size = options.block_size;
        ASR_ASSIGN_OR_RETURN(auto created, disk::CreateDisk(local, co));
        ASR_RETURN_IF_ERROR(created->Close());
        d.set_path(local);
        d.set_size_bytes(size);
      }
    }
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(root, "locks")));
  ASR_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(root, kStateFile), model::ToJson(state, true)));
  return Open(root);
}

absl::StatusOr<std::unique_ptr<SimulatedFabric>> CreateExampleFabric(const std::string& root,
                                                                     const FabricOptions& options) {
  std::vector<FabricServer> servers(2);
  servers[0].set_name("vmm-ny");
  *servers[0].mutable_inventory() = NewYorkInventory();
  servers[1].set_name("vmm-chi");
  *servers[1].mutable_inventory() = ChicagoInventory();
  return SimulatedFabric::Create(root, servers, options);
}

// ---- state ----

absl::Status SimulatedFabric::RefreshLocked() {
  std::string path = JoinPath(root_, kStateFile);
  ASR_ASSIGN_OR_RETURN(platform::FileInfo info, platform::Env::Default()->Stat(path));
  if (info.inode == state_inode_ && info.mtime_ns == state_mtime_ns_ && info.size == state_size_) {
    return absl::OkStatus();
  }
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  FabricState s;
  absl::Status st = model::FromJson(text, &s);
  if (!st.ok()) {
    return absl::DataLossError(absl::StrCat(path, " is damaged: ", st.message()));
  }
  state_ = std::move(s);
  state_inode_ = info.inode;
  state_mtime_ns_ = info.mtime_ns;
  state_size_ = info.size;
  return absl::OkStatus();
}

absl::Status SimulatedFabric::WriteStateLocked() {
  std::string path = JoinPath(root_, kStateFile);
  ASR_RETURN_IF_ERROR(WriteFileAtomically(path, model::ToJson(state_, true)));
  ASR_ASSIGN_OR_RETURN(platform::FileInfo info, platform::Env::Default()->Stat(path));
  state_inode_ = info.inode;
  state_mtime_ns_ = info.mtime_ns;
  state_size_ = info.size;
  return absl::OkStatus();
}

absl::Status SimulatedFabric::Mutate(const std::function<absl::Status(FabricState&)>& change) {
  FileLock lock;
  ASR_RETURN_IF_ERROR(lock.Lock(JoinPath(root_, kStateLock)));
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(RefreshLocked());
  FabricState next = state_;
  ASR_RETURN_IF_ERROR(change(next));
  state_ = std::move(next);
  return WriteStateLocked();
}

absl::StatusOr<FabricState> SimulatedFabric::State() {
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(RefreshLocked());
  return state_;
}

absl::Status SimulatedFabric::TakeInjected(const std::string& method) {
  absl::MutexLock l(&mu_);
  auto it = injected_.find(method);
  if (it == injected_.end()) return absl::OkStatus();
  absl::Status s = it->second.second;
  if (--it->second.first <= 0) injected_.erase(it);
  return s;
}

void SimulatedFabric::FailNextCalls(const std::string& method, int n, absl::Status status) {
  absl::MutexLock l(&mu_);
  if (n <= 0 || status.ok()) {
    injected_.erase(method);
  } else {
    injected_[method] = {n, std::move(status)};
  }
}

absl::StatusOr<model::VirtualMachine> SimulatedFabric::FindVmLocked(const std::string& vm_id,
                                                                    bool check_host) {
  ASR_RETURN_IF_ERROR(RefreshLocked());
  int server = 0;
  model::VirtualMachine* vm = FindVm(state_, vm_id, &server);
  if (vm == nullptr) return VmNotFound(vm_id);
  if (check_host) ASR_RETURN_IF_ERROR(HostDown(state_, vm->host_id()));
  model::VirtualMachine out = *vm;
  if (out.server_id().empty()) out.set_server_id(state_.servers(server).inventory().server_id());
  return out;
}

// ---- control-plane calls ----

absl::StatusOr<model::Inventory> SimulatedFabric::GetInventory(const model::VmmServer& server) {
  ASR_RETURN_IF_ERROR(TakeInjected("GetInventory"));
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(RefreshLocked());
  for (const std::string& key : {server.id(), server.friendly_name()}) {
    if (key.empty()) continue;
    for (const FabricServer& s : state_.servers()) {
      if (s.name() == key || s.inventory().server_id() == key) return s.inventory();
    }
  }
  return absl::UnavailableError(
      absl::StrCat("VMM server '", server.friendly_name(), "' did not answer"));
}

absl::Status SimulatedFabric::ConfigureHost(const model::HyperVHost& host,
                                            const model::ReplicationPolicy& policy, HostRole role) {
  ASR_RETURN_IF_ERROR(TakeInjected("ConfigureHost"));
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(RefreshLocked());
    ASR_RETURN_IF_ERROR(HostDown(state_, host.id()));
  }
  return SimulatedHost::ConfigureHost(host, policy, role);
}

// ---- VMs ----

absl::StatusOr<model::VirtualMachine> SimulatedFabric::GetVm(const std::string& vm_id) {
  ASR_RETURN_IF_ERROR(TakeInjected("GetVm"));
  absl::MutexLock l(&mu_);
  return FindVmLocked(vm_id);
}

absl::StatusOr<model::VmPowerState> SimulatedFabric::GetPowerState(const std::string& vm_id) {
  ASR_RETURN_IF_ERROR(TakeInjected("GetPowerState"));
  absl::MutexLock l(&mu_);
  ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVmLocked(vm_id));
  return vm.power_state() == model::VM_POWER_STATE_UNSPECIFIED ? model::STOPPED : vm.power_state();
}

absl::StatusOr<model::VirtualMachine> SimulatedFabric::CreateReplicaVm(
    const model::ReplicaVmSpec& spec) {
  ASR_RETURN_IF_ERROR(TakeInjected("CreateReplicaVm"));
  ASR_RETURN_IF_ERROR(CheckReplicaVmSpec(spec));
  model::VirtualMachine result;
  ASR_RETURN_IF_ERROR(Mutate([&](FabricState& s) -> absl::Status {
    int server = 0;
    const model::HyperVHost* host = FindHost(s, spec.host_id(), &server);
    if (host == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", spec.host_id(),
                                              "' in the fabric for replica VM '",
                                              spec.replica_vm_id(), "'"));
    }
    ASR_RETURN_IF_ERROR(HostDown(s, spec.host_id()));
    if (model::VirtualMachine* existing = FindVm(s, spec.replica_vm_id())) {
      ASR_RETURN_IF_ERROR(SameReplicaVm(*existing, spec));
      result = *existing;
      return absl::OkStatus();
    }
    model::Inventory& inv = *s.mutable_servers(server)->mutable_inventory();
    model::VirtualMachine& vm = *inv.add_virtual_machines();
    vm.set_id(spec.replica_vm_id());
    vm.set_name(spec.name().empty() ? spec.replica_vm_id() : spec.name());
    vm.set_server_id(inv.server_id());
    vm.set_host_id(spec.host_id());
    for (const model::Cloud& c : inv.clouds()) {
      for (const std::string& g : c.host_group_ids()) {
        if (g == host->host_group_id()) vm.set_cloud_id(c.id());
      }
    }
    *vm.mutable_disks() = spec.disks();
    *vm.mutable_network_adapters() = spec.network_adapters();
    vm.set_power_state(model::STOPPED);
    result = vm;
    return absl::OkStatus();
  }));
  return result;
}

namespace {

// "a.b.c.d" as a number; false when it is not an IPv4 address.
bool ParseIpv4(absl::string_view text, uint32_t* out) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return false;
  uint32_t v = 0;
  for (absl::string_view p : parts) {
    uint32_t octet = 0;
    if (!absl::SimpleAtoi(p, &octet) || octet > 255) return false;
    v = (v << 8) | octet;
  }
  *out = v;
  return true;
}

std::string Ipv4Text(uint32_t v) {
  return absl::StrCat(v >> 24, ".", (v >> 16) & 255, ".", (v >> 8) & 255, ".", v & 255);
}

// A free address of `prefix` ("10.1.1.0/24") for NIC `nic` among the
// server's VMs: `wanted` when it lies in the prefix and is free, else the
// lowest free one from .10 (VMM's pools leave the first addresses to
// routers); "" when the prefix is not IPv4 or the subnet is full.
std::string FreeAddress(const model::Inventory& inv, const model::NetworkAdapter& nic,
                        const std::string& prefix, const std::string& wanted) {
  std::vector<absl::string_view> parts = absl::StrSplit(prefix, '/');
  uint32_t base = 0;
  int bits = 0;
  if (parts.size() != 2 || !ParseIpv4(parts[0], &base) || !absl::SimpleAtoi(parts[1], &bits) ||
      bits < 8 || bits > 30) {
    return "";
  }
  const uint32_t mask = ~uint32_t{0} << (32 - bits);
  base &= mask;
  const uint32_t last = base | ~mask;  // the broadcast address
  std::set<uint32_t> used;
  for (const model::VirtualMachine& v : inv.virtual_machines()) {
    for (const model::NetworkAdapter& a : v.network_adapters()) {
      uint32_t ip = 0;
      if (&a != &nic && ParseIpv4(a.ip_address(), &ip)) used.insert(ip);
    }
  }
  uint32_t w = 0;
  if (ParseIpv4(wanted, &w) && (w & mask) == base && w > base && w < last && !used.count(w)) {
    return Ipv4Text(w);
  }
  for (uint32_t ip = base + std::min<uint32_t>(10, last - base - 1); ip < last; ++ip) {
    if (!used.count(ip)) return Ipv4Text(ip);
  }
  return "";
}

}  // namespace

absl::Status SimulatedFabric::ConnectNic(const std::string& vm_id,
                                         const model::NetworkAdapter& nic) {
  ASR_RETURN_IF_ERROR(TakeInjected("ConnectNic"));
  return Mutate([&](FabricState& s) -> absl::Status {
    int server = 0;
    model::VirtualMachine* vm = FindVm(s, vm_id, &server);
    if (vm == nullptr) return VmNotFound(vm_id);
    ASR_RETURN_IF_ERROR(HostDown(s, vm->host_id()));
    std::string prefix;  // the subnet's, e.g. "172.16.1.0/24"
    std::string subnet_name = nic.subnet_name();
    if (!nic.vm_network_id().empty()) {
      const model::VmNetwork* net = nullptr;
      for (const model::VmNetwork& n : s.servers(server).inventory().vm_networks()) {
        if (n.id() == nic.vm_network_id()) net = &n;
      }
      if (net == nullptr) {
        return absl::NotFoundError(absl::StrCat("no VM network '", nic.vm_network_id(),
                                                "' on server ", s.servers(server).name(),
                                                " for VM '", vm_id, "'"));
      }
      // No subnet named: the network's first subnet (VMM's fallback).
      if (subnet_name.empty() && net->subnets_size() > 0) subnet_name = net->subnets(0).name();
      bool subnet = subnet_name.empty();
      for (const model::Subnet& sn : net->subnets()) {
        if (sn.name() != subnet_name) continue;
        subnet = true;
        prefix = sn.address_prefix();
      }
      if (!subnet) {
        return absl::NotFoundError(
            absl::StrCat("VM network '", net->name(), "' has no subnet '", subnet_name, "'"));
      }
    }
    for (model::NetworkAdapter& a : *vm->mutable_network_adapters()) {
      if (a.id() != nic.id()) continue;
      const bool same = a.vm_network_id() == nic.vm_network_id() &&
                        a.subnet_name() == subnet_name && !a.ip_address().empty();
      a.set_vm_network_id(nic.vm_network_id());
      a.set_subnet_name(nic.vm_network_id().empty() ? "" : subnet_name);
      // VMM's static IP pool: a NIC that joins a subnet gets a free address
      // of its prefix (one it asks for when that is free), keeps it while it
      // stays there, and gives it back when it leaves.
      if (same) return absl::OkStatus();
      a.clear_ip_address();
      if (!prefix.empty())
        a.set_ip_address(FreeAddress(s.servers(server).inventory(), a, prefix, nic.ip_address()));
      return absl::OkStatus();
    }
    return absl::NotFoundError(
        absl::StrCat("VM '", vm_id, "' has no network adapter '", nic.id(), "'"));
  });
}

absl::StatusOr<std::string> SimulatedFabric::CreateIsolatedNetwork(const std::string& host_id,
                                                                   const std::string& name) {
  ASR_RETURN_IF_ERROR(TakeInjected("CreateIsolatedNetwork"));
  if (name.empty()) return absl::InvalidArgumentError("an isolated network needs a name");
  const std::string id = absl::StrCat("isolated-", name);
  ASR_RETURN_IF_ERROR(Mutate([&](FabricState& s) -> absl::Status {
    int server = 0;
    if (FindHost(s, host_id, &server) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no host '", host_id, "' in the fabric for isolated network '", name, "'"));
    }
    ASR_RETURN_IF_ERROR(HostDown(s, host_id));
    model::Inventory& inv = *s.mutable_servers(server)->mutable_inventory();
    for (const model::VmNetwork& n : inv.vm_networks()) {
      if (n.id() == id) return absl::OkStatus();
    }
    model::VmNetwork& n = *inv.add_vm_networks();
    n.set_id(id);
    n.set_name(absl::StrCat(name, " (isolated)"));
    n.set_server_id(inv.server_id());
    return absl::OkStatus();
  }));
  return id;
}

absl::Status SimulatedFabric::DeleteIsolatedNetwork(const std::string& host_id,
                                                    const std::string& network_id) {
  ASR_RETURN_IF_ERROR(TakeInjected("DeleteIsolatedNetwork"));
  return Mutate([&](FabricState& s) -> absl::Status {
    int server = 0;
    if (FindHost(s, host_id, &server) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", host_id, "' in the fabric"));
    }
    ASR_RETURN_IF_ERROR(HostDown(s, host_id));
    model::Inventory& inv = *s.mutable_servers(server)->mutable_inventory();
    for (const model::VirtualMachine& vm : inv.virtual_machines()) {
      for (const model::NetworkAdapter& a : vm.network_adapters()) {
        if (a.vm_network_id() == network_id) {
          return absl::FailedPreconditionError(
              absl::StrCat("network '", network_id, "' is still connected to VM '", vm.id(),
                           "'; delete the VM or disconnect its NIC first"));
        }
      }
    }
    auto* nets = inv.mutable_vm_networks();
    for (int i = 0; i < nets->size(); ++i) {
      if (nets->Get(i).id() == network_id) {
        nets->DeleteSubrange(i, 1);
        break;
      }
    }
    return absl::OkStatus();
  });
}

absl::Status SimulatedFabric::SetPower(const std::string& vm_id, model::VmPowerState power,
                                       const char* method) {
  ASR_RETURN_IF_ERROR(TakeInjected(method));
  model::VirtualMachine vm;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(vm, FindVmLocked(vm_id));
    if (power == model::RUNNING) {
      for (const std::string& id : state_.faults().vms_not_starting()) {
        if (id == vm_id) {
          return absl::InternalError(absl::StrCat(
              "VM '", vm_id, "' did not start: host ", vm.host_id(),
              " reports that the virtual machine failed to initialize (injected fault)"));
        }
      }
      for (const model::VirtualDisk& d : vm.disks()) {
        if (!PathExists(d.path())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "VM '", vm_id, "' cannot start: its disk file '", d.path(), "' is missing"));
        }
      }
    } else if (frozen_.count(vm_id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", vm_id, "' has a point held; release it before stopping the VM"));
    }
  }
  if (vm.power_state() == power) return absl::OkStatus();
  // Wait for guest writes in flight (in any process) and keep new ones out.
  FileLock freeze;
  if (power != model::RUNNING) ASR_RETURN_IF_ERROR(freeze.Lock(FreezeLockPath(root_, vm_id)));
  ASR_RETURN_IF_ERROR(Mutate([&](FabricState& s) -> absl::Status {
    model::VirtualMachine* v = FindVm(s, vm_id);
    if (v == nullptr) return VmNotFound(vm_id);
    v->set_power_state(power);
    return absl::OkStatus();
  }));
  if (power != model::RUNNING) return CloseVmDisks(vm_id);
  return absl::OkStatus();
}

absl::Status SimulatedFabric::StartVm(const std::string& vm_id) {
  return SetPower(vm_id, model::RUNNING, "StartVm");
}
absl::Status SimulatedFabric::ShutdownVm(const std::string& vm_id) {
  return SetPower(vm_id, model::STOPPED, "ShutdownVm");
}
absl::Status SimulatedFabric::TurnOffVm(const std::string& vm_id) {
  return SetPower(vm_id, model::STOPPED, "TurnOffVm");
}

absl::Status SimulatedFabric::DeleteVm(const std::string& vm_id, bool delete_disks) {
  ASR_RETURN_IF_ERROR(TakeInjected("DeleteVm"));
  model::VirtualMachine vm;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(vm, FindVmLocked(vm_id));
    if (vm.power_state() == model::RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "VM '", vm_id, "' is running; shut it down or turn it off before deleting it"));
    }
    if (frozen_.count(vm_id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", vm_id, "' has a point held; release it before deleting the VM"));
    }
  }
  FileLock freeze;
  ASR_RETURN_IF_ERROR(freeze.Lock(FreezeLockPath(root_, vm_id)));
  ASR_RETURN_IF_ERROR(CloseVmDisks(vm_id));
  {
    absl::WriterMutexLock l(&sink_mu_);
    for (auto it = sinks_.begin(); it != sinks_.end();) {
      it = it->first.first == vm_id ? sinks_.erase(it) : std::next(it);
    }
  }
  ASR_RETURN_IF_ERROR(Mutate([&](FabricState& s) -> absl::Status {
    for (FabricServer& server : *s.mutable_servers()) {
      auto* vms = server.mutable_inventory()->mutable_virtual_machines();
      for (int i = 0; i < vms->size(); ++i) {
        if (vms->Get(i).id() == vm_id) {
          vms->DeleteSubrange(i, 1);
          return absl::OkStatus();
        }
      }
    }
    return VmNotFound(vm_id);
  }));
  if (delete_disks) {
    for (const model::VirtualDisk& d : vm.disks()) {
      absl::Status s = platform::Env::Default()->Unlink(d.path());
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
  }
  return absl::OkStatus();
}

// ---- points ----

absl::StatusOr<model::HostPoint> SimulatedFabric::CreatePoint(const std::string& vm_id,
                                                              model::RecoveryPointType type) {
  ASR_RETURN_IF_ERROR(TakeInjected("CreatePoint"));
  model::VirtualMachine vm;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(vm, FindVmLocked(vm_id));
    for (const std::string& id : state_.faults().point_failures()) {
      if (id == vm_id || id == "*") {
        return absl::InternalError(absl::StrCat(
            "taking a ",
            type == model::AppConsistent ? "application-consistent" : "crash-consistent",
            " point of VM '", vm_id, "' failed: host ", vm.host_id(),
            " reports that the snapshot (VSS) could not be created (injected fault)"));
      }
    }
    auto it = frozen_.find(vm_id);
    if (it != frozen_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a point of VM '", vm_id, "' is already held (",
          it->second.empty() ? "being taken" : "id " + it->second, "); release it first"));
    }
    frozen_[vm_id] = "";
  }
  auto held = std::make_unique<HeldPoint>();
  held->vm_id = vm_id;
  auto undo = [&](absl::Status s) {
    absl::MutexLock l(&mu_);
    frozen_.erase(vm_id);
    return s;
  };
  absl::Status s = held->freeze.Lock(FreezeLockPath(root_, vm_id));
  if (!s.ok()) return undo(s);
  // No guest write of this VM is in flight now, in any process: make this
  // process's writes visible to an independent reader.
  std::vector<std::shared_ptr<OpenGuestDisk>> open;
  {
    absl::MutexLock l(&disks_mu_);
    for (auto& [key, d] : disks_) {
      if (key.first == vm_id) open.push_back(d);
    }
  }
  for (auto& d : open) {
    absl::MutexLock l(&d->mu);
    if (d->disk) {
      s = d->disk->Flush();
      if (!s.ok()) return undo(s);
    }
  }
  WriteLogRecord marker;
  marker.kind = WriteLogRecord::Kind::kPoint;
  marker.vm_id = vm_id;
  absl::StatusOr<WriteLogRecord> rec =
      AppendLog(marker);  // also hands other processes' writes to the sinks
  if (!rec.ok()) return undo(rec.status());
  model::HostPoint point;
  point.set_id(std::to_string(rec->point));
  point.set_vm_id(vm_id);
  point.set_type(type);
  point.set_time_us(rec->time_us);
  for (const model::VirtualDisk& d : vm.disks()) {
    model::HostPointDisk* pd = point.add_disks();
    pd->set_disk_id(d.id());
    pd->set_read_path(d.path());
  }
  absl::MutexLock l(&mu_);
  frozen_[vm_id] = point.id();
  points_[point.id()] = std::move(held);
  return point;
}

absl::Status SimulatedFabric::ReleasePoint(const model::HostPoint& point) {
  ASR_RETURN_IF_ERROR(TakeInjected("ReleasePoint"));
  std::unique_ptr<HeldPoint> held;
  {
    absl::MutexLock l(&mu_);
    auto it = points_.find(point.id());
    if (it == points_.end()) {
      return absl::NotFoundError(absl::StrCat("point '", point.id(), "' of VM '", point.vm_id(),
                                              "' is not held by this process"));
    }
    held = std::move(it->second);
    points_.erase(it);
    frozen_.erase(held->vm_id);
  }
  held->freeze.Release();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<model::HostPoint>> SimulatedFabric::CreateGroupPoint(
    const std::vector<std::string>& vm_ids, model::RecoveryPointType type) {
  ASR_RETURN_IF_ERROR(TakeInjected("CreateGroupPoint"));
  if (vm_ids.empty()) {
    return absl::InvalidArgumentError("a group point needs at least one VM");
  }
  std::set<std::string> order(vm_ids.begin(), vm_ids.end());
  if (order.size() != vm_ids.size()) {
    return absl::InvalidArgumentError("a group point names a VM twice; name each VM once");
  }
  std::map<std::string, model::VirtualMachine> vms;
  {
    absl::MutexLock l(&mu_);
    for (const std::string& vm_id : order) {
      ASR_ASSIGN_OR_RETURN(vms[vm_id], FindVmLocked(vm_id));
      for (const std::string& id : state_.faults().point_failures()) {
        if (id == vm_id || id == "*") {
          return absl::InternalError(absl::StrCat("taking a group point of ", vm_ids.size(),
                                                  " VMs failed: host ", vms[vm_id].host_id(),
                                                  " reports that the snapshot (VSS) of VM '", vm_id,
                                                  "' could not be created (injected fault)"));
        }
      }
      auto it = frozen_.find(vm_id);
      if (it != frozen_.end()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "a point of VM '", vm_id, "' is already held (",
            it->second.empty() ? "being taken" : "id " + it->second, "); release it first"));
      }
    }
    for (const std::string& vm_id : order) frozen_[vm_id] = "";
  }
  std::map<std::string, std::unique_ptr<HeldPoint>> held;
  auto undo = [&](absl::Status s) {
    for (auto& [id, h] : held) h->freeze.Release();
    absl::MutexLock l(&mu_);
    for (const std::string& vm_id : order) frozen_.erase(vm_id);
    return s;
  };
  // 1. Freeze every VM: from here no guest write of any member is in flight.
  for (const std::string& vm_id : order) {
    auto h = std::make_unique<HeldPoint>();
    h->vm_id = vm_id;
    absl::Status s = h->freeze.Lock(FreezeLockPath(root_, vm_id));
    if (!s.ok()) return undo(s);
    held[vm_id] = std::move(h);
  }
  // 2. Flush and mark each VM's point.
  std::map<std::string, model::HostPoint> points;
  int64_t instant = 0;
  for (const std::string& vm_id : order) {
    std::vector<std::shared_ptr<OpenGuestDisk>> open;
    {
      absl::MutexLock l(&disks_mu_);
      for (auto& [key, d] : disks_) {
        if (key.first == vm_id) open.push_back(d);
      }
    }
    for (auto& d : open) {
      absl::MutexLock l(&d->mu);
      if (d->disk) {
        absl::Status s = d->disk->Flush();
        if (!s.ok()) return undo(s);
      }
    }
    WriteLogRecord marker;
    marker.kind = WriteLogRecord::Kind::kPoint;
    marker.vm_id = vm_id;
    absl::StatusOr<WriteLogRecord> rec = AppendLog(marker);
    if (!rec.ok()) return undo(rec.status());
    model::HostPoint& point = points[vm_id];
    point.set_id(std::to_string(rec->point));
    point.set_vm_id(vm_id);
    point.set_type(type);
    for (const model::VirtualDisk& d : vms[vm_id].disks()) {
      model::HostPointDisk* pd = point.add_disks();
      pd->set_disk_id(d.id());
      pd->set_read_path(d.path());
    }
    instant = std::max(instant, rec->time_us);
  }
  // 3. One instant for all: every VM was frozen at the last marker's time.
  std::vector<model::HostPoint> out;
  absl::MutexLock l(&mu_);
  for (const std::string& vm_id : vm_ids) {
    model::HostPoint& p = points[vm_id];
    p.set_time_us(instant);
    frozen_[vm_id] = p.id();
    points_[p.id()] = std::move(held[vm_id]);
    out.push_back(p);
  }
  return out;
}

// ---- scripts ----

absl::StatusOr<model::ScriptResult> SimulatedFabric::RunScript(
    const model::ScriptRequest& request) {
  ASR_RETURN_IF_ERROR(TakeInjected("RunScript"));
  FabricFaults faults;
  {
    absl::MutexLock l(&mu_);
    ASR_RETURN_IF_ERROR(RefreshLocked());
    if (FindHost(state_, request.host_id()) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no host '", request.host_id(), "' in the fabric to run ", request.path()));
    }
    ASR_RETURN_IF_ERROR(HostDown(state_, request.host_id()));
    faults = state_.faults();
  }
  int timeout_s = request.timeout_seconds() > 0 ? request.timeout_seconds() : 300;
  model::ScriptResult result;
  if (faults.scripts_hang()) {
    platform::Sleep(absl::Seconds(timeout_s));
    result.set_exit_code(-1);
    result.set_timed_out(true);
    result.set_output(
        absl::StrCat(request.path(), " hung (injected fault); killed after ", timeout_s, " s\n"));
    return result;
  }
  if (faults.script_exit_code() != 0) {
    result.set_exit_code(faults.script_exit_code());
    result.set_output(absl::StrCat(request.path(), " failed with exit code ",
                                   faults.script_exit_code(), " (injected fault)\n"));
    return result;
  }
  platform::RunProcessOptions o;
  o.timeout = absl::Seconds(timeout_s);
  o.output_limit = 64 * 1024;
  o.environment.insert(request.environment().begin(), request.environment().end());
  std::vector<std::string> args(request.arguments().begin(), request.arguments().end());
  absl::StatusOr<platform::ProcessResult> r = platform::RunProcess(request.path(), args, o);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("host ", request.host_id(), ": ", r.status().message()));
  }
  result.set_exit_code(r->exit_code);
  result.set_timed_out(r->timed_out);
  result.set_output(std::move(r->output));
  return result;
}

// ---- change tracking ----

absl::Status SimulatedFabric::AttachChangeTracking(const std::string& vm_id,
                                                   const std::string& disk_id, WriteSink* sink) {
  ASR_RETURN_IF_ERROR(TakeInjected("AttachChangeTracking"));
  if (sink == nullptr) return absl::InvalidArgumentError("AttachChangeTracking needs a sink");
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVmLocked(vm_id));
    bool found = false;
    for (const model::VirtualDisk& d : vm.disks()) found |= d.id() == disk_id;
    if (!found) {
      return absl::NotFoundError(absl::StrCat("VM '", vm_id, "' has no disk '", disk_id, "'"));
    }
  }
  absl::WriterMutexLock l(&sink_mu_);
  sinks_[{vm_id, disk_id}] = sink;
  return absl::OkStatus();
}

absl::Status SimulatedFabric::DetachChangeTracking(const std::string& vm_id,
                                                   const std::string& disk_id) {
  absl::WriterMutexLock l(&sink_mu_);
  sinks_.erase({vm_id, disk_id});
  return absl::OkStatus();
}

// ---- write log ----

absl::Status SimulatedFabric::TailLogLocked(bool dispatch) {
  ASR_ASSIGN_OR_RETURN(auto file, OpenLog(root_));
  ASR_ASSIGN_OR_RETURN(platform::FileInfo info, file->Stat());
  if (info.size <= log_end_) return absl::OkStatus();
  ASR_ASSIGN_OR_RETURN(std::string data, ReadRange(*file, log_end_, info.size));
  std::vector<WriteLogRecord> records;
  log_end_ += DecodeRecords(data, &records);
  absl::Status first_error;
  for (const WriteLogRecord& r : records) {
    last_seq_ = std::max(last_seq_, r.seq);
    if (r.kind == WriteLogRecord::Kind::kPoint) last_point_ = std::max(last_point_, r.point);
    if (dispatch && r.kind == WriteLogRecord::Kind::kWrite && r.writer != writer_id_) {
      absl::ReaderMutexLock l(&sink_mu_);
      auto it = sinks_.find({r.vm_id, r.disk_id});
      if (it != sinks_.end()) {
        absl::Status s = it->second->RecordWrite(r.offset, r.length);
        if (first_error.ok()) first_error = s;
      }
    }
  }
  return first_error;
}

absl::StatusOr<WriteLogRecord> SimulatedFabric::AppendLog(WriteLogRecord record) {
  FileLock lock;
  ASR_RETURN_IF_ERROR(lock.Lock(JoinPath(root_, kLogLock)));
  absl::MutexLock l(&log_mu_);
  absl::Status tail = TailLogLocked(/*dispatch=*/true);
  ASR_ASSIGN_OR_RETURN(auto file, OpenLog(root_));
  ASR_ASSIGN_OR_RETURN(platform::FileInfo info, file->Stat());
  if (info.size > log_end_) ASR_RETURN_IF_ERROR(file->Truncate(log_end_));  // a torn tail
  // An acknowledgement keeps its write's seq and takes none of its own.
  const bool ack = record.kind == WriteLogRecord::Kind::kAck;
  if (!ack) record.seq = last_seq_ + 1;
  record.time_us = NowMicros();
  record.writer = writer_id_;
  if (record.kind == WriteLogRecord::Kind::kPoint) record.point = last_point_ + 1;
  std::string bytes = EncodeRecord(record);
  ASR_RETURN_IF_ERROR(platform::WriteFully(*file, log_end_, bytes.data(), bytes.size()));
  log_end_ += bytes.size();
  if (!ack) last_seq_ = record.seq;
  if (record.kind == WriteLogRecord::Kind::kPoint) last_point_ = record.point;
  if (!tail.ok()) {
    return absl::Status(tail.code(),
                        absl::StrCat("a change tracker refused a write logged by another "
                                     "process: ",
                                     tail.message()));
  }
  return record;
}

absl::Status SimulatedFabric::CatchUpWriteLog() {
  FileLock lock;
  ASR_RETURN_IF_ERROR(lock.Lock(JoinPath(root_, kLogLock)));
  absl::MutexLock l(&log_mu_);
  return TailLogLocked(/*dispatch=*/true);
}

// ---- guest writes ----

absl::StatusOr<std::shared_ptr<SimulatedFabric::OpenGuestDisk>> SimulatedFabric::GuestDisk(
    const std::string& vm_id, const model::VirtualDisk& d) {
  absl::MutexLock l(&disks_mu_);
  auto key = std::make_pair(vm_id, d.id());
  auto it = disks_.find(key);
  if (it != disks_.end()) return it->second;
  auto g = std::make_shared<OpenGuestDisk>();
  std::string lock_path =
      JoinPath(JoinPath(root_, "locks"),
               SanitizeComponent(vm_id) + "." + SanitizeComponent(d.id()) + ".writer");
  absl::Status s = g->writer.TryLock(lock_path);
  if (absl::IsFailedPrecondition(s)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "disk '", d.id(), "' of VM '", vm_id, "' is open for guest writes in another process (",
        lock_path, " is locked); stop that workload first"));
  }
  ASR_RETURN_IF_ERROR(s);
  absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> opened =
      disk::OpenDisk(d.path(), disk::OpenMode::kReadWrite);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(), absl::StrCat("disk '", d.id(), "' of VM '", vm_id,
                                                             "': ", opened.status().message()));
  }
  {
    absl::MutexLock dl(&g->mu);
    g->disk = *std::move(opened);
  }
  disks_[key] = g;
  return g;
}

absl::Status SimulatedFabric::CloseVmDisks(const std::string& vm_id) {
  std::vector<std::shared_ptr<OpenGuestDisk>> closing;
  {
    absl::MutexLock l(&disks_mu_);
    for (auto it = disks_.begin(); it != disks_.end();) {
      if (vm_id.empty() || it->first.first == vm_id) {
        closing.push_back(it->second);
        it = disks_.erase(it);
      } else {
        ++it;
      }
    }
  }
  absl::Status first;
  for (auto& g : closing) {
    absl::MutexLock l(&g->mu);
    if (!g->disk) continue;
    absl::Status s = g->disk->Close();
    if (first.ok()) first = s;
    g->disk.reset();
    g->writer.Release();
  }
  return first;
}

absl::Status SimulatedFabric::CloseDisks() { return CloseVmDisks(""); }

absl::Status SimulatedFabric::WaitWhileFrozen(const std::string& vm_id,
                                              const std::atomic<bool>* stop) {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (!frozen_.count(vm_id)) return absl::OkStatus();
    }
    if (stop != nullptr && stop->load()) {
      return absl::CancelledError("the workload stopped while a point was held");
    }
    platform::Sleep(absl::Milliseconds(1));
  }
}

absl::Status SimulatedFabric::GuestWrite(const std::string& vm_id, const std::string& disk_id,
                                         uint64_t offset, uint64_t length, uint64_t seed) {
  return DoGuestWrite(vm_id, disk_id, offset, length, seed, nullptr);
}

absl::Status SimulatedFabric::DoGuestWrite(const std::string& vm_id, const std::string& disk_id,
                                           uint64_t offset, uint64_t length, uint64_t seed,
                                           const std::atomic<bool>* stop) {
  if (length == 0 || length > (64u << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a guest write is 1 byte to 64 MiB long, not ", length));
  }
  model::VirtualDisk d;
  {
    absl::MutexLock l(&mu_);
    ASR_ASSIGN_OR_RETURN(model::VirtualMachine vm, FindVmLocked(vm_id, /*check_host=*/false));
    if (vm.power_state() != model::RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "VM '", vm_id, "' is not running (", PowerName(vm.power_state()), "): start it first"));
    }
    bool found = false;
    for (const model::VirtualDisk& x : vm.disks()) {
      if (x.id() == disk_id) {
        d = x;
        found = true;
      }
    }
    if (!found) {
      return absl::NotFoundError(absl::StrCat("VM '", vm_id, "' has no disk '", disk_id, "'"));
    }
  }
  if (offset > d.size_bytes() || length > d.size_bytes() - offset) {
    return absl::OutOfRangeError(absl::StrCat("a write of ", length, " bytes at ", offset,
                                              " lies past the end of disk '", disk_id, "' (",
                                              d.size_bytes(), " bytes)"));
  }
  ASR_RETURN_IF_ERROR(WaitWhileFrozen(vm_id, stop));
  FileLock freeze;
  ASR_RETURN_IF_ERROR(freeze.LockShared(FreezeLockPath(root_, vm_id)));

  std::vector<uint8_t> data(length);
  GuestData(seed, 0, data.data(), data.size());
  {
    absl::ReaderMutexLock l(&sink_mu_);
    auto it = sinks_.find({vm_id, disk_id});
    if (it != sinks_.end()) {
      absl::Status s = it->second->RecordWrite(offset, length);
      if (!s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("the change tracker of disk '", disk_id, "' of VM '", vm_id,
                                   "' refused the write: ", s.message()));
      }
    }
  }
  WriteLogRecord rec;
  rec.kind = WriteLogRecord::Kind::kWrite;
  rec.vm_id = vm_id;
  rec.disk_id = disk_id;
  rec.offset = offset;
  rec.length = length;
  rec.data_seed = seed;
  rec.data_crc = Crc32c(data.data(), data.size());
  ASR_ASSIGN_OR_RETURN(WriteLogRecord logged, AppendLog(rec));
  ASR_RETURN_IF_ERROR(TakeInjected("GuestDiskWrite"));
  ASR_RETURN_IF_ERROR(WriteGuestData(vm_id, d, offset, absl::MakeConstSpan(data)));
  // Only now is the write complete: while the freeze lock is still held
  // shared, so a point's marker never falls between the two records.
  WriteLogRecord done;
  done.kind = WriteLogRecord::Kind::kAck;
  done.seq = logged.seq;
  done.vm_id = vm_id;
  done.disk_id = disk_id;
  return AppendLog(done).status();
}

absl::Status SimulatedFabric::WriteGuestData(const std::string& vm_id, const model::VirtualDisk& d,
                                             uint64_t offset, absl::Span<const uint8_t> data) {
  const std::string& disk_id = d.id();
  const uint64_t length = data.size();
  for (int attempt = 0;; ++attempt) {
    ASR_ASSIGN_OR_RETURN(std::shared_ptr<OpenGuestDisk> g, GuestDisk(vm_id, d));
    absl::MutexLock l(&g->mu);
    if (!g->disk) {
      if (attempt < 2) continue;  // closed meanwhile: open again
      return absl::AbortedError(absl::StrCat("disk '", disk_id, "' was closed during a write"));
    }
    ASR_ASSIGN_OR_RETURN(std::vector<disk::Extent> before,
                         g->disk->GetAllocationMap(offset, length));
    ASR_RETURN_IF_ERROR(g->disk->WriteAt(offset, data));
    bool allocated = std::any_of(before.begin(), before.end(), [](const disk::Extent& e) {
      return e.state != disk::ExtentState::kPresent;
    });
    // New blocks changed the disk's metadata (BAT): write it out so that an
    // independent reader sees them. Data into present blocks is in the file
    // already.
    if (allocated) ASR_RETURN_IF_ERROR(g->disk->Flush());
    return absl::OkStatus();
  }
}

// ---- workload ----

absl::Status SimulatedFabric::StartWorkload(const WorkloadOptions& options) {
  if (!(options.writes_per_second > 0) || options.min_write_bytes == 0 ||
      options.min_write_bytes > options.max_write_bytes || options.threads < 1) {
    return absl::InvalidArgumentError(
        "workload: writes_per_second > 0, 0 < min_write_bytes <= max_write_bytes, threads >= 1");
  }
  absl::MutexLock l(&workload_mu_);
  if (!workers_.empty()) return absl::FailedPreconditionError("the workload is running already");
  stop_workload_ = false;
  stats_ = WorkloadStats();
  for (int i = 0; i < options.threads; ++i) {
    workers_.emplace_back([this, i, options] { WorkloadThread(i, options); });
  }
  return absl::OkStatus();
}

WorkloadStats SimulatedFabric::StopWorkload() {
  std::vector<std::thread> workers;
  {
    absl::MutexLock l(&workload_mu_);
    workers.swap(workers_);
  }
  if (!workers.empty()) {
    stop_workload_ = true;
    for (std::thread& t : workers) t.join();
    CloseDisks().IgnoreError();
    if (auto f = OpenLog(root_); f.ok()) (*f)->DataSync().IgnoreError();
  }
  return workload_stats();
}

WorkloadStats SimulatedFabric::workload_stats() const {
  absl::MutexLock l(&workload_mu_);
  return stats_;
}

void SimulatedFabric::WorkloadThread(int index, WorkloadOptions options) {
  std::mt19937_64 rng(SplitMix64(options.seed) + static_cast<uint64_t>(index));
  const absl::Duration interval = absl::Seconds(1.0 / options.writes_per_second);
  struct Target {
    std::vector<std::pair<std::string, uint64_t>> disks;  // id, size
    absl::Time due;
  };
  std::map<std::string, Target> targets;
  absl::Time next_refresh = absl::InfinitePast();
  while (!stop_workload_.load()) {
    absl::Time now = absl::Now();
    if (now >= next_refresh) {
      next_refresh = now + absl::Milliseconds(500);
      absl::MutexLock l(&mu_);
      if (RefreshLocked().ok()) {
        std::map<std::string, Target> next;
        for (const FabricServer& s : state_.servers()) {
          for (const model::VirtualMachine& vm : s.inventory().virtual_machines()) {
            if (vm.power_state() != model::RUNNING || vm.disks().empty()) continue;
            if (!options.vms.empty() && !options.vms.count(vm.id())) continue;
            if (std::hash<std::string>()(vm.id()) % static_cast<size_t>(options.threads) !=
                static_cast<size_t>(index)) {
              continue;
            }
            Target t;
            for (const model::VirtualDisk& d : vm.disks())
              t.disks.emplace_back(d.id(), d.size_bytes());
            auto old = targets.find(vm.id());
            t.due = old != targets.end()
                        ? old->second.due
                        : now + interval * std::uniform_real_distribution<double>(0, 1)(rng);
            next[vm.id()] = std::move(t);
          }
        }
        targets.swap(next);
      }
    }
    auto first = targets.end();
    for (auto it = targets.begin(); it != targets.end(); ++it) {
      if (first == targets.end() || it->second.due < first->second.due) first = it;
    }
    absl::Time wake =
        first == targets.end() ? next_refresh : std::min(next_refresh, first->second.due);
    if (wake > now) {
      platform::Sleep(std::min(wake - now, absl::Milliseconds(50)));
      continue;
    }
    Target& t = first->second;
    const auto& [disk_id, size] = t.disks[rng() % t.disks.size()];
    uint64_t len = options.min_write_bytes +
                   (options.max_write_bytes > options.min_write_bytes
                        ? rng() % (options.max_write_bytes - options.min_write_bytes + 1)
                        : 0);
    len = std::max<uint64_t>(512, (len + 511) / 512 * 512);
    len = std::min(len, size);
    uint64_t slots = (size - len) / 512 + 1;
    uint64_t offset = (rng() % slots) * 512;
    uint64_t seed = rng();
    absl::Status s = DoGuestWrite(first->first, disk_id, offset, len, seed, &stop_workload_);
    {
      absl::MutexLock l(&workload_mu_);
      if (s.ok()) {
        ++stats_.writes;
        stats_.bytes += len;
      } else if (!absl::IsCancelled(s)) {
        ++stats_.errors;
        stats_.last_error = std::string(s.message());
      }
    }
    t.due += interval;
    if (absl::Now() - t.due > absl::Seconds(1)) t.due = absl::Now();  // behind: do not burst
  }
}

// ---- verification ----

absl::Status SimulatedFabric::VerifyDiskAtPoint(const std::string& vm_id,
                                                const std::string& disk_id,
                                                const std::string& point_id,
                                                const std::string& image_path) {
  return Verify(vm_id, disk_id, &point_id, image_path);
}

absl::Status SimulatedFabric::VerifyDiskLatest(const std::string& vm_id, const std::string& disk_id,
                                               const std::string& image_path) {
  return Verify(vm_id, disk_id, nullptr, image_path);
}

absl::Status SimulatedFabric::Verify(const std::string& vm_id, const std::string& disk_id,
                                     const std::string* point_id, const std::string& image_path) {
  ASR_ASSIGN_OR_RETURN(std::vector<WriteLogRecord> log, ReadWriteLog(root_));
  uint64_t limit = UINT64_MAX;
  std::string when = "latest";
  if (point_id != nullptr) {
    uint64_t n = 0;
    const WriteLogRecord* marker = nullptr;
    if (absl::SimpleAtoi(*point_id, &n)) {
      for (const WriteLogRecord& r : log) {
        if (r.kind == WriteLogRecord::Kind::kPoint && r.point == n) marker = &r;
      }
    }
    if (marker == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no point '", *point_id, "' in ", JoinPath(root_, kLogFile)));
    }
    if (marker->vm_id != vm_id) {
      return absl::InvalidArgumentError(absl::StrCat("point ", *point_id, " is a point of VM '",
                                                     marker->vm_id, "', not of '", vm_id, "'"));
    }
    limit = marker->seq;
    when = absl::StrCat("before point ", *point_id);
  }
  std::vector<const WriteLogRecord*> writes, later;
  for (const WriteLogRecord& r : log) {
    if (r.kind != WriteLogRecord::Kind::kWrite || r.vm_id != vm_id || r.disk_id != disk_id)
      continue;
    (r.seq < limit ? writes : later).push_back(&r);
  }
  // What each write still shows: its range less those of later writes
  // (before the point). Swept from the last write back.
  std::map<uint64_t, uint64_t> covered;  // start -> end, disjoint
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> visible(writes.size());
  for (size_t i = writes.size(); i-- > 0;) {
    uint64_t s = writes[i]->offset, e = s + writes[i]->length;
    uint64_t pos = s;
    auto it = covered.upper_bound(s);
    if (it != covered.begin()) --it;
    for (; it != covered.end() && it->first < e; ++it) {
      if (it->second <= pos) continue;
      if (it->first > pos) visible[i].emplace_back(pos, it->first);
      pos = std::max(pos, it->second);
    }
    if (pos < e) visible[i].emplace_back(pos, e);
    // Merge [s, e) into covered.
    uint64_t ns = s, ne = e;
    auto m = covered.upper_bound(s);
    if (m != covered.begin() && std::prev(m)->second >= s) --m;
    while (m != covered.end() && m->first <= ne) {
      ns = std::min(ns, m->first);
      ne = std::max(ne, m->second);
      m = covered.erase(m);
    }
    covered[ns] = ne;
  }
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> image,
                       disk::OpenDisk(image_path, disk::OpenMode::kReadOnly));
  std::vector<uint8_t> got, want;
  for (size_t i = 0; i < writes.size(); ++i) {
    const WriteLogRecord& w = *writes[i];
    // Never completed to the guest: its bytes may hold its data, the
    // earlier data, or a mix; nothing was promised.
    if (!w.acknowledged) continue;
    auto describe = [&] {
      return absl::StrCat("write #", w.seq, " (", w.vm_id, " ", w.disk_id, ", ",
                          HumanBytes(w.length), " at ", HumanBytes(w.offset), ", ", when, ")");
    };
    std::vector<uint8_t> all(w.length);
    GuestData(w.data_seed, 0, all.data(), all.size());
    if (Crc32c(all.data(), all.size()) != w.data_crc) {
      return absl::DataLossError(absl::StrCat(describe(),
                                              ": its log record's CRC does not match the data "
                                              "its seed generates; the write log is damaged"));
    }
    for (auto [s, e] : visible[i]) {
      if (e > image->virtual_size()) {
        return absl::DataLossError(absl::StrCat(describe(), " is missing: ", image_path,
                                                " is only ", image->virtual_size(), " bytes"));
      }
      for (uint64_t pos = s; pos < e;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(e - pos, kMiB));
        got.resize(n);
        ASR_RETURN_IF_ERROR(image->ReadAt(pos, absl::MakeSpan(got)));
        const uint8_t* expect = all.data() + (pos - w.offset);
        if (std::memcmp(got.data(), expect, n) != 0) {
          size_t k = 0;
          while (got[k] == expect[k]) ++k;
          uint64_t at = pos + k;
          std::string detail = absl::StrFormat(
              "%s is missing from %s: at byte %d (%s + %d) the image holds 0x%02x, the write put "
              "0x%02x",
              describe(), image_path, at, HumanBytes(w.offset), at - w.offset, got[k], expect[k]);
          for (auto it = later.rbegin(); it != later.rend(); ++it) {
            const WriteLogRecord& l = **it;
            if (at < l.offset || at >= l.offset + l.length) continue;
            uint8_t b = 0;
            GuestData(l.data_seed, at - l.offset, &b, 1);
            if (b == got[k]) {
              absl::StrAppend(&detail, "; that is the data of write #", l.seq,
                              ", made after the point");
              break;
            }
          }
          return absl::DataLossError(detail);
        }
        pos += n;
      }
    }
  }
  return absl::OkStatus();
}

// ---- faults ----

absl::Status SimulatedFabric::SetHostDown(const std::string& host_id, bool down) {
  return Mutate([&](FabricState& s) -> absl::Status {
    if (FindHost(s, host_id) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", host_id, "' in the fabric"));
    }
    if (down) {
      (*s.mutable_faults()->mutable_hosts_down())[host_id] = "";
    } else {
      s.mutable_faults()->mutable_hosts_down()->erase(host_id);
    }
    return absl::OkStatus();
  });
}

namespace {

absl::Status SetListed(google::protobuf::RepeatedPtrField<std::string>* list, const std::string& id,
                       bool on) {
  for (int i = 0; i < list->size(); ++i) {
    if (list->Get(i) == id) {
      if (!on) list->DeleteSubrange(i, 1);
      return absl::OkStatus();
    }
  }
  if (on) list->Add(std::string(id));
  return absl::OkStatus();
}

}  // namespace

absl::Status SimulatedFabric::SetVmWillNotStart(const std::string& vm_id, bool fail) {
  return Mutate([&](FabricState& s) -> absl::Status {
    if (FindVm(s, vm_id) == nullptr) return VmNotFound(vm_id);
    return SetListed(s.mutable_faults()->mutable_vms_not_starting(), vm_id, fail);
  });
}

absl::Status SimulatedFabric::SetPointFails(const std::string& vm_id, bool fail) {
  return Mutate([&](FabricState& s) -> absl::Status {
    if (vm_id != "*" && FindVm(s, vm_id) == nullptr) return VmNotFound(vm_id);
    return SetListed(s.mutable_faults()->mutable_point_failures(), vm_id, fail);
  });
}

absl::Status SimulatedFabric::SetScriptFailure(int exit_code) {
  return Mutate([&](FabricState& s) -> absl::Status {
    s.mutable_faults()->set_script_exit_code(exit_code);
    return absl::OkStatus();
  });
}

absl::Status SimulatedFabric::SetScriptHang(bool hang) {
  return Mutate([&](FabricState& s) -> absl::Status {
    s.mutable_faults()->set_scripts_hang(hang);
    return absl::OkStatus();
  });
}

absl::Status SimulatedFabric::FailRecoveryStorage(const std::string& host_id, absl::Status status) {
  return Mutate([&](FabricState& s) -> absl::Status {
    if (FindHost(s, host_id) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no host '", host_id, "' in the fabric"));
    }
    auto* m = s.mutable_faults()->mutable_recovery_storage();
    if (status.ok()) {
      m->erase(host_id);
    } else {
      FabricStatus& fs = (*m)[host_id];
      fs.set_code(static_cast<int32_t>(status.code()));
      fs.set_message(std::string(status.message()));
    }
    return absl::OkStatus();
  });
}

absl::Status SimulatedFabric::CheckRecoveryStorage(const std::string& host_id) {
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(RefreshLocked());
  ASR_RETURN_IF_ERROR(HostDown(state_, host_id));
  auto it = state_.faults().recovery_storage().find(host_id);
  if (it == state_.faults().recovery_storage().end()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(it->second.code()), it->second.message());
}

absl::Status SimulatedFabric::ClearFaults() {
  {
    absl::MutexLock l(&mu_);
    injected_.clear();
  }
  return Mutate([](FabricState& s) -> absl::Status {
    s.clear_faults();
    return absl::OkStatus();
  });
}

}  // namespace asr::fabric
