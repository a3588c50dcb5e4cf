#include "asr/cli/drill_command.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
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
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/fabric/simulated_host.h"
#include "asr/model/job.pb.h"
#include "asr/model/json.h"
#include "asr/model/protection.pb.h"
#include "asr/platform/child_process.h"
#include "asr/platform/env.h"
#include "asr/platform/file.h"
#include "asr/platform/supervised_process.h"
#include "asr/report/report.h"
#include "google/protobuf/struct.pb.h"

namespace asr::cli {
namespace {

// The recovery plan's script action: for each VM of the plan, its name and
// new address (ASR_VM_<N>_NAME / _ADDRESS) become a record of the drill's
// DNS zone, a file of "address name (operation)" lines beside the script.
// A real one would update the DNS server.
constexpr char kUpdateDnsScript[] = R"SH(#!/bin/sh
# A plan's script action: for each VM of the plan, where it runs now and
# its new address (ASR_VM_<N>_NAME / _ADDRESS; the whole context is JSON in
# ASR_RECOVERY_PLAN_CONTEXT). A real one would update the DNS server; the
# drill's DNS zone is a file of "address name" records.
zone="$(dirname "$0")/dns-zone.txt"
i=1
while [ "$i" -le "${ASR_VM_COUNT:-0}" ]; do
  eval "name=\$ASR_VM_${i}_NAME address=\$ASR_VM_${i}_ADDRESS"
  [ -n "$address" ] || { echo "no address for $name" >&2; exit 1; }
  echo "$address $name.contoso.com ($ASR_FAILOVER_TYPE of plan $ASR_RECOVERY_PLAN)" >>"$zone"
  i=$((i + 1))
done
)SH";

constexpr char kMarkerFile[] = ".asr-drill";
constexpr char kPlan[] = "drill-plan";
constexpr char kUserVm[] = "uservm";
constexpr char kUserVmName[] = "UserVM";

std::string Mib(uint64_t bytes) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1 << 20));
}

std::string Kib(uint64_t bytes) {
  return absl::StrFormat("%.0f KiB", static_cast<double>(bytes) / 1024);
}

std::string ClockTime(int64_t time_us) {
  return absl::FormatTime("%H:%M:%S", absl::FromUnixMicros(time_us), absl::UTCTimeZone());
}

std::string VmId(int k) { return absl::StrCat("vm", k); }
std::string VmName(int k) { return absl::StrCat("VM", k); }

std::string LastLine(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  return lines.empty() ? std::string() : lines.back();
}

// The CRC-32C, size and modification time of a file, read in pieces.
struct FileFingerprint {
  uint32_t crc = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileFingerprint& o) const {
    return crc == o.crc && size == o.size && mtime_ns == o.mtime_ns;
  }
};

absl::StatusOr<FileFingerprint> Fingerprint(const std::string& path) {
  platform::OpenOptions o;
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<platform::File> f, platform::Env::Default()->Open(path, o));
  ASR_ASSIGN_OR_RETURN(platform::FileInfo info, f->Stat());
  FileFingerprint fp;
  fp.size = info.size;
  fp.mtime_ns = info.mtime_ns;
  std::vector<uint8_t> buf(4 << 20);
  for (uint64_t off = 0;;) {
    ASR_ASSIGN_OR_RETURN(size_t n, f->ReadAt(off, buf.data(), buf.size()));
    if (n == 0) break;
    fp.crc = Crc32cExtend(fp.crc, buf.data(), n);
    off += n;
  }
  return fp;
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  platform::Env* env = platform::Env::Default();
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<platform::File> in, env->Open(from, {}));
  platform::OpenOptions wo;
  wo.access = platform::OpenOptions::Access::kWrite;
  wo.create = true;
  wo.truncate = true;
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<platform::File> out, env->Open(to, wo));
  std::vector<uint8_t> buf(4 << 20);
  for (uint64_t off = 0;;) {
    ASR_ASSIGN_OR_RETURN(size_t n, in->ReadAt(off, buf.data(), buf.size()));
    if (n == 0) break;
    for (size_t done = 0; done < n;) {
      ASR_ASSIGN_OR_RETURN(size_t w, out->WriteAt(off + done, buf.data() + done, n - done));
      done += w;
    }
    off += n;
  }
  ASR_RETURN_IF_ERROR(out->Sync());
  return out->Close();
}

template <typename M>
absl::StatusOr<M> FromJsonAs(const std::string& text, const std::string& what) {
  M m;
  absl::Status s = model::FromJson(text, &m);
  if (!s.ok()) return absl::InternalError(absl::StrCat(what, ": ", s.message()));
  return m;
}

// A JSON array of messages of type M.
template <typename M>
absl::StatusOr<std::vector<M>> ListFromJson(const std::string& text, const std::string& what) {
  ASR_ASSIGN_OR_RETURN(google::protobuf::ListValue list,
                       FromJsonAs<google::protobuf::ListValue>(text, what));
  std::vector<M> out;
  for (const google::protobuf::Value& v : list.values()) {
    ASR_ASSIGN_OR_RETURN(M m, FromJsonAs<M>(model::ToJson(v), what));
    out.push_back(std::move(m));
  }
  return out;
}

// A program in PATH, or "".
std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path == nullptr ? "" : path, ':', absl::SkipEmpty())) {
    std::string p = JoinPath(dir, name);
    if (PathExists(p)) return p;
  }
  return "";
}

class Drill {
 public:
  Drill(const CommandRegistry& registry, DrillOptions options, std::ostream& out, bool terminal)
      : registry_(registry), o_(std::move(options)), out_(out), terminal_(terminal) {}

  // The drill; its rows are in rows().
  absl::Status Run();
  const std::vector<SummaryRow>& rows() const { return rows_; }
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return JoinPath(dir_, "drill.log"); }

 private:
  // ---- running asrctl's commands ----
  struct Outcome {
    int exit_code = 0;
    std::string out, err;
  };
  std::vector<std::string> Global() const {
    return {"--state-dir", state_, "--key-file", kek_, "--fabric", fab_};
  }
  Outcome Dispatch(const std::vector<std::string>& argv);
  // Runs `command` (with the drill's state, key file and fabric unless
  // `global` is false); its output, or an error naming the command.
  absl::StatusOr<std::string> Asrctl(const std::vector<std::string>& command, bool global = true);
  void Log(const std::string& text);

  // Runs `work` in a thread while a progress bar runs to `expected`.
  absl::Status Long(const std::string& label, absl::Duration expected,
                    const std::function<absl::Status()>& work);
  // asrctl `args` as a child process, output appended to DIR/`log_name`.
  absl::StatusOr<std::unique_ptr<platform::SupervisedProcess>> Spawn(
      const std::vector<std::string>& args, const std::string& log_name);
  // Waits for `child` with a progress bar over `expected`; an error when it
  // fails or runs a minute past it.
  absl::Status WaitWithProgress(platform::SupervisedProcess& child, const std::string& label,
                                absl::Duration expected, const std::string& log_name);
  // The site service (`site run`) for `seconds` as a child process.
  absl::Status SiteService(int seconds, const std::string& label, const std::string& log_name);

  // ---- reading and checking ----
  absl::StatusOr<model::ProtectedItem> Item(const std::string& vm);
  absl::StatusOr<std::vector<model::RecoveryPoint>> Points(const std::string& vm);
  absl::Status Expect(const std::string& what, const std::string& actual,
                      const std::string& wanted);
  absl::Status Check(bool held, const std::string& what, const std::string& failure);
  void Say(const std::string& line) { out_ << "  " << line << "\n" << std::flush; }

  // ---- steps ----
  absl::Status Step(const std::string& title,
                    const std::function<absl::Status(std::string*)>& body);
  absl::Status Prepare();
  absl::Status BuildFabric(std::string* detail);
  absl::Status SitesAndVault(std::string* detail);
  absl::Status Register(std::string* detail);
  absl::Status PairAndPolicy(std::string* detail);
  absl::Status Mappings(std::string* detail);
  absl::Status Pki(std::string* detail);
  absl::Status WorkloadBefore(std::string* detail);
  absl::Status Protect(std::string* detail);
  absl::Status Replicate(std::string* detail);
  absl::Status RestoreAndProve(std::string* detail);
  absl::Status PlanTestFailover(std::string* detail);
  absl::Status PlanPlannedFailover(std::string* detail);
  absl::Status CommitReverseFailback(std::string* detail);
  absl::Status UnplannedToOlderPoint(std::string* detail);
  absl::Status UserDisks(std::string* detail);
  absl::Status QemuVm(std::string* detail);
  // asrctl over the QEMU host's own two sites (DIR/qemu).
  absl::StatusOr<std::string> Qemu(const std::vector<std::string>& command);
  void TurnOffQemuVms();
  absl::Status DisableAndJobs(std::string* detail);

  std::vector<std::string> WorkloadVms() const {
    std::vector<std::string> vms;
    for (int k = 1; k <= o_.vms; ++k) vms.push_back(VmId(k));
    return vms;
  }
  std::vector<std::string> ProtectedVms() const {
    std::vector<std::string> vms;
    for (int k = 1; k <= o_.vms; ++k) vms.push_back(VmName(k));
    if (!o_.disks.empty()) vms.push_back(kUserVmName);
    return vms;
  }
  // DNS zone records of `operation` naming `vm` ("" if none).
  absl::StatusOr<std::string> DnsRecord(const std::string& vm, const std::string& operation);

  const CommandRegistry& registry_;
  const DrillOptions o_;
  std::ostream& out_;
  const bool terminal_;
  std::string dir_, state_, kek_, fab_, pki_, self_;
  std::mutex log_mu_;
  std::ofstream log_;
  std::vector<SummaryRow> rows_;
  int step_number_ = 0;
  std::map<std::string, FileFingerprint> user_disk_prints_;  // user's file -> before
  std::map<std::string, std::string> user_disk_ids_;         // user's file -> disk id
  bool qemu_started_ = false;  // QEMU VMs outlive this process: turned off at the end
};

