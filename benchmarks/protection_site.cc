// protection_site: a whole protected site under load. N generated VMs (two
// disks each) on the simulated fabric are protected at one copy frequency,
// a workload writes into all of them, and the site service replicates them
// for a fixed time; the recovery endpoint serves every replica from a second
// process. Measures the achieved RPO per VM, CPU and resident memory of each
// process, and checks that no recovery point was lost or duplicated.
//
//   protection_site --vms 200 --disk-size 8MiB --minutes 10 --rate 1
//                   --max-concurrent 4 --out results.json
//   protection_site --quick          # 10 VMs, 1 minute (the smoke test)
//
// Steps:
//   1. TestSite with --vms generated VMs vm-gNNN in GoldCloud1 (VM1/VM2 stay
//      unprotected); enable protection of each (timed: enable throughput),
//      with an endpoint in this process for the initial copies.
//   2. The recovery endpoint: this binary again (--serve STATE), a
//      SiteService with replicate=false over the state opened read-only; it
//      binds every item before it prints "LISTEN host:port".
//      (--one-process: the endpoint runs in the sender's SiteService.)
//   3. The sender: a SiteService with serve_replicas=false pointed at that
//      address, then the fabric's workload (--rate writes/s per VM).
//   4. Every second: each item's RPO (now - last recovery point time), cycles
//      running, RSS; every VM point seen (for the point check).
//   5. Stop workload, service and endpoint; check the points; restore the
//      latest point of --verify VMs and check it against the fabric's write
//      log; print a summary and write --out as JSON.
//
// RPO statistics are over the steady state: from the moment every VM has
// committed a point under the service (the first full round) to the end.
// "Site service CPU" is the sender process's CPU less the workload's writer
// threads and the sampling thread (both benchmark machinery).
//
// Point check ("lost" and "duplicated"):
//   lost:   a VM's latest committed point missing or not whole (a disk's
//           replica lacks its disk point); a kept VM point record whose disk
//           point its replica no longer has; a gap in the sequence of the
//           VM points seen during the run (points are kept 3 at a time and
//           sampled every second, so each committed one is seen).
//   duplicated: two VM points with the same host point or source time, or
//           one disk point id recorded by two VM points.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/net/pki.h"
#include "asr/platform/child_process.h"
#include "asr/protection/site_service.h"
#include "asr/protection/test_site.h"
#include "asr/replication/replica_store.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::bench {
namespace {

using protection::SiteService;
using protection::SiteServiceOptions;
using protection::TestSite;
using protection::TestSiteOptions;

struct Options {
  int vms = 200;
  uint64_t disk_size = 8 << 20;
  double minutes = 10;
  double rate = 1;  // writes per second per VM
  int max_concurrent = 4;
  int copy_frequency = 30;
  int verify = 10;
  std::string out;
  std::string dir;  // work directory; default: a new one under $TEST_TMPDIR or /tmp
  bool keep = false;
  bool one_process = false;
  bool verbose = false;
  // Child mode: serve the replicas of the state in this directory.
  std::string serve_state;
  std::string serve_pki;
  std::string serve_report;
};

// ---- small helpers --------------------------------------------------------

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  struct Unit {
    const char* suffix;
    uint64_t factor;
  };
  static const Unit kUnits[] = {{"GiB", 1ull << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
                                {"G", 1ull << 30},   {"M", 1 << 20},   {"K", 1 << 10}};
  uint64_t factor = 1;
  for (const Unit& u : kUnits) {
    if (absl::ConsumeSuffix(&text, u.suffix)) {
      factor = u.factor;
      break;
    }
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a size (a whole number, optionally KiB, MiB, GiB)"));
  }
  return n * factor;
}

double ProcessCpu() { return platform::ProcessCpuSeconds(); }
double ThreadCpu() { return platform::ThreadCpuSeconds(); }

// VmRSS and VmHWM of this process, KiB.
std::pair<uint64_t, uint64_t> RssAndPeakKib() {
  const platform::MemoryUsage m = platform::MemoryUsageOfSelf();
  return {m.rss_kib, m.peak_kib};
}

std::set<int> ThreadIds() {
  std::vector<int> ids = platform::ThreadIds();
  return std::set<int>(ids.begin(), ids.end());
}

// CPU seconds of thread `tid` of this process (utime + stime), 0 if gone.
double TaskCpu(int tid) { return platform::ThreadCpuSecondsOf(tid); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string VmId(int i) { return absl::StrFormat("vm-g%03d", i); }

// ---- the recovery endpoint process -----------------------------------------

// Serves every replica of the state in opt.serve_state until its standard
// input closes; then writes its figures to opt.serve_report.
int ServeMain(const Options& opt) {
  SiteRecoveryOptions so;
  so.read_only = true;
  so.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<SiteRecovery>> sr = SiteRecovery::Open(opt.serve_state, so);
  if (!sr.ok()) {
    std::fprintf(stderr, "endpoint: cannot open the state: %s\n", sr.status().ToString().c_str());
    return 1;
  }
  absl::Mutex log_mu;
  uint64_t log_lines = 0;
  std::vector<std::string> errors;
  SiteServiceOptions o;
  o.replicate = false;
  o.serve_replicas = true;
  o.listen = "127.0.0.1:0";
  o.transport.pki_dir = opt.serve_pki;
  o.transport.point_interval = absl::Seconds(1);  // as TestSite::StartService
  o.max_concurrent = 1;
  const bool verbose = opt.verbose;
  o.log = [&](absl::string_view line) {
    absl::MutexLock l(&log_mu);
    ++log_lines;
    if (verbose)
      std::fprintf(stderr, "endpoint: %.*s\n", static_cast<int>(line.size()), line.data());
    if (absl::StrContains(line, "fail") || absl::StrContains(line, "refus") ||
        absl::StrContains(line, "rror")) {
      if (errors.size() < 20) errors.emplace_back(line);
    }
  };
  const double cpu_open = ProcessCpu();
  absl::StatusOr<std::unique_ptr<SiteService>> svc = SiteService::Start(**sr, o);
  if (!svc.ok()) {
    std::fprintf(stderr, "endpoint: %s\n", svc.status().ToString().c_str());
    return 1;
  }
  const double cpu_ready = ProcessCpu();
  const std::string listen = absl::StrCat("LISTEN ", (*svc)->stats().endpoint_address, "\n");
  if (std::fwrite(listen.data(), 1, listen.size(), stdout) != listen.size() ||
      std::fflush(stdout) != 0) {
    return 1;
  }
  std::vector<uint64_t> rss_series;
  for (;;) {
    rss_series.push_back(RssAndPeakKib().first);
    if (platform::StdinClosedWithin(absl::Seconds(1))) break;  // the parent closed: stop
  }
  const double cpu_stop = ProcessCpu();
  (*svc)->Stop();
  svc->reset();
  std::string report = absl::StrFormat(
      "cpu_startup %.3f\ncpu_serving %.3f\ncpu_total %.3f\nvm_hwm_kib %d\nlog_lines %d\n",
      cpu_ready - cpu_open, cpu_stop - cpu_ready, ProcessCpu(), RssAndPeakKib().second, log_lines);
  absl::StrAppend(&report, "rss_kib ", absl::StrJoin(rss_series, ","), "\n");
  for (const auto& e : errors) absl::StrAppend(&report, "error ", e, "\n");
  absl::Status w = WriteFileAtomically(opt.serve_report, report);
  if (!w.ok()) {
    std::fprintf(stderr, "endpoint: %s\n", w.ToString().c_str());
    return 1;
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<platform::ChildProcess>> SpawnEndpoint(const Options& opt,
                                                                      const std::string& state,
                                                                      const std::string& pki,
                                                                      const std::string& report) {
  ASR_ASSIGN_OR_RETURN(std::string self, platform::SelfExecutablePath());
  std::vector<std::string> args = {"--serve", state, "--pki", pki, "--report", report};
  if (opt.verbose) args.push_back("--verbose");
  return platform::ChildProcess::Spawn(self, args);
}

absl::StatusOr<std::string> ReadListenLine(platform::ChildProcess& c, absl::Duration timeout) {
  ASR_ASSIGN_OR_RETURN(std::string line, c.ReadLine(timeout));
  absl::string_view first(line);
  if (!absl::ConsumePrefix(&first, "LISTEN ")) {
    return absl::InternalError(absl::StrCat("unexpected line from the endpoint: ", first));
  }
  return std::string(first);
}

// ---- the run ----------------------------------------------------------------

struct SeenPoint {
  std::string host_point_id;
  int64_t source_time_us = 0;
  std::vector<uint64_t> disk_points;
};

struct Sample {
  double t = 0;     // seconds since the service started
  int running = 0;  // cycles queued or running
  uint64_t rss_kib = 0;
  std::vector<int64_t> rpo;  // per VM (index 0 = vm-g001)
};

struct PointCheck {
  uint64_t points_seen = 0;
  uint64_t lost_latest = 0;
  uint64_t dangling = 0;
  uint64_t gaps = 0;
  uint64_t duplicated = 0;
  uint64_t kept_short = 0;  // VMs keeping fewer whole points than the policy (report only)
  int verified = 0;
  int verify_failed = 0;
  std::vector<std::string> problems;
};

class Benchmark {
 public:
  explicit Benchmark(Options opt) : opt_(std::move(opt)) {}

  absl::Status Run();

 private:
  absl::Status Enable();
  absl::Status SampleOnce(double t);
  PointCheck CheckPoints();
  // Prints the summary and returns the JSON.
  std::string Report(const PointCheck& pc) const;
  void Note(const std::string& problem, PointCheck* pc) {
    if (pc->problems.size() < 20) pc->problems.push_back(problem);
  }

  Options opt_;
  std::unique_ptr<TestSite> site_;
  std::vector<std::string> item_ids_;  // pi-vm-gNNN
  double enable_seconds_ = 0;
  // Sampling.
  std::vector<Sample> samples_;
  std::vector<uint64_t> start_seq_;  // per VM: latest sequence when the service started
  double steady_from_ = -1;          // t of the first full round
  std::vector<std::map<uint64_t, SeenPoint>> seen_;  // per VM: sequence -> point
  // Figures.
  double run_seconds_ = 0;
  double parent_cpu_ = 0, workload_cpu_ = 0, sampler_cpu_ = 0;
  uint64_t parent_hwm_kib_ = 0;
  protection::SiteServiceStats stats_;
  uint64_t workload_writes_ = 0, workload_bytes_ = 0, workload_errors_ = 0;
  std::string workload_error_;
  std::map<std::string, std::string> child_;  // the endpoint's report
  std::vector<std::string> cycle_errors_;
  uint64_t cycle_error_count_ = 0;
  absl::Mutex log_mu_;
};

absl::Status Benchmark::Enable() {
  SiteServiceOptions o;
  o.threads = false;  // endpoint + transport for the initial copies; no scheduling
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteService> svc, site_->StartService(o));
  const absl::Time t0 = absl::Now();
  for (int i = 1; i <= opt_.vms; ++i) {
    protection::EnableRequest r;
    r.vm_ref = VmId(i);
    ASR_ASSIGN_OR_RETURN(model::Job job, site_->sr().protection().EnableProtection(r));
    if (job.state() != model::Succeeded) {
      return absl::InternalError(
          absl::StrCat("enabling ", r.vm_ref, " ended ", model::JobState_Name(job.state())));
    }
    item_ids_.push_back(protection::ProtectedItemId(VmId(i)));
    if (i % 25 == 0) {
      std::fprintf(stderr, "enabled %d/%d VMs in %.1f s\n", i, opt_.vms,
                   absl::ToDoubleSeconds(absl::Now() - t0));
    }
  }
  enable_seconds_ = absl::ToDoubleSeconds(absl::Now() - t0);
  svc->Stop();
  return absl::OkStatus();
}

absl::Status Benchmark::SampleOnce(double t) {
  repository::ObjectRepository& repo = site_->sr().repository();
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items, repo.List<model::ProtectedItem>());
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points, repo.List<model::RecoveryPoint>());
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::map<std::string, const model::ProtectedItem*> by_id;
  for (const auto& i : items) by_id[i.id()] = &i;
  std::map<std::string, int> index;
  for (size_t k = 0; k < item_ids_.size(); ++k) index[item_ids_[k]] = static_cast<int>(k);
  Sample s;
  s.t = t;
  s.running = stats_.running;
  s.rss_kib = RssAndPeakKib().first;
  s.rpo.assign(item_ids_.size(), -1);
  bool round_done = true;
  for (size_t k = 0; k < item_ids_.size(); ++k) {
    auto it = by_id.find(item_ids_[k]);
    if (it == by_id.end()) continue;
    s.rpo[k] = std::max<int64_t>(0, now - it->second->last_recovery_point_time_unix());
    if (it->second->next_point_sequence() - 1 <= start_seq_[k]) round_done = false;
  }
  for (const auto& p : points) {
    auto it = index.find(p.protected_item_id());
    if (it == index.end()) continue;
    SeenPoint sp;
    sp.host_point_id = p.host_point_id();
    sp.source_time_us = p.source_time_us();
    for (const auto& d : p.disks()) sp.disk_points.push_back(d.replica_point_id());
    seen_[it->second].emplace(p.sequence(), std::move(sp));
  }
  if (round_done && steady_from_ < 0) steady_from_ = t;
  samples_.push_back(std::move(s));
  return absl::OkStatus();
}

PointCheck Benchmark::CheckPoints() {
  PointCheck pc;
  repository::ObjectRepository& repo = site_->sr().repository();
  protection::ProtectionService& prot = site_->sr().protection();
  for (size_t k = 0; k < item_ids_.size(); ++k) {
    const std::string& id = item_ids_[k];
    absl::StatusOr<model::ProtectedItem> item = repo.Get<model::ProtectedItem>(id);
    if (!item.ok()) {
      ++pc.lost_latest;
      Note(absl::StrCat(id, ": ", item.status().ToString()), &pc);
      continue;
    }
    // What each disk's replica holds now.
    std::vector<std::set<uint64_t>> held;
    for (const auto& d : item->disks()) {
      std::set<uint64_t> ids;
      absl::StatusOr<std::vector<replication::RecoveryPoint>> pts =
          replication::ListRecoveryPoints(d.replica_dir());
      if (!pts.ok()) Note(absl::StrCat(id, ": ", pts.status().ToString()), &pc);
      if (pts.ok()) {
        for (const auto& p : *pts) ids.insert(p.id);
      }
      held.push_back(std::move(ids));
    }
    absl::StatusOr<std::vector<model::RecoveryPoint>> kept = prot.ListRecoveryPoints(id);
    if (!kept.ok()) {
      Note(absl::StrCat(id, ": ", kept.status().ToString()), &pc);
      continue;
    }
    auto whole = [&](const model::RecoveryPoint& p) {
      if (p.disks_size() != static_cast<int>(held.size())) return false;
      for (int d = 0; d < p.disks_size(); ++d) {
        if (!held[d].count(p.disks(d).replica_point_id())) return false;
      }
      return true;
    };
    const uint64_t latest_seq = item->next_point_sequence() - 1;
    bool latest_ok = false;
    int whole_count = 0;
    for (const auto& p : *kept) {
      seen_[k].emplace(p.sequence(), SeenPoint{p.host_point_id(), p.source_time_us(), {}});
      auto& sp = seen_[k][p.sequence()];
      if (sp.disk_points.empty()) {
        for (const auto& d : p.disks()) sp.disk_points.push_back(d.replica_point_id());
      }
      if (whole(p)) {
        ++whole_count;
        if (p.sequence() == latest_seq && p.id() == item->current_recovery_point_id()) {
          latest_ok = true;
        }
      } else {
        ++pc.dangling;
        Note(
            absl::StrCat(id, ": point ", p.id(), " is recorded but a replica lacks its disk point"),
            &pc);
      }
    }
    if (!latest_ok) {
      ++pc.lost_latest;
      Note(absl::StrCat(id, ": the latest point (sequence ", latest_seq,
                        ") is missing or not whole"),
           &pc);
    }
    const int expected = static_cast<int>(std::min<uint64_t>(3, latest_seq));  // latest + 2
    if (whole_count < expected) {
      ++pc.kept_short;
      Note(absl::StrCat(id, ": keeps ", whole_count, " whole points, the policy ", expected), &pc);
    }
    // Over every point seen during the run.
    const auto& all = seen_[k];
    pc.points_seen += all.size();
    uint64_t prev = 0;
    std::set<std::string> host_points;
    std::set<int64_t> times;
    std::vector<std::set<uint64_t>> disk_ids(item->disks_size());
    for (const auto& [seq, sp] : all) {
      if (prev != 0 && seq != prev + 1) {
        pc.gaps += seq - prev - 1;
        Note(absl::StrCat(id, ": sequences ", prev + 1, "..", seq - 1, " were never seen"), &pc);
      }
      prev = seq;
      bool dup =
          !host_points.insert(sp.host_point_id).second || !times.insert(sp.source_time_us).second;
      for (size_t d = 0; d < sp.disk_points.size() && d < disk_ids.size(); ++d) {
        dup |= !disk_ids[d].insert(sp.disk_points[d]).second;
      }
      if (dup) {
        ++pc.duplicated;
        Note(absl::StrCat(id, ": point sequence ", seq, " repeats an earlier point"), &pc);
      }
    }
    if (!all.empty() && all.rbegin()->first != latest_seq) {
      Note(absl::StrCat(id, ": the latest point seen is ", all.rbegin()->first, ", the item says ",
                        latest_seq),
           &pc);
    }
  }
  // Restore the latest point of a sample of VMs and check it against the
  // fabric's write log.
  const int n = std::min<int>(opt_.verify, static_cast<int>(item_ids_.size()));
  for (int v = 0; v < n; ++v) {
    const size_t k = n <= 1 ? 0 : v * (item_ids_.size() - 1) / (n - 1);
    const std::string& id = item_ids_[k];
    absl::StatusOr<model::ProtectedItem> item = prot.GetItem(id);
    absl::StatusOr<std::vector<model::RecoveryPoint>> pts = prot.ListRecoveryPoints(id);
    if (!item.ok() || !pts.ok() || pts->empty()) {
      ++pc.verify_failed;
      Note(absl::StrCat(id, ": nothing to verify"), &pc);
      continue;
    }
    const model::RecoveryPoint& p = pts->back();
    absl::Status s;
    for (int d = 0; d < item->disks_size() && s.ok(); ++d) {
      const std::string out = absl::StrCat(site_->root(), "/verify-", id, "-", d, ".vhdx");
      replication::RestoreOptions ro;
      ro.overwrite = true;
      s = replication::RestorePoint(item->disks(d).replica_dir(), p.disks(d).replica_point_id(),
                                    out, ro);
      if (s.ok()) {
        s = site_->fabric().VerifyDiskAtPoint(item->vm_id(), item->disks(d).disk_id(),
                                              p.host_point_id(), out);
      }
      (void)RemoveTree(out);
    }
    if (s.ok()) {
      ++pc.verified;
    } else {
      ++pc.verify_failed;
      Note(absl::StrCat(id, " point ", p.id(), ": ", s.ToString()), &pc);
    }
  }
  return pc;
}

absl::Status Benchmark::Run() {
  if (opt_.dir.empty()) {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/protection_site.XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp ", tmpl, ": ", std::strerror(errno)));
    }
    opt_.dir = tmpl;
  }
  const std::string root = opt_.dir + "/site";
  std::fprintf(stderr, "work directory %s\n", root.c_str());
  TestSiteOptions so;
  so.disk_size_bytes = opt_.disk_size;
  so.copy_frequency_seconds = opt_.copy_frequency;
  so.recovery_points = 2;
  so.extra_vms = opt_.vms;
  const absl::Time created = absl::Now();
  ASR_ASSIGN_OR_RETURN(site_, TestSite::Create(root, so));
  std::fprintf(stderr, "site with %d VMs created in %.1f s\n", opt_.vms,
               absl::ToDoubleSeconds(absl::Now() - created));
  seen_.resize(opt_.vms);
  ASR_RETURN_IF_ERROR(Enable());
  std::fprintf(stderr, "enabled %d VMs in %.1f s (%.2f VMs/s)\n", opt_.vms, enable_seconds_,
               opt_.vms / enable_seconds_);
  start_seq_.assign(item_ids_.size(), 0);
  for (size_t k = 0; k < item_ids_.size(); ++k) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item,
                         site_->sr().repository().Get<model::ProtectedItem>(item_ids_[k]));
    start_seq_[k] = item.next_point_sequence() - 1;
  }

  // The endpoint.
  std::unique_ptr<platform::ChildProcess> child;
  const std::string report = opt_.dir + "/endpoint.report";
  SiteServiceOptions o;
  o.max_concurrent = opt_.max_concurrent;
  o.log = [this](absl::string_view line) {
    if (opt_.verbose) std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    if (!absl::StrContains(line, "failed")) return;
    absl::MutexLock l(&log_mu_);
    ++cycle_error_count_;
    if (cycle_errors_.size() < 20) cycle_errors_.emplace_back(line);
  };
  if (!opt_.one_process) {
    ASR_ASSIGN_OR_RETURN(child, SpawnEndpoint(opt_, site_->state_dir(), site_->pki_dir(), report));
    ASR_ASSIGN_OR_RETURN(std::string address, ReadListenLine(*child, absl::Minutes(5)));
    std::fprintf(stderr, "endpoint process listens on %s\n", address.c_str());
    ASR_ASSIGN_OR_RETURN(std::string pem,
                         ReadFileToString(JoinPath(site_->pki_dir(), "recovery.pem")));
    ASR_ASSIGN_OR_RETURN(net::CertificateInfo cert, net::DescribeCertificate(pem));
    o.serve_replicas = false;
    o.transport.address = address;
    o.transport.receiver_name = cert.common_name;
  }

  // The sender (scheduler), then the workload into every protected VM.
  const double cpu0 = ProcessCpu();
  const double sampler0 = ThreadCpu();
  const absl::Time t0 = absl::Now();
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteService> svc, site_->StartService(o));
  fabric::WorkloadOptions w;
  w.writes_per_second = opt_.rate;
  w.seed = 42;
  for (int i = 1; i <= opt_.vms; ++i) w.vms.insert(VmId(i));
  const std::set<int> before_workload = ThreadIds();
  ASR_RETURN_IF_ERROR(site_->fabric().StartWorkload(w));
  std::set<int> workload_threads;
  for (int id : ThreadIds()) {
    if (!before_workload.count(id)) workload_threads.insert(id);
  }

  const absl::Duration duration = absl::Seconds(opt_.minutes * 60);
  int last_report = -1;
  for (int tick = 1;; ++tick) {
    const absl::Time next = t0 + absl::Seconds(tick);
    absl::SleepFor(next - absl::Now());
    stats_ = svc->stats();
    const double t = absl::ToDoubleSeconds(absl::Now() - t0);
    absl::Status s = SampleOnce(t);
    if (!s.ok()) std::fprintf(stderr, "sample: %s\n", s.ToString().c_str());
    if (static_cast<int>(t) / 30 != last_report) {
      last_report = static_cast<int>(t) / 30;
      int64_t worst = 0;
      for (int64_t r : samples_.back().rpo) worst = std::max(worst, r);
      std::fprintf(
          stderr,
          "t=%4.0f s: cycles ok %llu failed %llu, queued or running %d, worst RPO %lld s, RSS %.1f "
          "MiB, CPU %.1f s%s\n",
          t, static_cast<unsigned long long>(stats_.cycles_ok),
          static_cast<unsigned long long>(stats_.cycles_failed), stats_.running,
          static_cast<long long>(worst), samples_.back().rss_kib / 1024.0, ProcessCpu() - cpu0,
          steady_from_ >= 0 ? " (steady)" : "");
    }
    if (absl::Now() - t0 >= duration) break;
  }
  // Stop: the workload first (its writes must all be tracked), then the
  // service (waits for running cycles), then the endpoint.
  for (int id : workload_threads) workload_cpu_ += TaskCpu(id);
  const fabric::WorkloadStats ws = site_->fabric().StopWorkload();
  workload_writes_ = ws.writes;
  workload_bytes_ = ws.bytes;
  workload_errors_ = ws.errors;
  workload_error_ = ws.last_error;
  run_seconds_ = absl::ToDoubleSeconds(absl::Now() - t0);
  sampler_cpu_ = ThreadCpu() - sampler0;
  parent_cpu_ = ProcessCpu() - cpu0;
  svc->Stop();
  stats_ = svc->stats();
  svc.reset();
  parent_hwm_kib_ = RssAndPeakKib().second;
  if (child != nullptr) {
    child->CloseStdin();
    ASR_ASSIGN_OR_RETURN(platform::ProcessResult ended, child->Wait());
    if (ended.exit_code != 0) {
      return absl::InternalError("the endpoint process failed (see its messages above)");
    }
    ASR_ASSIGN_OR_RETURN(std::string text, ReadFileToString(report));
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      const size_t sp = line.find(' ');
      const std::string key(line.substr(0, sp));
      const std::string value(sp == absl::string_view::npos ? "" : line.substr(sp + 1));
      if (key == "error") {
        child_["errors"] += (child_["errors"].empty() ? "" : "\n") + value;
      } else {
        child_[key] = value;
      }
    }
  }

  const absl::Time check = absl::Now();
  const PointCheck pc = CheckPoints();
  std::fprintf(stderr, "points checked and %d restored in %.1f s\n", opt_.verify,
               absl::ToDoubleSeconds(absl::Now() - check));
  const std::string json = Report(pc);
  if (!opt_.out.empty()) ASR_RETURN_IF_ERROR(WriteFileAtomically(opt_.out, json));
  if (!opt_.keep) (void)RemoveTree(opt_.dir);
  const bool ok = pc.lost_latest == 0 && pc.dangling == 0 && pc.gaps == 0 && pc.duplicated == 0 &&
                  pc.verify_failed == 0 && workload_errors_ == 0 && steady_from_ >= 0;
  if (!ok) {
    return absl::DataLossError(
        "the point check or verification failed, or the VMs never completed a round (see the "
        "summary)");
  }
  return absl::OkStatus();
}