// ---- running commands ----

void Drill::Log(const std::string& text) {
  std::lock_guard<std::mutex> l(log_mu_);
  log_ << text << std::flush;
}

Drill::Outcome Drill::Dispatch(const std::vector<std::string>& argv) {
  std::ostringstream out, err;
  std::istringstream in;
  Outcome o;
  const absl::Time start = absl::Now();
  o.exit_code = registry_.Run(argv, in, out, err);
  o.out = out.str();
  o.err = err.str();
  Log(absl::StrCat(
      "\n$ asrctl ", absl::StrJoin(argv, " "), "\n", o.out, o.err,
      absl::StrFormat("[exit %d, %s]\n", o.exit_code, FormatStepDuration(absl::Now() - start))));
  return o;
}

absl::StatusOr<std::string> Drill::Asrctl(const std::vector<std::string>& command, bool global) {
  std::vector<std::string> argv = global ? Global() : std::vector<std::string>{};
  argv.insert(argv.end(), command.begin(), command.end());
  Outcome o = Dispatch(argv);
  if (o.exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat("`asrctl ", absl::StrJoin(command, " "),
                                                      "` failed (exit code ", o.exit_code,
                                                      "): ", LastLine(o.err)));
  }
  return o.out;
}

absl::Status Drill::Long(const std::string& label, absl::Duration expected,
                         const std::function<absl::Status()>& work) {
  ProgressBar bar(out_, terminal_, label);
  const absl::Time start = absl::Now();
  std::atomic<bool> done{false};
  absl::Status status;
  std::thread worker([&] {
    status = work();
    done = true;
  });
  while (!done) {
    const absl::Duration elapsed = absl::Now() - start;
    bar.Update(std::min(0.95, absl::FDivDuration(elapsed, expected)), elapsed);
    platform::Sleep(absl::Milliseconds(terminal_ ? 200 : 500));
  }
  worker.join();
  bar.Done(absl::Now() - start, status.ok() ? "done" : "FAILED");
  return status;
}

absl::StatusOr<std::unique_ptr<platform::SupervisedProcess>> Drill::Spawn(
    const std::vector<std::string>& args, const std::string& log_name) {
  platform::SupervisedProcessOptions o;
  o.working_directory = dir_;
  o.output_path = JoinPath(dir_, log_name);
  Log(absl::StrCat("\n$ asrctl ", absl::StrJoin(args, " "), " &   (output in ", o.output_path,
                   ")\n"));
  return platform::SupervisedProcess::Start(self_, args, o);
}

absl::Status Drill::WaitWithProgress(platform::SupervisedProcess& child, const std::string& label,
                                     absl::Duration expected, const std::string& log_name) {
  ProgressBar bar(out_, terminal_, label);
  const absl::Time start = absl::Now();
  std::optional<platform::ProcessResult> r;
  while (!(r = child.Poll())) {
    const absl::Duration elapsed = absl::Now() - start;
    if (elapsed > expected + absl::Minutes(1)) {
      child.Kill();
      bar.Done(elapsed, "FAILED");
      return absl::DeadlineExceededError(absl::StrCat(label, " still ran a minute after its ",
                                                      FormatStepDuration(expected), "; see ",
                                                      JoinPath(dir_, log_name)));
    }
    bar.Update(std::min(1.0, absl::FDivDuration(elapsed, expected)), elapsed);
    platform::Sleep(absl::Milliseconds(terminal_ ? 200 : 500));
  }
  const absl::Duration elapsed = absl::Now() - start;
  bar.Done(elapsed, r->exit_code == 0 ? "done" : "FAILED");
  if (r->exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(label, " ended with exit code ", r->exit_code,
                                                      " (signal ", r->term_signal, "); see ",
                                                      JoinPath(dir_, log_name)));
  }
  return absl::OkStatus();
}

absl::Status Drill::SiteService(int seconds, const std::string& label,
                                const std::string& log_name) {
  std::vector<std::string> args = Global();
  for (const char* a : {"site", "run", "--pki"}) args.push_back(a);
  args.push_back(pki_);
  for (const char* a : {"--point-interval", "10s", "--duration"}) args.push_back(a);
  args.push_back(absl::StrCat(seconds, "s"));
  ASR_ASSIGN_OR_RETURN(auto site, Spawn(args, log_name));
  return WaitWithProgress(*site, label, absl::Seconds(seconds), log_name);
}

// ---- reading and checking ----

absl::StatusOr<model::ProtectedItem> Drill::Item(const std::string& vm) {
  ASR_ASSIGN_OR_RETURN(std::string json, Asrctl({"--json", "item", "show", vm}));
  return FromJsonAs<model::ProtectedItem>(json, "item show " + vm);
}

absl::StatusOr<std::vector<model::RecoveryPoint>> Drill::Points(const std::string& vm) {
  ASR_ASSIGN_OR_RETURN(std::string json, Asrctl({"--json", "item", "points", vm}));
  return ListFromJson<model::RecoveryPoint>(json, "item points " + vm);
}

absl::Status Drill::Expect(const std::string& what, const std::string& actual,
                           const std::string& wanted) {
  if (actual != wanted) {
    return absl::FailedPreconditionError(absl::StrCat("CHECK FAILED: ", what, ": ",
                                                      actual.empty() ? "(empty)" : actual,
                                                      " (wanted ", wanted, ")"));
  }
  Say(absl::StrCat("ok: ", what, ": ", actual));
  return absl::OkStatus();
}

absl::Status Drill::Check(bool held, const std::string& what, const std::string& failure) {
  if (!held) return absl::FailedPreconditionError(absl::StrCat("CHECK FAILED: ", failure));
  Say(absl::StrCat("ok: ", what));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Drill::DnsRecord(const std::string& vm, const std::string& operation) {
  std::string zone = JoinPath(dir_, "dns-zone.txt");
  if (!PathExists(zone)) return std::string();
  ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(zone));
  std::string found;
  const std::string tail =
      absl::StrCat(" ", vm, ".contoso.com (", operation, " of plan ", kPlan, ")");
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::EndsWith(line, tail)) found = std::string(line);
  }
  return found;
}

// ---- steps ----

absl::Status Drill::Step(const std::string& title,
                         const std::function<absl::Status(std::string*)>& body) {
  ++step_number_;
  out_ << "\n== " << step_number_ << ". " << title << "\n" << std::flush;
  Log(absl::StrCat("\n==== ", step_number_, ". ", title, "\n"));
  const absl::Time start = absl::Now();
  std::string detail;
  absl::Status s = body(&detail);
  SummaryRow row;
  row.step = title;
  row.ok = s.ok();
  row.duration = absl::Now() - start;
  row.start = start;
  row.detail = s.ok() ? detail : std::string(s.message());
  rows_.push_back(row);
  if (s.ok() && !detail.empty()) Say(detail);
  return s;
}

absl::Status Drill::Prepare() {
  platform::Env* env = platform::Env::Default();
  ASR_ASSIGN_OR_RETURN(self_, platform::SelfExecutablePath());
  dir_ = o_.dir;
  if (!absl::StartsWith(dir_, "/")) {
    ASR_ASSIGN_OR_RETURN(std::string cwd, env->CurrentDirectory());
    dir_ = JoinPath(cwd, dir_);
  }
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (PathExists(dir_)) {
    ASR_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDirectory(dir_));
    names.erase(std::remove_if(names.begin(), names.end(),
                               [](const std::string& n) { return n == "." || n == ".."; }),
                names.end());
    if (!names.empty() && !PathExists(JoinPath(dir_, kMarkerFile))) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir_,
                       " exists and is not a drill's directory; give another --dir or empty it "
                       "(a drill's directory is replaced by the next drill)"));
    }
    ASR_RETURN_IF_ERROR(RemoveTree(dir_));
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(dir_));
  ASR_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(dir_, kMarkerFile),
                                          "made by asrctl drill; replaced by the next\n"));
  state_ = JoinPath(dir_, "state");
  kek_ = JoinPath(dir_, "keys/vault.kek");
  fab_ = JoinPath(dir_, "fabric");
  pki_ = JoinPath(dir_, "pki");
  log_.open(log_path(), std::ios::out | std::ios::app);
  if (!log_) return absl::InternalError(absl::StrCat("cannot write ", log_path()));
  for (const std::string& disk : o_.disks) {
    ASR_ASSIGN_OR_RETURN(user_disk_prints_[disk], Fingerprint(disk));
  }
  return absl::OkStatus();
}

absl::Status Drill::BuildFabric(std::string* detail) {
  model::Inventory ny = fabric::NewYorkInventory();
  model::Inventory chi = fabric::ChicagoInventory();
  // VM1 (system and data disk) and VM2 as the example has them; VM3 ...
  // VMN like VM2 in GoldCloud1; the example's VM3 (SilverCloud1, not
  // paired) gives way to them.
  model::VirtualMachine vm2;
  std::vector<model::VirtualMachine> vms;
  for (const model::VirtualMachine& vm : ny.virtual_machines()) {
    if (vm.id() == "vm1") {
      model::VirtualMachine v = vm;
      model::VirtualDisk data = v.disks(0);
      data.set_id("vm1-d1");
      data.set_name("vm1-data.vhdx");
      data.set_is_os_disk(false);
      data.set_path(absl::StrReplaceAll(data.path(), {{"vm1.vhdx", "vm1-data.vhdx"}}));
      *v.add_disks() = data;
      vms.push_back(v);
    } else if (vm.id() == "vm2") {
      vm2 = vm;
      vms.push_back(vm);
    }
  }
  if (vms.size() != 2) return absl::InternalError("the example inventory lacks VM1 or VM2");
  for (int k = 3; k <= o_.vms; ++k) {
    model::VirtualMachine v = vm2;
    v.set_id(VmId(k));
    v.set_name(VmName(k));
    model::VirtualDisk* d = v.mutable_disks(0);
    d->set_id(absl::StrCat(VmId(k), "-d0"));
    d->set_name(absl::StrCat(VmId(k), ".vhdx"));
    d->set_path(absl::StrReplaceAll(d->path(), {{"vm2.vhdx", absl::StrCat(VmId(k), ".vhdx")}}));
    model::NetworkAdapter* n = v.mutable_network_adapters(0);
    n->set_id(absl::StrCat(VmId(k), "-nic0"));
    n->set_mac_address(absl::StrFormat("00:15:5D:01:02:%02X", k));
    n->set_ip_address(absl::StrCat("10.2.1.", 10 + k));
    vms.push_back(v);
  }
  uint64_t max_size = o_.disk_size_bytes;
  int disks = 0;
  for (model::VirtualMachine& v : vms) {
    for (model::VirtualDisk& d : *v.mutable_disks()) d.set_size_bytes(o_.disk_size_bytes);
    disks += v.disks_size();
  }
  if (!o_.disks.empty()) {
    model::VirtualMachine v = vm2;
    v.set_id(kUserVm);
    v.set_name(kUserVmName);
    v.clear_disks();
    for (size_t i = 0; i < o_.disks.size(); ++i) {
      const std::string& file = o_.disks[i];
      absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> image =
          disk::OpenDisk(file, disk::OpenMode::kReadOnly);
      if (!image.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--disk ", file, " is not a VHD or VHDX disk asr reads; give one (",
                         image.status().message(), ")"));
      }
      model::VirtualDisk* d = v.add_disks();
      const bool vhd = absl::EndsWithIgnoreCase(file, ".vhd");
      d->set_id(absl::StrCat(kUserVm, "-d", i));
      d->set_name(file.substr(file.rfind('/') + 1));
      d->set_path(absl::StrCat("E:\\SourceVolume3\\", kUserVm, "-d", i, vhd ? ".vhd" : ".vhdx"));
      d->set_size_bytes((*image)->virtual_size());
      d->set_is_os_disk(i == 0);
      max_size = std::max(max_size, (*image)->virtual_size());
      user_disk_ids_[file] = d->id();
    }
    model::NetworkAdapter* n = v.mutable_network_adapters(0);
    n->set_id(absl::StrCat(kUserVm, "-nic0"));
    n->set_mac_address("00:15:5D:01:02:FE");
    n->set_ip_address("10.2.1.254");
    vms.push_back(v);
  }
  ny.clear_virtual_machines();
  for (const model::VirtualMachine& v : vms) *ny.add_virtual_machines() = v;
  for (model::VirtualMachine& v : *chi.mutable_virtual_machines()) {
    for (model::VirtualDisk& d : *v.mutable_disks()) d.set_size_bytes(o_.disk_size_bytes);
  }
  std::string inventory =
      absl::StrCat("{\"servers\": [{\"name\": \"vmm-ny\", \"inventory\": ", model::ToJson(ny),
                   "}, {\"name\": \"vmm-chi\", \"inventory\": ", model::ToJson(chi), "}]}\n");
  const std::string inventory_path = JoinPath(dir_, "fabric-inventory.json");
  ASR_RETURN_IF_ERROR(WriteFileAtomically(inventory_path, inventory));
  ASR_RETURN_IF_ERROR(Asrctl({"fabric", "init", "--dir", fab_, "--inventory", inventory_path,
                              "--max-disk-size", std::to_string(max_size)},
                             /*global=*/false)
                          .status());
  // The user's disks: copies replace the disks the fabric made for them.
  if (!o_.disks.empty()) {
    ASR_ASSIGN_OR_RETURN(std::string json,
                         Asrctl({"--json", "fabric", "show", "--dir", fab_}, /*global=*/false));
    ASR_ASSIGN_OR_RETURN(fabric::FabricState state,
                         FromJsonAs<fabric::FabricState>(json, "fabric show"));
    std::map<std::string, std::string> paths;  // disk id -> file in the fabric
    for (const auto& server : state.servers()) {
      for (const auto& vm : server.inventory().virtual_machines()) {
        if (vm.id() != kUserVm) continue;
        for (const auto& d : vm.disks()) paths[d.id()] = d.path();
      }
    }
    for (const auto& [file, id] : user_disk_ids_) {
      if (paths.count(id) == 0) return absl::InternalError("the fabric lost " + id);
      ASR_RETURN_IF_ERROR(CopyFile(file, paths[id]));
      Say(absl::StrCat("your disk ", file, " is ", kUserVmName, "'s ", id, " (a copy: ", paths[id],
                       ")"));
    }
  }
  ASR_RETURN_IF_ERROR(Asrctl({"fabric", "show", "--dir", fab_}, /*global=*/false).status());
  *detail = absl::StrCat(vms.size(), " VMs, ", disks + o_.disks.size(), " disks (", o_.disk_size,
                         " each", o_.disks.empty() ? "" : ", and yours", ")");
  return absl::OkStatus();
}

absl::Status Drill::SitesAndVault(std::string* detail) {
  ASR_RETURN_IF_ERROR(platform::Env::Default()->MakeDirectory(JoinPath(dir_, "keys"), 0700));
  ASR_RETURN_IF_ERROR(Asrctl({"key-provider", "init", "--key-file", kek_}, false).status());
  ASR_RETURN_IF_ERROR(Asrctl({"init"}).status());
  *detail = "state in " + state_ + ", its keys wrapped by " + kek_;
  return absl::OkStatus();
}

absl::Status Drill::Register(std::string* detail) {
  const std::string key = JoinPath(dir_, "vault.key");
  ASR_RETURN_IF_ERROR(Asrctl({"key", "generate", "--output", key}).status());
  ASR_RETURN_IF_ERROR(Asrctl({"server", "register", "--credentials", key, "--friendly-name",
                              "vmm-ny", "--site", "primary", "--sync-all-clouds"})
                          .status());
  ASR_RETURN_IF_ERROR(Asrctl({"server", "register", "--credentials", key, "--friendly-name",
                              "vmm-chi", "--site", "recovery", "--sync-all-clouds"})
                          .status());
  ASR_RETURN_IF_ERROR(Asrctl({"inventory", "sync", "--server", "vmm-ny"}).status());
  ASR_RETURN_IF_ERROR(Asrctl({"inventory", "sync", "--server", "vmm-chi"}).status());
  *detail = "vmm-ny and vmm-chi registered with a vault key, inventories synced";
  return absl::OkStatus();
}

absl::Status Drill::PairAndPolicy(std::string* detail) {
  ASR_RETURN_IF_ERROR(
      Asrctl({"cloud", "pair", "--primary", "GoldCloud1", "--recovery", "GoldCloud2"}).status());
  ASR_RETURN_IF_ERROR(Asrctl({"policy",
                              "create",
                              "--name",
                              "gold-policy",
                              "--replication-provider",
                              "HyperVReplica2012R2",
                              "--replication-frequency-in-seconds",
                              "30",
                              "--number-of-recovery-points-to-retain",
                              "4",
                              "--application-consistent-snapshot-frequency-in-hours",
                              "1",
                              "--compression",
                              "Enable",
                              "--authentication",
                              "Certificate",
                              "--replication-port",
                              "8084",
                              "--replication-method",
                              "Online",
                              "--replica-deletion",
                              "Required"})
                          .status());
  ASR_RETURN_IF_ERROR(
      Asrctl({"policy", "associate", "--policy", "gold-policy", "--pairing", "GoldCloud1"})
          .status());
  *detail = "GoldCloud1 -> GoldCloud2, 30 s copy frequency, 4 points, hourly app-consistent";
  return absl::OkStatus();
}