std::string Benchmark::Report(const PointCheck& pc) const {
  // RPO over the steady state: per VM percentiles, and all samples pooled.
  std::vector<std::vector<double>> per_vm(item_ids_.size());
  std::vector<double> pooled;
  double warmup_max = 0;
  for (const Sample& s : samples_) {
    for (size_t k = 0; k < s.rpo.size(); ++k) {
      if (s.rpo[k] < 0) continue;
      if (steady_from_ >= 0 && s.t >= steady_from_) {
        per_vm[k].push_back(s.rpo[k]);
        pooled.push_back(s.rpo[k]);
      } else {
        warmup_max = std::max<double>(warmup_max, s.rpo[k]);
      }
    }
  }
  std::vector<double> vm_p50, vm_p90, vm_p99, vm_max;
  for (const auto& v : per_vm) {
    if (v.empty()) continue;
    vm_p50.push_back(Percentile(v, 50));
    vm_p90.push_back(Percentile(v, 90));
    vm_p99.push_back(Percentile(v, 99));
    vm_max.push_back(Percentile(v, 100));
  }
  auto dist = [](const std::vector<double>& v) {
    return absl::StrFormat("{\"min\": %.0f, \"median\": %.0f, \"p90\": %.0f, \"max\": %.0f}",
                           v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()),
                           Percentile(v, 50), Percentile(v, 90), Percentile(v, 100));
  };
  const double site_cpu = parent_cpu_ - workload_cpu_ - sampler_cpu_;
  const double minutes = run_seconds_ / 60;
  double child_cpu = 0;
  if (child_.count("cpu_serving")) (void)absl::SimpleAtod(child_.at("cpu_serving"), &child_cpu);
  uint64_t child_hwm = 0;
  if (child_.count("vm_hwm_kib")) (void)absl::SimpleAtoi(child_.at("vm_hwm_kib"), &child_hwm);
  uint64_t child_rss_max = 0;
  std::vector<std::string> child_rss;
  if (child_.count("rss_kib")) {
    child_rss = absl::StrSplit(child_.at("rss_kib"), ',', absl::SkipEmpty());
    for (const auto& r : child_rss) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(r, &v)) child_rss_max = std::max(child_rss_max, v);
    }
  }
  uint64_t parent_rss_max = 0;
  std::vector<std::string> parent_rss;
  int max_running = 0;
  for (const Sample& s : samples_) {
    parent_rss.push_back(absl::StrCat(s.rss_kib));
    parent_rss_max = std::max(parent_rss_max, s.rss_kib);
    max_running = std::max(max_running, s.running);
  }
  const double pooled_p99 = Percentile(pooled, 99);
  // Memory per disk replicating at once: a VM's cycle sends its disks one
  // after the other, so at most max_concurrent disks are in flight.
  const double per_disk_mib =
      std::max(parent_hwm_kib_, child_hwm) / 1024.0 / std::max(1, opt_.max_concurrent);

  std::printf(
      "\nProtection of %d VMs (2 disks of %.0f MiB each), copy frequency %d s, %.1f min, "
      "%g writes/s per VM, max %d cycles at once, %s\n",
      opt_.vms, opt_.disk_size / 1048576.0, opt_.copy_frequency, minutes, opt_.rate,
      opt_.max_concurrent, opt_.one_process ? "one process" : "endpoint in a second process");
  std::printf("  enable: %d VMs in %.1f s (%.2f VMs/s)\n", opt_.vms, enable_seconds_,
              opt_.vms / enable_seconds_);
  std::printf("  cycles: %llu ok, %llu failed; %llu guest writes (%.1f MiB), %llu write errors\n",
              static_cast<unsigned long long>(stats_.cycles_ok),
              static_cast<unsigned long long>(stats_.cycles_failed),
              static_cast<unsigned long long>(workload_writes_), workload_bytes_ / 1048576.0,
              static_cast<unsigned long long>(workload_errors_));
  std::printf(
      "  steady state from t=%.0f s; RPO pooled p50 %.0f s, p90 %.0f s, p99 %.0f s, max "
      "%.0f s (goal: p99 < %d s: %s); worst VM p99 %.0f s; max before steady %.0f s\n",
      steady_from_, Percentile(pooled, 50), Percentile(pooled, 90), pooled_p99,
      Percentile(pooled, 100), 2 * opt_.copy_frequency,
      steady_from_ >= 0 && pooled_p99 < 2 * opt_.copy_frequency ? "met" : "NOT met",
      Percentile(vm_p99, 100), warmup_max);
  std::printf(
      "  CPU: site service %.1f s (%.3f s per VM per minute), endpoint %.1f s (%.3f s per "
      "VM per minute); workload %.1f s, sampling %.1f s; %.0f%% of 2 cores in all\n",
      site_cpu, site_cpu / opt_.vms / minutes, child_cpu, child_cpu / opt_.vms / minutes,
      workload_cpu_, sampler_cpu_, 100.0 * (parent_cpu_ + child_cpu) / run_seconds_ / 2);
  std::printf(
      "  memory: site service peak RSS %.1f MiB (VmHWM, incl. enabling), max sampled %.1f "
      "MiB; endpoint VmHWM %.1f MiB; %.1f MiB per disk replicating at once (goal < 64)\n",
      parent_hwm_kib_ / 1024.0, parent_rss_max / 1024.0, child_hwm / 1024.0, per_disk_mib);
  std::printf(
      "  points: %llu seen; lost latest %llu, dangling %llu, gaps %llu, duplicated %llu; "
      "VMs keeping fewer whole points than the policy %llu; verified %d of %d latest "
      "points against the write log\n",
      static_cast<unsigned long long>(pc.points_seen),
      static_cast<unsigned long long>(pc.lost_latest), static_cast<unsigned long long>(pc.dangling),
      static_cast<unsigned long long>(pc.gaps), static_cast<unsigned long long>(pc.duplicated),
      static_cast<unsigned long long>(pc.kept_short), pc.verified, pc.verified + pc.verify_failed);
  for (const auto& p : pc.problems) std::printf("  problem: %s\n", p.c_str());
  for (const auto& e : cycle_errors_) std::printf("  cycle error: %s\n", e.c_str());
  if (child_.count("errors")) std::printf("  endpoint: %s\n", child_.at("errors").c_str());
  std::fflush(stdout);

  auto quote = [](const std::string& s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); };
  std::vector<std::string> problems;
  for (const auto& p : pc.problems) problems.push_back(quote(p));
  for (const auto& e : cycle_errors_) problems.push_back(quote(e));
  std::string j = "{\n";
  absl::StrAppendFormat(
      &j,
      "  \"config\": {\"vms\": %d, \"disks_per_vm\": 2, \"disk_size_bytes\": %d, "
      "\"copy_frequency_seconds\": %d, \"seconds\": %.1f, \"writes_per_second_per_vm\": %g, "
      "\"max_concurrent\": %d, \"two_processes\": %s},\n",
      opt_.vms, opt_.disk_size, opt_.copy_frequency, run_seconds_, opt_.rate, opt_.max_concurrent,
      opt_.one_process ? "false" : "true");
  absl::StrAppendFormat(&j, "  \"enable\": {\"seconds\": %.2f, \"vms_per_second\": %.3f},\n",
                        enable_seconds_, opt_.vms / enable_seconds_);
  absl::StrAppendFormat(&j,
                        "  \"cycles\": {\"ok\": %d, \"failed\": %d, \"points_committed\": %d, "
                        "\"max_queued_or_running\": %d},\n",
                        stats_.cycles_ok, stats_.cycles_failed, stats_.points_committed,
                        max_running);
  absl::StrAppendFormat(&j,
                        "  \"workload\": {\"writes\": %d, \"bytes\": %d, \"errors\": %d, "
                        "\"cpu_seconds\": %.2f},\n",
                        workload_writes_, workload_bytes_, workload_errors_, workload_cpu_);
  absl::StrAppendFormat(
      &j,
      "  \"rpo_seconds\": {\"steady_from_seconds\": %.0f, \"pooled\": {\"p50\": %.0f, \"p90\": "
      "%.0f, \"p99\": %.0f, \"max\": %.0f}, \"per_vm_p50\": %s, \"per_vm_p90\": %s, "
      "\"per_vm_p99\": %s, \"per_vm_max\": %s, \"max_before_steady\": %.0f, \"goal_p99_met\": "
      "%s},\n",
      steady_from_, Percentile(pooled, 50), Percentile(pooled, 90), pooled_p99,
      Percentile(pooled, 100), dist(vm_p50), dist(vm_p90), dist(vm_p99), dist(vm_max), warmup_max,
      steady_from_ >= 0 && pooled_p99 < 2 * opt_.copy_frequency ? "true" : "false");
  absl::StrAppendFormat(
      &j,
      "  \"cpu_seconds\": {\"site_service\": %.2f, \"site_service_per_vm_per_minute\": %.4f, "
      "\"endpoint\": %.2f, \"endpoint_per_vm_per_minute\": %.4f, \"sender_process_total\": %.2f, "
      "\"sampling\": %.2f},\n",
      site_cpu, site_cpu / opt_.vms / minutes, child_cpu, child_cpu / opt_.vms / minutes,
      parent_cpu_, sampler_cpu_);
  absl::StrAppendFormat(
      &j,
      "  \"memory_kib\": {\"site_service_vm_hwm\": %d, \"site_service_rss_max\": %d, "
      "\"endpoint_vm_hwm\": %d, \"endpoint_rss_max\": %d, \"per_disk_replicating_mib\": %.1f, "
      "\"site_service_rss\": [%s], \"endpoint_rss\": [%s]},\n",
      parent_hwm_kib_, parent_rss_max, child_hwm, child_rss_max, per_disk_mib,
      absl::StrJoin(parent_rss, ","), absl::StrJoin(child_rss, ","));
  absl::StrAppendFormat(
      &j,
      "  \"points\": {\"seen\": %d, \"lost_latest\": %d, \"dangling\": %d, \"gaps\": %d, "
      "\"duplicated\": %d, \"vms_keeping_fewer\": %d, \"verified\": %d, \"verify_failed\": %d},\n",
      pc.points_seen, pc.lost_latest, pc.dangling, pc.gaps, pc.duplicated, pc.kept_short,
      pc.verified, pc.verify_failed);
  absl::StrAppend(&j, "  \"problems\": [", absl::StrJoin(problems, ", "), "]\n}\n");
  return j;
}

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "protection_site: %s\n"
               "usage: protection_site [--vms N] [--disk-size 8MiB] [--minutes M] [--rate W]\n"
               "         [--max-concurrent N] [--copy-frequency S] [--verify N] [--out FILE]\n"
               "         [--dir DIR] [--keep] [--one-process] [--quick] [--verbose]\n",
               why.c_str());
  return 2;
}

}  // namespace
}  // namespace asr::bench