absl::Status Drill::Mappings(std::string* detail) {
  ASR_RETURN_IF_ERROR(Asrctl({"network-map", "add", "--source", "VMNetwork1-NewYork", "--target",
                              "VMNetwork1-Chicago"})
                          .status());
  ASR_RETURN_IF_ERROR(Asrctl({"network-map", "add", "--source", "VMNetwork2-NewYork", "--target",
                              "VMNetwork1-Chicago"})
                          .status());
  ASR_RETURN_IF_ERROR(
      Asrctl({"storage-map", "add", "--source", "GOLD", "--target", "GOLD_TARGET"}).status());
  ASR_ASSIGN_OR_RETURN(std::string placement, Asrctl({"placement", "show", "--vm", "VM1"}));
  ASR_RETURN_IF_ERROR(Check(!placement.empty(), "VM1's replica has a place on the recovery side",
                            "placement show printed nothing for VM1"));
  *detail = "2 network mappings, 1 storage mapping";
  return absl::OkStatus();
}

absl::Status Drill::Pki(std::string* detail) {
  ASR_RETURN_IF_ERROR(Asrctl({"--key-file", kek_, "pki", "init", "--dir", pki_, "--primary-name",
                              "hv-ny-01.contoso.com", "--recovery-name", "hv-chi-01.contoso.com"},
                             false)
                          .status());
  *detail = "vault CA and both hosts' certificates in " + pki_;
  return absl::OkStatus();
}

absl::Status Drill::WorkloadBefore(std::string* detail) {
  ASR_ASSIGN_OR_RETURN(std::string out,
                       Asrctl({"fabric", "workload", "--dir", fab_, "--duration", "2s", "--rate",
                               "50", "--vm", absl::StrJoin(WorkloadVms(), ",")},
                              false));
  *detail = LastLine(out);
  return absl::OkStatus();
}

absl::Status Drill::Protect(std::string* detail) {
  const std::vector<std::string> vms = ProtectedVms();
  ProgressBar bar(out_, terminal_, "initial replication");
  const absl::Time start = absl::Now();
  uint64_t bytes = 0;
  for (size_t i = 0; i < vms.size(); ++i) {
    bar.Update(static_cast<double>(i) / vms.size(), absl::Now() - start);
    absl::Status s =
        Asrctl({"protect", "enable", "--vm", vms[i], "--pki", pki_, "--point-interval", "10s"})
            .status();
    if (!s.ok()) {
      bar.Done(absl::Now() - start, "FAILED");
      return s;
    }
  }
  bar.Done(absl::Now() - start, absl::StrCat(vms.size(), " VMs"));
  ASR_RETURN_IF_ERROR(Asrctl({"item", "list"}).status());
  for (const std::string& vm : vms) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
    ASR_RETURN_IF_ERROR(
        Expect(vm + " state", model::ProtectionState_Name(item.protection_state()), "Protected"));
    for (const model::CycleOutcome& c : item.recent_cycles()) bytes += c.bytes_sent();
  }
  *detail = absl::StrCat(vms.size(), " VMs protected, initial replication ", Mib(bytes), " sent");
  return absl::OkStatus();
}

absl::Status Drill::Replicate(std::string* detail) {
  std::vector<std::string> w = {"fabric",     "workload",
                                "--dir",      fab_,
                                "--duration", absl::StrCat(o_.seconds + 5, "s"),
                                "--rate",     "20",
                                "--vm",       absl::StrJoin(WorkloadVms(), ",")};
  ASR_ASSIGN_OR_RETURN(auto workload, Spawn(w, "workload.log"));
  absl::Status s =
      SiteService(o_.seconds, absl::StrCat("site service ", o_.seconds, " s"), "site.log");
  absl::StatusOr<platform::ProcessResult> wr = workload->WaitFor(absl::Seconds(30));
  ASR_RETURN_IF_ERROR(s);
  if (!wr.ok() || wr->exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the guest workload failed; see ", JoinPath(dir_, "workload.log")));
  }
  ASR_ASSIGN_OR_RETURN(std::string site_log, ReadFileToString(JoinPath(dir_, "site.log")));
  ASR_ASSIGN_OR_RETURN(std::string workload_log, ReadFileToString(JoinPath(dir_, "workload.log")));
  Say(absl::StrCat("workload: ", LastLine(workload_log)));
  int cycles = 0;
  for (const std::string& vm : ProtectedVms()) {
    int n = 0;
    for (absl::string_view line : absl::StrSplit(site_log, '\n')) {
      if (absl::StartsWith(line, vm + ": point ")) ++n;
    }
    cycles += n;
    ASR_RETURN_IF_ERROR(Check(n > 0, absl::StrCat(vm, ": ", n, " cycles by the site service"),
                              absl::StrCat("the site service made no cycle of ", vm, " in ",
                                           o_.seconds, " s; see ", dir_, "/site.log")));
  }
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem vm1, Item("VM1"));
  ASR_RETURN_IF_ERROR(Asrctl({"item", "show", "VM1"}).status());
  ASR_RETURN_IF_ERROR(Asrctl({"item", "points", "VM1"}).status());
  const std::string health = model::ReplicationHealth_Name(vm1.replication_health());
  ASR_RETURN_IF_ERROR(Expect("VM1 replication health", health, "Normal"));
  *detail = absl::StrCat(cycles, " cycles, VM1 RPO ", vm1.rpo_seconds(), " s, health ", health);
  return absl::OkStatus();
}

absl::Status Drill::RestoreAndProve(std::string* detail) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item("VM1"));
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points, Points("VM1"));
  if (points.empty()) return absl::FailedPreconditionError("CHECK FAILED: VM1 has no point");
  const model::RecoveryPoint& point = points.back();
  std::map<std::string, std::string> dirs;
  for (const model::ProtectedDisk& d : item.disks()) dirs[d.disk_id()] = d.replica_dir();
  const std::string qemu_img = FindProgram("qemu-img");
  for (const model::DiskPoint& dp : point.disks()) {
    const std::string restored = JoinPath(dir_, absl::StrCat("restored-", dp.disk_id(), ".vhdx"));
    ASR_RETURN_IF_ERROR(Asrctl({"replica", "restore", "--dir", dirs[dp.disk_id()], "--point",
                                std::to_string(dp.replica_point_id()), "--out", restored},
                               false)
                            .status());
    ASR_RETURN_IF_ERROR(
        Asrctl({"fabric", "verify", "--dir", fab_, "--vm", "vm1", "--disk", dp.disk_id(), "--point",
                point.host_point_id(), "--image", restored},
               false)
            .status());
    if (!qemu_img.empty()) {
      platform::RunProcessOptions ro;
      ro.timeout = absl::Minutes(2);
      ASR_ASSIGN_OR_RETURN(
          platform::ProcessResult r,
          platform::RunProcess(qemu_img, {"check", "-q", "-f", "vhdx", restored}, ro));
      Log(absl::StrCat("\n$ qemu-img check -q -f vhdx ", restored, "\n", r.output, "[exit ",
                       r.exit_code, "]\n"));
      ASR_RETURN_IF_ERROR(
          Check(r.exit_code == 0, absl::StrCat("qemu-img: ", restored, " is a sound VHDX"),
                absl::StrCat("qemu-img check of ", restored, ": ", LastLine(r.output))));
    }
    Say(absl::StrCat(point.id(), ": disk ", dp.disk_id(),
                     " holds every guest write before host point ", point.host_point_id()));
  }
  *detail = absl::StrCat(point.disks_size(), " disks of point ", point.id(),
                         " proven against the write log",
                         qemu_img.empty() ? "" : ", sound VHDX for qemu-img");
  return absl::OkStatus();
}

absl::Status Drill::PlanTestFailover(std::string* detail) {
  const std::string script = JoinPath(dir_, "update-dns.sh");
  ASR_RETURN_IF_ERROR(WriteFileAtomically(script, kUpdateDnsScript, 0755));
  ASR_RETURN_IF_ERROR(Asrctl({"plan", "create", kPlan, "--vm", "VM1"}).status());
  ASR_RETURN_IF_ERROR(Asrctl({"plan", "edit", kPlan, "--append-group"}).status());
  ASR_RETURN_IF_ERROR(Asrctl({"plan", "edit", kPlan, "--add-vm", "VM2", "--group", "2"}).status());
  ASR_RETURN_IF_ERROR(
      Asrctl({"plan", "edit", kPlan, "--add-action", "dns", "--group", "2", "--placement", "End",
              "--types", "TestFailover,PlannedFailover", "--directions", "PrimaryToRecovery",
              "--script", script, "--location", "Recovery", "--timeout", "60"})
          .status());
  ASR_RETURN_IF_ERROR(Asrctl({"plan", "show", kPlan}).status());
  ASR_RETURN_IF_ERROR(Long("test failover of the plan", absl::Seconds(10), [&] {
    return Asrctl({"plan", "failover", kPlan, "--operation", "TestFailover", "--network-type",
                   "VmNetwork", "--network-id", "vmn2-chi"})
        .status();
  }));
  std::vector<std::string> addresses;
  for (const std::string vm : {"VM1", "VM2"}) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
    ASR_RETURN_IF_ERROR(
        Expect(vm + " test failover", item.test_failover_state(), "TestFailoverCompleted"));
    ASR_ASSIGN_OR_RETURN(std::string record, DnsRecord(vm, "TestFailover"));
    ASR_RETURN_IF_ERROR(Check(
        absl::StartsWith(record, "172.16.2."), "the plan's script action updated DNS: " + record,
        absl::StrCat("the plan's script action wrote no DNS record of ", vm,
                     " in VMNetwork2-Chicago's subnet 172.16.2.0/24 (got '", record, "')")));
    addresses.push_back(record.substr(0, record.find(' ')));
  }
  // Production replication goes on beside the test VMs: at least one
  // cycle of VM1 at the policy's 30 s frequency.
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem before, Item("VM1"));
  ASR_RETURN_IF_ERROR(
      SiteService(35, "site service beside the test VMs 35 s", "site-test-failover.log"));
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem after, Item("VM1"));
  ASR_RETURN_IF_ERROR(
      Check(after.next_point_sequence() > before.next_point_sequence(),
            absl::StrCat("VM1 replicated beside its test VM (point ", before.next_point_sequence(),
                         " -> ", after.next_point_sequence(), ")"),
            absl::StrCat("VM1 made no new point during its test failover; see ", dir_,
                         "/site-test-failover.log")));
  ASR_RETURN_IF_ERROR(Long("cleanup of the test failover", absl::Seconds(5), [&] {
    return Asrctl({"plan", "failover", kPlan, "--operation", "TestFailoverCleanup"}).status();
  }));
  for (const std::string vm : {"VM1", "VM2"}) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
    ASR_RETURN_IF_ERROR(
        Expect(vm + " test failover after cleanup", item.test_failover_state(), "None"));
  }
  *detail =
      absl::StrCat("plan ", kPlan, " (VM1 group 1, VM2 group 2): test VMs at ",
                   absl::StrJoin(addresses, ", "), " in DNS; replication went on; cleaned up");
  return absl::OkStatus();
}

absl::Status Drill::PlanPlannedFailover(std::string* detail) {
  ASR_ASSIGN_OR_RETURN(auto workload, Spawn({"fabric", "workload", "--dir", fab_, "--duration",
                                             "6s", "--rate", "50", "--vm", "vm1,vm2"},
                                            "workload-planned.log"));
  platform::Sleep(absl::Seconds(2));
  absl::Status s = Long("planned failover of the plan", absl::Seconds(20), [&] {
    return Asrctl({"plan", "failover", kPlan, "--operation", "PlannedFailover", "--pki", pki_,
                   "--point-interval", "10s"})
        .status();
  });
  absl::StatusOr<platform::ProcessResult> wr = workload->WaitFor(absl::Seconds(30));
  if (!wr.ok()) workload->Kill();
  ASR_RETURN_IF_ERROR(s);
  int disks = 0;
  for (const std::string vm : {"VM1", "VM2"}) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
    ASR_RETURN_IF_ERROR(Expect(vm + " state", model::ProtectionState_Name(item.protection_state()),
                               "PlannedFailoverCompleted"));
    ASR_RETURN_IF_ERROR(Expect(vm + " active location", item.active_location(), "Recovery"));
    for (const model::ProtectedDisk& d : item.disks()) {
      ASR_RETURN_IF_ERROR(
          Asrctl({"fabric", "verify", "--dir", fab_, "--vm", absl::AsciiStrToLower(vm), "--disk",
                  d.disk_id(), "--latest", "--image", d.replica_path()},
                 false)
              .status());
      Say(absl::StrCat("disk ", d.disk_id(),
                       ": the failed-over VM holds every write the guest saw acknowledged"));
      ++disks;
    }
    ASR_ASSIGN_OR_RETURN(std::string record, DnsRecord(vm, "PlannedFailover"));
    ASR_RETURN_IF_ERROR(Check(
        !record.empty(), "the plan's script action updated DNS: " + record,
        "the plan's script action wrote no DNS record of " + vm + " for the planned failover"));
  }
  *detail = absl::StrCat("zero data loss: ", disks,
                         " disks hold every acknowledged write; VM1 and VM2 run in Chicago");
  return absl::OkStatus();
}

absl::Status Drill::CommitReverseFailback(std::string* detail) {
  ASR_RETURN_IF_ERROR(Asrctl({"plan", "failover", kPlan, "--operation", "Commit"}).status());
  for (const std::string vm : {"VM1", "VM2"}) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
    ASR_RETURN_IF_ERROR(Expect(vm + " after commit",
                               model::ProtectionState_Name(item.protection_state()), "Committed"));
  }
  ASR_RETURN_IF_ERROR(Long("reverse replication", absl::Seconds(15), [&] {
    return Asrctl({"plan", "failover", kPlan, "--operation", "ReverseReplicate", "--pki", pki_,
                   "--point-interval", "10s"})
        .status();
  }));
  for (const std::string vm : {"VM1", "VM2"}) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
    ASR_RETURN_IF_ERROR(Expect(vm + " after reverse replication",
                               model::ProtectionState_Name(item.protection_state()), "Protected"));
  }
  ASR_RETURN_IF_ERROR(Long("failback", absl::Seconds(30), [&] {
    return Asrctl({"plan", "failover", kPlan, "--operation", "Failback", "--pki", pki_,
                   "--point-interval", "10s"})
        .status();
  }));
  for (const std::string vm : {"VM1", "VM2"}) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
    ASR_RETURN_IF_ERROR(Expect(vm + " after failback",
                               model::ProtectionState_Name(item.protection_state()), "Protected"));
    ASR_RETURN_IF_ERROR(Expect(vm + " active location after failback",
                               item.active_location().empty() ? "Primary" : item.active_location(),
                               "Primary"));
  }
  ASR_RETURN_IF_ERROR(Asrctl({"item", "show", "VM1"}).status());
  *detail = "VM1 and VM2 home in New York and protected again";
  return absl::OkStatus();
}

absl::Status Drill::UnplannedToOlderPoint(std::string* detail) {
  const std::string vm = "VM3", vm_id = "vm3";
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points, Points(vm));
  ASR_ASSIGN_OR_RETURN(std::vector<fabric::WriteLogRecord> log, fabric::ReadWriteLog(fab_));
  // The newest point but the latest with guest writes after it, before the
  // next point: a failover to it loses something.
  std::optional<size_t> chosen;
  for (size_t i = points.size(); i-- > 1;) {
    absl::StatusOr<LostWrites> between =
        WritesAfterPoint(log, vm_id, points[i - 1].host_point_id(), points[i].host_point_id());
    if (between.ok() && between->writes > 0) {
      chosen = i - 1;
      break;
    }
  }
  ASR_RETURN_IF_ERROR(Check(chosen.has_value(), "VM3 has an older point with writes after it",
                            absl::StrCat("none of VM3's ", points.size(),
                                         " points but the latest has guest writes after it; run "
                                         "the site service longer (--seconds)")));
  const model::RecoveryPoint& point = points[*chosen];
  // The disaster: VM3's host loses power (the VM is turned off at once).
  ASR_RETURN_IF_ERROR(Asrctl({"fabric", "vm", "off", vm_id, "--dir", fab_}, false).status());
  ASR_RETURN_IF_ERROR(Long("unplanned failover of VM3", absl::Seconds(10), [&] {
    return Asrctl({"failover", "unplanned", vm, "--point", point.id()}).status();
  }));
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(vm));
  ASR_RETURN_IF_ERROR(
      Expect("VM3 state", model::ProtectionState_Name(item.protection_state()), "FailedOver"));
  ASR_RETURN_IF_ERROR(Expect("VM3 active location", item.active_location(), "Recovery"));
  ASR_RETURN_IF_ERROR(
      Expect("VM3 failed over to the older point", item.failover_recovery_point_id(), point.id()));
  ASR_ASSIGN_OR_RETURN(log, fabric::ReadWriteLog(fab_));
  ASR_ASSIGN_OR_RETURN(LostWrites lost, WritesAfterPoint(log, vm_id, point.host_point_id()));
  // Every disk holds exactly the writes up to the point: all of those, and
  // none of the later ones (the check against every write fails, naming a
  // write after the point).
  for (const model::ProtectedDisk& d : item.disks()) {
    ASR_RETURN_IF_ERROR(
        Asrctl({"fabric", "verify", "--dir", fab_, "--vm", vm_id, "--disk", d.disk_id(), "--point",
                point.host_point_id(), "--image", d.replica_path()},
               false)
            .status());
    Say(absl::StrCat("disk ", d.disk_id(), " holds every guest write before host point ",
                     point.host_point_id()));
    const uint64_t later = lost.writes_by_disk[d.disk_id()];
    if (later == 0) continue;
    std::vector<std::string> argv = {"fabric",   "verify",  "--dir",         fab_,
                                     "--vm",     vm_id,     "--disk",        d.disk_id(),
                                     "--latest", "--image", d.replica_path()};
    Outcome o = Dispatch(argv);
    uint64_t missing = 0;
    const size_t at = o.err.find("write #");
    if (at != std::string::npos) {
      size_t end = at + 7;
      while (end < o.err.size() && absl::ascii_isdigit(o.err[end])) ++end;
      (void)absl::SimpleAtoi(o.err.substr(at + 7, end - at - 7), &missing);
    }
    uint64_t checked = 0;
    ASR_ASSIGN_OR_RETURN(
        uint64_t present,
        LaterWritesOnDisk(log, vm_id, d.disk_id(), lost.point_seq, d.replica_path(), &checked));
    ASR_RETURN_IF_ERROR(
        Check(present == 0,
              absl::StrCat("disk ", d.disk_id(), " holds none of the ", checked,
                           " writes made after the point"),
              absl::StrCat("disk ", d.disk_id(), " of the failed-over VM3 holds ", present,
                           " of the ", checked, " writes made after the point it failed over to")));
    ASR_RETURN_IF_ERROR(
        Check(o.exit_code != 0 && missing > lost.point_seq,
              absl::StrCat("asrctl fabric verify --latest: disk ", d.disk_id(), " misses write #",
                           missing, ", made after the point"),
              absl::StrCat("disk ", d.disk_id(), " of the failed-over VM3 ",
                           o.exit_code == 0
                               ? "holds writes made after the point"
                               : "misses a write made before the point: " + LastLine(o.err))));
  }
  const std::string window = lost.writes == 0 ? std::string("none")
                                              : absl::StrCat(ClockTime(lost.first_us), "-",
                                                             ClockTime(lost.last_us), " UTC");
  Say(absl::StrCat("data lost: ", lost.writes, " acknowledged writes (", Kib(lost.bytes),
                   ") made after point ", point.id(), ", ", window));
  Say(absl::StrCat("the engine reports: data loss about ", item.data_loss_seconds(), " s, ",
                   item.data_loss_cycles(), " cycles"));
  ASR_RETURN_IF_ERROR(Check(lost.writes > 0, "the writes after the point are reported lost",
                            "no write after VM3's point was found in the write log"));
  *detail = absl::StrCat("point ", point.id(), " (", points.size() - 1 - *chosen,
                         " older than the latest): ", lost.writes, " writes (", Kib(lost.bytes),
                         ") lost, ", window, "; engine: ~", item.data_loss_seconds(), " s, ",
                         item.data_loss_cycles(), " cycles");
  return absl::OkStatus();
}