int main(int argc, char** argv) {
  using asr::bench::Usage;
  asr::bench::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    bool ok = true;
    if (a == "--vms") {
      ok = absl::SimpleAtoi(next(), &opt.vms) && opt.vms > 0 && opt.vms <= 999;
    } else if (a == "--disk-size") {
      absl::StatusOr<uint64_t> s = asr::bench::ParseSize(next());
      ok = s.ok();
      if (ok) opt.disk_size = *s;
    } else if (a == "--minutes") {
      ok = absl::SimpleAtod(next(), &opt.minutes) && opt.minutes > 0;
    } else if (a == "--rate") {
      ok = absl::SimpleAtod(next(), &opt.rate) && opt.rate > 0;
    } else if (a == "--max-concurrent") {
      ok = absl::SimpleAtoi(next(), &opt.max_concurrent);
    } else if (a == "--copy-frequency") {
      ok = absl::SimpleAtoi(next(), &opt.copy_frequency);
    } else if (a == "--verify") {
      ok = absl::SimpleAtoi(next(), &opt.verify);
    } else if (a == "--out") {
      opt.out = next();
    } else if (a == "--dir") {
      opt.dir = next();
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "--one-process") {
      opt.one_process = true;
    } else if (a == "--verbose") {
      opt.verbose = true;
    } else if (a == "--quick") {
      opt.vms = 10;
      opt.minutes = 1;
      opt.verify = 3;
    } else if (a == "--serve") {
      opt.serve_state = next();
    } else if (a == "--pki") {
      opt.serve_pki = next();
    } else if (a == "--report") {
      opt.serve_report = next();
    } else {
      return Usage("unknown argument " + a);
    }
    if (!ok) return Usage("bad value for " + a);
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (!opt.serve_state.empty()) return asr::bench::ServeMain(opt);
  asr::bench::Benchmark b(opt);
  absl::Status s = b.Run();
  if (!s.ok()) {
    std::fprintf(stderr, "protection_site: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