absl::Status Drill::UserDisks(std::string* detail) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(kUserVmName));
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points, Points(kUserVmName));
  if (points.empty()) return absl::FailedPreconditionError("CHECK FAILED: UserVM has no point");
  const model::RecoveryPoint& point = points.back();
  std::map<std::string, std::string> dirs;
  for (const model::ProtectedDisk& d : item.disks()) dirs[d.disk_id()] = d.replica_dir();
  std::map<std::string, uint64_t> replica_points;
  for (const model::DiskPoint& dp : point.disks())
    replica_points[dp.disk_id()] = dp.replica_point_id();
  for (const auto& [file, id] : user_disk_ids_) {
    const std::string restored = JoinPath(dir_, absl::StrCat("restored-", id, ".vhdx"));
    ASR_RETURN_IF_ERROR(Asrctl({"replica", "restore", "--dir", dirs[id], "--point",
                                std::to_string(replica_points[id]), "--out", restored},
                               false)
                            .status());
    Outcome o = Dispatch({"disk", "compare", restored, file});
    ASR_RETURN_IF_ERROR(Check(
        o.exit_code == 0, absl::StrCat("the replica of ", file, " is byte for byte the same"),
        absl::StrCat("the replica of ", file, " differs from it: ", LastLine(o.out + o.err))));
    ASR_ASSIGN_OR_RETURN(FileFingerprint now, Fingerprint(file));
    ASR_RETURN_IF_ERROR(Check(now == user_disk_prints_[file], absl::StrCat(file, " is unchanged"),
                              absl::StrCat(file, " changed during the drill")));
  }
  *detail = absl::StrCat(user_disk_ids_.size(),
                         " of your disks replicated byte for byte; your files untouched");
  return absl::OkStatus();
}

absl::StatusOr<std::string> Drill::Qemu(const std::vector<std::string>& command) {
  std::vector<std::string> argv = {"--state-dir", JoinPath(dir_, "qemu/state"), "--key-file", kek_,
                                   "--qemu-host", JoinPath(dir_, "qemu/host")};
  argv.insert(argv.end(), command.begin(), command.end());
  return Asrctl(argv, /*global=*/false);
}

void Drill::TurnOffQemuVms() {
  if (!qemu_started_) return;
  for (const char* vm : {"vm1", "vm1-replica"}) {
    (void)Qemu({"qemu", "vm", "turn-off", vm});
  }
}

absl::Status Drill::QemuVm(std::string* detail) {
  const std::string q = JoinPath(dir_, "qemu");
  const std::string host = JoinPath(q, "host"), qpki = JoinPath(q, "pki");
  for (const char* d : {"host/disks", "chi/replicas", "chi/volume1", "ny/volume1"}) {
    ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(q, d)));
  }
  for (const auto& [name, size] : {std::pair<const char*, const char*>{"vm1-d0.vhdx", "64M"},
                                   std::pair<const char*, const char*>{"vm1-d1.vhdx", "32M"}}) {
    ASR_RETURN_IF_ERROR(
        Asrctl({"disk", "create", "--format", "vhdx", "--type", "dynamic", "--size", size,
                "--block-size", "2M", JoinPath(host, absl::StrCat("disks/", name))},
               false)
            .status());
  }
  ASR_ASSIGN_OR_RETURN(std::string cmdline, ReadFileToString(JoinPath(o_.qemu_guest, "cmdline")));
  cmdline = std::string(absl::StripAsciiWhitespace(cmdline));
  const std::string kernel = JoinPath(o_.qemu_guest, "vmlinuz");
  const std::string initrd = JoinPath(o_.qemu_guest, "initrd.gz");
  auto site = [&](const std::string& server, const std::string& host_id, const std::string& cloud,
                  const std::string& group, const std::string& net, const std::string& logical,
                  const std::string& cls, const std::string& target, const std::string& root,
                  const std::string& vms) {
    return absl::StrCat(
        R"({"serverId": ")", server, R"(", "clouds": [{"id": ")", cloud, R"(", "name": ")", cloud,
        R"(", "capabilityProfiles": ["Hyper-V"], "hostGroupIds": [")", group,
        R"("], "logicalNetworkIds": [")", logical, R"("], "storageClassificationIds": [")", cls,
        R"("]}], "hostGroups": [{"id": ")", group, R"(", "name": ")", group,
        R"("}], "hosts": [{"id": ")", host_id, R"(", "name": ")", host_id, R"(", "hostGroupId": ")",
        group, R"(", "osVersion": "WINDOWS_SERVER_2012_R2", "defaultStoragePath": ")", root,
        R"(/replicas", "defaultStorageFreeBytes": "100000000000", "logicalNetworkIds": [")",
        logical, R"("], "storageTargetIds": [")", target, R"("]}], "vmNetworks": [{"id": ")", net,
        R"(", "name": ")", net, R"(", "logicalNetworkId": ")", logical,
        R"(", "subnets": [{"name": "Subnet1", "addressPrefix": "10.1.1.0/24"}]}], )",
        R"("logicalNetworks": [{"id": ")", logical, R"(", "name": ")", logical,
        R"("}], "storageClassifications": [{"id": ")", cls, R"(", "name": ")", cls,
        R"(", "targets": [{"id": ")", target, R"(", "name": ")", target, R"(", "path": ")", root,
        R"(/volume1", "type": "CLUSTER_SHARED_VOLUME", "capacityBytes": "100000000000", )",
        R"("freeBytes": "100000000000"}]}], "virtualMachines": [)", vms, "]}");
  };
  const std::string vm1 =
      R"({"id": "vm1", "name": "VM1", "cloudId": "gold1", "hostId": "kvm-ny", "disks": [)"
      R"({"id": "vm1-d0", "name": "vm1-d0.vhdx", "path": "disks/vm1-d0.vhdx", )"
      R"("sizeBytes": "67108864", "storageTargetId": "vol-ny", "isOsDisk": true}, )"
      R"({"id": "vm1-d1", "name": "vm1-d1.vhdx", "path": "disks/vm1-d1.vhdx", )"
      R"("sizeBytes": "33554432", "storageTargetId": "vol-ny"}], )"
      R"("networkAdapters": [{"id": "vm1-nic0", "vmNetworkId": "net-ny", )"
      R"("subnetName": "Subnet1", "macAddress": "52:54:00:12:34:56"}]})";
  const std::string config = absl::StrCat(
      R"({"servers": [)",
      site("vmm-ny", "kvm-ny", "gold1", "hg-ny", "net-ny", "ln-ny", "GOLD", "vol-ny",
           JoinPath(q, "ny"), vm1),
      ", ",
      site("vmm-chi", "kvm-chi", "gold2", "hg-chi", "net-chi", "ln-chi", "GOLD_TARGET", "vol-chi",
           JoinPath(q, "chi"), ""),
      R"(], "vms": [{"vmId": "vm1", "boot": {"kernel": ")", kernel, R"(", "initrd": ")", initrd,
      R"(", "append": ")", cmdline, R"( asr.interval_ms=200"}}], "defaultBoot": {"kernel": ")",
      kernel, R"(", "initrd": ")", initrd, R"(", "append": ")", cmdline,
      R"( asr.records=1"}, "shutdownTimeoutSeconds": 120})", "\n");
  ASR_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(host, "config.json"), config));

  // The user's VM runs before asr protects it (and outlives this command).
  qemu_started_ = true;
  ASR_RETURN_IF_ERROR(Qemu({"qemu", "vm", "start", "vm1"}).status());
  ASR_RETURN_IF_ERROR(Long("VM1 boots under QEMU and writes", absl::Seconds(60), [&] {
    return Qemu({"qemu", "vm", "serial", "vm1", "--wait", "ASR-WROTE 3", "--timeout", "4m"})
        .status();
  }));
  // Its two sites, as for the simulated fabric.
  const std::string key = JoinPath(q, "vault.key");
  for (const std::vector<std::string>& c : std::vector<std::vector<std::string>>{
           {"init"},
           {"key", "generate", "--output", key},
           {"server", "register", "--credentials", key, "--friendly-name", "vmm-ny", "--site",
            "primary"},
           {"server", "register", "--credentials", key, "--friendly-name", "vmm-chi", "--site",
            "recovery"},
           {"inventory", "sync", "--server", "vmm-ny"},
           {"inventory", "sync", "--server", "vmm-ny", "--cloud", "gold1"},
           {"inventory", "sync", "--server", "vmm-chi"},
           {"inventory", "sync", "--server", "vmm-chi", "--cloud", "gold2"},
           {"cloud", "pair", "--primary", "gold1", "--recovery", "gold2"},
           {"policy", "create", "--name", "gold", "--replication-provider", "HyperVReplica2012R2",
            "--replication-frequency-in-seconds", "30", "--number-of-recovery-points-to-retain",
            "2", "--application-consistent-snapshot-frequency-in-hours", "1"},
           {"policy", "associate", "--policy", "gold", "--pairing", "gold1"},
           {"network-map", "add", "--source", "net-ny", "--target", "net-chi"},
           {"storage-map", "add", "--source", "GOLD", "--target", "GOLD_TARGET"},
           {"pki", "init", "--dir", qpki, "--recovery-san", "127.0.0.1"}}) {
    ASR_RETURN_IF_ERROR(Qemu(c).status());
  }
  ASR_RETURN_IF_ERROR(Long("protection of the QEMU VM", absl::Seconds(20), [&] {
    return Qemu({"protect", "enable", "--vm", "VM1", "--pki", qpki, "--point-interval", "1s"})
        .status();
  }));
  // The site service replicates the running VM (one cycle within 35 s).
  std::vector<std::string> run = {"--state-dir",
                                  JoinPath(q, "state"),
                                  "--key-file",
                                  kek_,
                                  "--qemu-host",
                                  host,
                                  "site",
                                  "run",
                                  "--pki",
                                  qpki,
                                  "--duration",
                                  "35s",
                                  "--point-interval",
                                  "1s"};
  ASR_ASSIGN_OR_RETURN(auto service, Spawn(run, "qemu-site.log"));
  ASR_RETURN_IF_ERROR(
      WaitWithProgress(*service, "site service (QEMU) 35 s", absl::Seconds(35), "qemu-site.log"));
  ASR_ASSIGN_OR_RETURN(std::string site_log, ReadFileToString(JoinPath(dir_, "qemu-site.log")));
  const std::string stopped = LastLine(site_log);
  ASR_RETURN_IF_ERROR(Check(absl::StrContains(site_log, "cycles ok, 0 failed") &&
                                !absl::StrContains(site_log, "stopped: 0 cycles ok"),
                            "the site service replicated the QEMU VM: " + stopped,
                            "the site service made no good cycle of the QEMU VM: " + stopped));
  // The policy asks for an app-consistent point hourly: the first cycle's
  // point freezes the guest through its agent (when the guest runs one).
  ASR_ASSIGN_OR_RETURN(std::string points_json, Qemu({"--json", "item", "points", "VM1"}));
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                       ListFromJson<model::RecoveryPoint>(points_json, "item points VM1 (QEMU)"));
  int app_points = 0;
  for (const model::RecoveryPoint& p : points) {
    if (p.recovery_point_type() == model::AppConsistent) ++app_points;
  }
  ASR_ASSIGN_OR_RETURN(std::string serial, ReadFileToString(JoinPath(host, "vms/vm1/serial.log")));
  std::string app_detail;
  if (absl::StrContains(serial, "ASR-AGENT running")) {
    std::string fallback;
    ASR_ASSIGN_OR_RETURN(std::string before_json, Qemu({"--json", "item", "show", "VM1"}));
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem before,
                         FromJsonAs<model::ProtectedItem>(before_json, "item show VM1 (QEMU)"));
    for (const model::CycleOutcome& c : before.recent_cycles()) {
      if (!c.app_consistent_fallback().empty()) fallback = c.app_consistent_fallback();
    }
    ASR_RETURN_IF_ERROR(Check(
        app_points > 0 && absl::StrContains(serial, "ASR-THAW"),
        absl::StrCat("QEMU VM1: ", app_points, " of ", points.size(),
                     " points app-consistent (the guest agent froze and thawed its file systems)"),
        absl::StrCat("QEMU VM1's guest runs its agent, but no point is app-consistent",
                     fallback.empty() ? "" : ": " + fallback)));
    app_detail = absl::StrCat(", ", app_points, " app-consistent point (guest agent freeze)");
  } else {
    Say("QEMU VM1's guest runs no guest agent (qemu-guest-agent not installed when its image was "
        "built): its points are crash-consistent");
    app_detail = ", crash-consistent points only (no guest agent)";
  }
  ASR_RETURN_IF_ERROR(Long("planned failover of the QEMU VM", absl::Seconds(60), [&] {
    return Qemu({"failover", "planned", "VM1", "--pki", qpki, "--point-interval", "1s"}).status();
  }));
  ASR_ASSIGN_OR_RETURN(std::string json, Qemu({"--json", "item", "show", "VM1"}));
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item,
                       FromJsonAs<model::ProtectedItem>(json, "item show VM1 (QEMU)"));
  ASR_RETURN_IF_ERROR(Expect("QEMU VM1 state", model::ProtectionState_Name(item.protection_state()),
                             "PlannedFailoverCompleted"));
  ASR_ASSIGN_OR_RETURN(std::string shutdown, Qemu({"qemu", "vm", "serial", "vm1", "--wait",
                                                   "ASR-SHUTDOWN", "--timeout", "30s"}));
  std::string last;
  const size_t at = shutdown.find("ASR-SHUTDOWN clean last=");
  if (at != std::string::npos) {
    for (size_t i = at + 24; i < shutdown.size() && absl::ascii_isdigit(shutdown[i]); ++i) {
      last += shutdown[i];
    }
  }
  ASR_RETURN_IF_ERROR(Check(!last.empty() && last != "0",
                            "QEMU VM1 shut down cleanly after writing record " + last,
                            "QEMU VM1 did not shut down cleanly: " + LastLine(shutdown)));
  std::string verdict;
  ASR_RETURN_IF_ERROR(Long("the replica boots and checks its records", absl::Seconds(60), [&] {
    ASR_ASSIGN_OR_RETURN(verdict, Qemu({"qemu", "vm", "serial", "vm1-replica", "--wait",
                                        "ASR-VERDICT", "--timeout", "4m"}));
    return absl::OkStatus();
  }));
  const std::string want =
      absl::StrCat("ASR-VERDICT ok records=", last, " last=", last, " disks=2 torn=0");
  ASR_RETURN_IF_ERROR(
      Check(absl::StrContains(verdict, want), "the replica VM holds every record: " + want,
            "the replica VM's guest says: " + LastLine(verdict) + " (wanted " + want + ")"));
  TurnOffQemuVms();
  *detail = absl::StrCat("a real VM (QEMU): ", last,
                         " records written, every one on its replica after the planned failover",
                         app_detail);
  return absl::OkStatus();
}

absl::Status Drill::DisableAndJobs(std::string* detail) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem vm2, Item("VM2"));
  ASR_RETURN_IF_ERROR(Asrctl({"protect", "disable", "--vm", "VM2"}).status());
  ASR_RETURN_IF_ERROR(Asrctl({"item", "list"}).status());
  bool replica_gone = true;
  for (const model::ProtectedDisk& d : vm2.disks()) {
    if (PathExists(d.replica_path())) replica_gone = false;
  }
  ASR_RETURN_IF_ERROR(Check(replica_gone, "VM2's replica deleted on disable, as the policy says",
                            "VM2's replica disks are still there after protection was disabled"));
  ASR_RETURN_IF_ERROR(Asrctl({"job", "list"}).status());
  ASR_ASSIGN_OR_RETURN(std::string json, Asrctl({"--json", "job", "list"}));
  ASR_ASSIGN_OR_RETURN(std::vector<model::Job> jobs, ListFromJson<model::Job>(json, "job list"));
  int succeeded = 0;
  for (const model::Job& j : jobs) {
    if (j.state() == model::Succeeded) {
      ++succeeded;
      continue;
    }
    return absl::FailedPreconditionError(
        absl::StrCat("CHECK FAILED: job ", j.id(), " (", j.display_name(), ") is ",
                     model::JobState_Name(j.state()), "; `asrctl --state-dir ", state_,
                     " job show ", j.id(), "` tells why"));
  }
  Say(absl::StrCat("ok: every one of the ", jobs.size(), " jobs succeeded"));
  *detail = absl::StrCat(jobs.size(), " jobs, all succeeded; VM2 unprotected");
  return absl::OkStatus();
}

absl::Status Drill::Run() {
  ASR_RETURN_IF_ERROR(Prepare());
  out_ << "asrctl drill in " << dir_ << " (commands' output in " << log_path() << ")\n";
  using Body = absl::Status (Drill::*)(std::string*);
  std::vector<std::pair<std::string, Body>> steps = {
      {"The VMM fabric of both sites, simulated on real disks", &Drill::BuildFabric},
      {"Two sites and a vault (keys wrapped by a key file)", &Drill::SitesAndVault},
      {"Register the VMM servers with a registration key", &Drill::Register},
      {"Pair GoldCloud1 with GoldCloud2 under a policy", &Drill::PairAndPolicy},
      {"Map networks and storage", &Drill::Mappings},
      {"Certificate authority of the vault", &Drill::Pki},
      {"The guests write before protection", &Drill::WorkloadBefore},
      {"Enable protection (initial replication)", &Drill::Protect},
      {absl::StrCat("The site service for ", o_.seconds, " s while the guests write"),
       &Drill::Replicate},
      {"Restore VM1's latest point and prove it", &Drill::RestoreAndProve},
      {"Recovery plan: test failover with DNS update, cleanup", &Drill::PlanTestFailover},
      {"Recovery plan: planned failover (zero data loss)", &Drill::PlanPlannedFailover},
      {"Recovery plan: commit, reverse replication, failback", &Drill::CommitReverseFailback},
      {"Unplanned failover of VM3 to an older point", &Drill::UnplannedToOlderPoint},
  };
  if (!o_.disks.empty()) steps.push_back({"Your disks' replicas", &Drill::UserDisks});
  if (o_.qemu) {
    steps.push_back({"A real QEMU VM: protection, replication, planned failover", &Drill::QemuVm});
  }
  steps.push_back({"Disable protection of VM2; the jobs", &Drill::DisableAndJobs});
  absl::Status s;
  for (const auto& [title, body] : steps) {
    s = Step(title, [this, body = body](std::string* d) { return (this->*body)(d); });
    if (!s.ok()) break;
  }
  TurnOffQemuVms();
  return s;
}

absl::Status RunDrill(const CommandRegistry& registry, const CommandContext& ctx,
                      const ParsedArgs& args) {
  ASR_ASSIGN_OR_RETURN(DrillOptions options, ParseDrillOptions(args));
  const bool terminal = ctx.out == &std::cout && platform::IsTerminal(1);
  Drill drill(registry, options, *ctx.out, terminal);
  absl::Status s = drill.Run();
  if (drill.rows().empty()) return s;  // no step ran: a clear error of its own
  const bool keep = options.keep || !s.ok();
  *ctx.out << "\n== Summary\n" << FormatSummaryTable(drill.rows());
  std::string report;
  absl::Status r = WriteDrillReport(drill.dir(), drill.rows(), &report);
  if (r.ok()) {
    *ctx.out << "report: " << report << "\n";
  } else {
    *ctx.err << "asrctl drill: the report was not written: " << r.message() << "\n";
  }
  if (!s.ok()) {
    *ctx.err << "drill: " << s.message() << "\n"
             << "drill: FAILED; the commands' output is in " << drill.log_path()
             << ", everything the drill made is kept in " << drill.dir() << "\n";
    return QuietFailure(1);
  }
  if (keep) {
    *ctx.out << "drill complete: every check held; everything is kept in " << drill.dir() << "\n";
  } else {
    // Everything but the report goes: it is what a newcomer opens next.
    ASR_ASSIGN_OR_RETURN(std::vector<std::string> entries,
                         platform::Env::Default()->ListDirectory(drill.dir()));
    for (const std::string& e : entries) {
      if (e == "report.html" || e == "report.md" || e == "summary.md") continue;
      ASR_RETURN_IF_ERROR(RemoveTree(JoinPath(drill.dir(), e)));
    }
    *ctx.out << "drill complete: every check held; " << drill.dir()
             << " holds only the report now (--keep leaves everything)\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteDrillReport(const std::string& dir, const std::vector<SummaryRow>& rows,
                              std::string* path) {
  *path = JoinPath(dir, "summary.md");
  ASR_RETURN_IF_ERROR(WriteFileAtomically(
      *path, absl::StrCat("# Disaster-recovery drill\n\n", FormatSummaryMarkdown(rows))));
  const std::string state = JoinPath(dir, "state");
  if (!PathExists(state)) return absl::OkStatus();  // the drill failed before its state existed
  report::ReportOptions o;
  o.title = "Disaster-recovery drill";
  o.html_path = JoinPath(dir, "report.html");
  o.markdown_path = JoinPath(dir, "report.md");
  for (const SummaryRow& r : rows) {
    report::RunStep step;
    step.name = r.step;
    step.ok = r.ok;
    step.start_us = absl::ToUnixMicros(r.start);
    step.end_us = absl::ToUnixMicros(r.start + r.duration);
    step.detail = r.detail;
    o.run_steps.push_back(std::move(step));
  }
  ASR_RETURN_IF_ERROR(report::WriteReport(state, o));
  *path = o.html_path;
  return absl::OkStatus();
}

absl::StatusOr<LostWrites> WritesAfterPoint(const std::vector<fabric::WriteLogRecord>& log,
                                            const std::string& vm_id,
                                            const std::string& host_point_id,
                                            const std::string& next_host_point_id) {
  LostWrites lost;
  bool found = false;
  uint64_t until_seq = UINT64_MAX;
  for (const fabric::WriteLogRecord& r : log) {
    if (r.kind != fabric::WriteLogRecord::Kind::kPoint || r.vm_id != vm_id) continue;
    if (std::to_string(r.point) == host_point_id) {
      lost.point_seq = r.seq;
      found = true;
    }
    if (!next_host_point_id.empty() && std::to_string(r.point) == next_host_point_id) {
      until_seq = r.seq;
    }
  }
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("the write log has no marker of ", vm_id, "'s host point ", host_point_id));
  }
  for (const fabric::WriteLogRecord& r : log) {
    if (r.kind != fabric::WriteLogRecord::Kind::kWrite || r.vm_id != vm_id || !r.acknowledged ||
        r.seq <= lost.point_seq || r.seq >= until_seq) {
      continue;
    }
    if (lost.writes == 0) lost.first_us = r.time_us;
    lost.last_us = r.time_us;
    ++lost.writes;
    lost.bytes += r.length;
    ++lost.writes_by_disk[r.disk_id];
  }
  return lost;
}

absl::StatusOr<uint64_t> LaterWritesOnDisk(const std::vector<fabric::WriteLogRecord>& log,
                                           const std::string& vm_id, const std::string& disk_id,
                                           uint64_t after_seq, const std::string& image_path,
                                           uint64_t* checked) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> image,
                       disk::OpenDisk(image_path, disk::OpenMode::kReadOnly));
  uint64_t present = 0;
  *checked = 0;
  std::vector<uint8_t> want, got;
  for (const fabric::WriteLogRecord& r : log) {
    if (r.kind != fabric::WriteLogRecord::Kind::kWrite || r.vm_id != vm_id ||
        r.disk_id != disk_id || !r.acknowledged || r.seq <= after_seq) {
      continue;
    }
    ++*checked;
    if (r.offset + r.length > image->virtual_size()) continue;
    want.resize(r.length);
    got.resize(r.length);
    fabric::GuestData(r.data_seed, 0, want.data(), want.size());
    ASR_RETURN_IF_ERROR(image->ReadAt(r.offset, absl::MakeSpan(got)));
    if (got == want) ++present;
  }
  return present;
}

void RegisterDrillCommand(CommandRegistry& registry) {
  const CommandRegistry* r = &registry;
  registry.Add(
      {"drill",
       "drill [--dir DIR] [--keep] [--vms N] [--disk-size SIZE] [--disk FILE]... "
       "[--seconds S] [--qemu --qemu-guest DIR | --no-qemu]",
       "A disaster-recovery drill on the embedded default: two sites, a simulated "
       "fabric, protection, replication, a recovery plan's test and planned failover, "
       "failback, an unplanned failover to an older point, a real QEMU VM with --qemu; every "
       "step checked",
       {"dir", "vms", "disk-size", "disk", "seconds", "qemu-guest"},
       {"keep", "qemu", "no-qemu"},
       0,
       0,
       [r](const CommandContext& ctx, const ParsedArgs& args) { return RunDrill(*r, ctx, args); }});
}

}  // namespace asr::cli
