// asr/fabric/simulated_fabric.h: a VMM fabric simulated on real files: the
// servers, clouds, hosts and networks of inventories, VMs whose disks are
// real VHDX files, power states, points (the host freezing a VM's writes),
// scripts run as real processes, a workload generator writing into running
// VMs' disks and reporting each write to asr's change tracker, a checksummed
// log of every write so a test can prove which writes a replica holds, and
// switches that inject faults. Implements every call of HostCallbacks.
//
//   FabricOptions options;
//   options.disk_size_bytes = 64 << 20;          // small disks for a test
//   ASR_ASSIGN_OR_RETURN(auto fabric, CreateExampleFabric("/var/fab", options));
//   asr::SiteRecoveryOptions so;  so.host = fabric.get();
//   ...
//   WorkloadOptions w;  w.writes_per_second = 20;
//   ASR_RETURN_IF_ERROR(fabric->StartWorkload(w));
//   ASR_ASSIGN_OR_RETURN(model::HostPoint p, fabric->CreatePoint("vm1", CrashConsistent));
//   ... read p.disks(i).read_path() ...
//   fabric->ReleasePoint(p);
//   ASR_RETURN_IF_ERROR(fabric->VerifyDiskAtPoint("vm1", "vm1-d0", p.id(), replica_image));
//
// Files under the root:
//   fabric.json     the state (FabricState, simulated_fabric.proto): servers'
//                   inventories with local paths, power states, replica VMs,
//                   faults. Written atomically on every change and re-read
//                   when another process changed it, so separate processes
//                   (asrctl fabric ..., the site service) share one fabric.
//   fabric.lock     serializes changes of fabric.json between processes.
//   writes.log      the write log (records below); append-only.
//   locks/VM.freeze a VM's freeze lock: a guest write holds it shared, a
//                   point exclusive (flock: works between processes too and
//                   is released by the kernel if the holder dies).
//   locks/VM.DISK.writer  held by the process that has the disk open for guest writes.
//   storage/SERVER/...    the disks and storage targets (inventory paths rewritten).
//
// A guest write (GuestWrite, or the workload) to a RUNNING VM:
//   wait while a point of the VM is held -> take the freeze lock shared ->
//   report to the attached sink -> append the log record -> write the VHDX
//   (flushing its metadata when the write allocated blocks, so an
//   independent reader always sees a consistent file) -> append the
//   write's acknowledgement -> release -> the guest is told it is done.
// A point: freeze lock exclusive (waits for writes in flight) -> flush the
// VM's open disks -> hand writes logged by other processes to the attached
// sinks -> append a point marker -> held until ReleasePoint.
//
//   RUNNING --ShutdownVm/TurnOffVm--> STOPPED --StartVm--> RUNNING
//   STOPPED --DeleteVm--> (gone)          (DeleteVm of a RUNNING VM is refused)
//
// Write log record: u32 magic "AWL1", u32 body length, body, u32 CRC-32C of
// magic, length and body. A record that is cut short or fails its CRC ends
// the log (a torn tail); the next append cuts it off. Records are not
// fsynced one by one: the log survives a crash of the writing process, not
// of the machine. A write record is logged before the disk write (so a
// point can never hold data the log does not know), and an acknowledgement
// record (kind 3, the write's seq, no seq of its own) after it; ReadWriteLog
// folds the acknowledgements into `acknowledged`. A write without one was
// never completed to the guest (its process was killed, or its disk write
// failed): it may or may not be on the disk, in part or whole, so
// verification does not demand its data (nor the data of the earlier
// writes under it); every acknowledged write it demands. Write records of
// logs without acknowledgements (older asr) count as acknowledged.
//
// Faults (persisted in fabric.json, so `asrctl fabric fault set` reaches a
// running site service): host down, VM will not start, point fails, scripts
// fail or hang, recovery storage full. FailNextCalls is in memory only
// (this process).
//
// Thread safety: thread-safe; calls for different VMs run concurrently.
#ifndef ASR_FABRIC_SIMULATED_FABRIC_H_
#define ASR_FABRIC_SIMULATED_FABRIC_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "asr/common/file_lock.h"
#include "asr/fabric/simulated_fabric.pb.h"
#include "asr/fabric/simulated_host.h"

namespace asr::fabric {

struct FabricOptions {
  // The virtual size of every VM disk created; 0 keeps each disk's
  // size_bytes from the inventory, capped at max_disk_size_bytes (real
  // inventories say 64 GiB; dynamic VHDX files stay small until written,
  // but a replica's initial copy reads the whole disk, so the default cap
  // is 1 GiB).
  uint64_t disk_size_bytes = 0;
  uint64_t max_disk_size_bytes = 1ull << 30;
  // The VHDX block size of created disks (allocation unit).
  uint32_t block_size = 2u << 20;
};

struct WorkloadOptions {
  double writes_per_second = 10;  // per running VM
  uint64_t min_write_bytes = 4096;
  uint64_t max_write_bytes = 65536;
  uint64_t seed = 1;
  std::set<std::string> vms;  // only these VMs; empty: every running VM
  int threads = 2;            // writer threads (VMs are split between them)
};

struct WorkloadStats {
  uint64_t writes = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  std::string last_error;
};

// One record of ROOT/writes.log.
struct WriteLogRecord {
  // kAck: only in the file (ReadWriteLog folds it into `acknowledged`).
  enum class Kind : uint8_t { kWrite = 1, kPoint = 2, kAck = 3 };
  Kind kind = Kind::kWrite;
  uint64_t seq = 0;  // 1, 2, ... over the whole fabric
  int64_t time_us = 0;
  uint64_t writer = 0;  // the writing process's random id
  std::string vm_id;
  std::string disk_id;     // writes
  uint64_t offset = 0;     // writes
  uint64_t length = 0;     // writes
  uint64_t data_seed = 0;  // writes: the data is GuestData(data_seed, length)
  uint32_t data_crc = 0;   // writes: CRC-32C of the data
  uint64_t point = 0;      // points: the point's number (its id)
  // writes: the guest was told the write completed (its acknowledgement
  // record is in the log). False: the write was in flight when its process
  // died, or failed; its bytes on the disk are undefined.
  bool acknowledged = true;
};

// The bytes a write with `seed` puts at [index, index + out.size()) of its
// range: deterministic, so the log need not store them.
void GuestData(uint64_t seed, uint64_t index, uint8_t* out, size_t size);

// Reads an inventory file {"servers":[{"name":..., "inventory":{...}}]}.
absl::StatusOr<std::vector<FabricServer>> LoadInventoryFile(const std::string& path);

// Reads ROOT/writes.log up to its torn tail, if any.
absl::StatusOr<std::vector<WriteLogRecord>> ReadWriteLog(const std::string& root);

class SimulatedFabric : public SimulatedHost {
 public:
  // Opens the fabric in `root` (ROOT/fabric.json must exist). A relative
  // root is made absolute (so are the paths Create stores).
  static absl::StatusOr<std::unique_ptr<SimulatedFabric>> Open(const std::string& root);
  // Makes a new fabric in `root` (created if missing; AlreadyExists if it
  // holds a fabric) from `servers`: every path in the inventories is
  // rewritten to a directory under ROOT/storage, every VM disk becomes a
  // real dynamic disk (VHDX; VHD when the path ends in .vhd).
  static absl::StatusOr<std::unique_ptr<SimulatedFabric>> Create(
      const std::string& root, const std::vector<FabricServer>& servers,
      const FabricOptions& options = {});
  // Stops the workload and closes the disks.
  ~SimulatedFabric() override;

  const std::string& root() const { return root_; }
  // The state as fabric.json holds it now.
  absl::StatusOr<FabricState> State();

  // ---- HostCallbacks ----
  absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& server) override;
  absl::Status ConfigureHost(const model::HyperVHost& host, const model::ReplicationPolicy& policy,
                             HostRole role) override;
  absl::StatusOr<model::VirtualMachine> GetVm(const std::string& vm_id) override;
  absl::StatusOr<model::VirtualMachine> CreateReplicaVm(const model::ReplicaVmSpec& spec) override;
  // A NIC joining a network without a subnet name goes to its first
  // subnet. A subnet with an IPv4 address_prefix gives the NIC an address
  // from its pool (the one asked for in ip_address when free, else the
  // lowest free one from .10), kept while the NIC stays, freed when it
  // leaves.
  absl::Status ConnectNic(const std::string& vm_id, const model::NetworkAdapter& nic) override;
  absl::Status StartVm(const std::string& vm_id) override;
  absl::Status ShutdownVm(const std::string& vm_id) override;
  absl::Status TurnOffVm(const std::string& vm_id) override;
  absl::Status DeleteVm(const std::string& vm_id, bool delete_disks) override;
  absl::StatusOr<model::VmPowerState> GetPowerState(const std::string& vm_id) override;
  // Point ids are "1", "2", ... over the whole fabric (from the write log).
  absl::StatusOr<model::HostPoint> CreatePoint(const std::string& vm_id,
                                               model::RecoveryPointType type) override;
  // Releases a point this process holds (ReleasePoint of a host-down VM
  // still releases: the freeze must never outlive the caller's wish).
  absl::Status ReleasePoint(const model::HostPoint& point) override;
  // Every VM's freeze lock (in id order, so two group points never wait on
  // each other), then every VM's flush and point marker; each point's
  // time_us is the last marker's time, when all the VMs were frozen. The
  // point fault of any VM fails it.
  absl::StatusOr<std::vector<model::HostPoint>> CreateGroupPoint(
      const std::vector<std::string>& vm_ids, model::RecoveryPointType type) override;
  absl::StatusOr<model::ScriptResult> RunScript(const model::ScriptRequest& request) override;
  absl::Status AttachChangeTracking(const std::string& vm_id, const std::string& disk_id,
                                    WriteSink* sink) override;
  absl::Status DetachChangeTracking(const std::string& vm_id, const std::string& disk_id) override;
  // A VM network "isolated-NAME" (no logical network: it reaches nothing)
  // in the inventory of the host's server.
  absl::StatusOr<std::string> CreateIsolatedNetwork(const std::string& host_id,
                                                    const std::string& name) override;
  absl::Status DeleteIsolatedNetwork(const std::string& host_id,
                                     const std::string& network_id) override;

  // ---- Guest writes ----
  // One guest write of `length` bytes of GuestData(seed) at `offset`; waits
  // while a point of the VM is held. FailedPrecondition if the VM is not
  // running.
  absl::Status GuestWrite(const std::string& vm_id, const std::string& disk_id, uint64_t offset,
                          uint64_t length, uint64_t seed);
  // Starts writer threads (FailedPrecondition if running already).
  absl::Status StartWorkload(const WorkloadOptions& options);
  // Stops them, flushes the log and closes the disks (clean files for other
  // readers and tools).
  WorkloadStats StopWorkload();
  WorkloadStats workload_stats() const;
  // Hands records other processes appended to the log to the attached
  // sinks (CreatePoint does it itself).
  absl::Status CatchUpWriteLog();
  // Flushes and closes the disks this process has open for guest writes.
  absl::Status CloseDisks();

  // ---- Verification ----
  // OK if `image` holds, for every byte written to the disk before the
  // point's marker, the data of the last such write, unless that write was
  // never acknowledged (then the byte is undefined). DataLoss naming the
  // first write (by sequence) it does not hold.
  absl::Status VerifyDiskAtPoint(const std::string& vm_id, const std::string& disk_id,
                                 const std::string& point_id, const std::string& image_path);
  // The same against every write logged.
  absl::Status VerifyDiskLatest(const std::string& vm_id, const std::string& disk_id,
                                const std::string& image_path);

  // ---- Faults (persisted; each call sets, the OK/false form clears) ----
  absl::Status SetHostDown(const std::string& host_id, bool down);
  absl::Status SetVmWillNotStart(const std::string& vm_id, bool fail);
  // `vm_id` "*": points of every VM fail.
  absl::Status SetPointFails(const std::string& vm_id, bool fail);
  // exit_code != 0: scripts fail with it without running; 0 clears.
  absl::Status SetScriptFailure(int exit_code);
  absl::Status SetScriptHang(bool hang);
  // A recovery host's storage fails with `status` (e.g. ResourceExhausted
  // "disk full on hv-chi-01"); OK clears.
  absl::Status FailRecoveryStorage(const std::string& host_id, absl::Status status);
  // What the recovery endpoint asks before accepting a cycle for a replica
  // on `host_id`.
  absl::Status CheckRecoveryStorage(const std::string& host_id);
  absl::Status ClearFaults();
  // The next `n` calls of `method` ("GetVm", "StartVm", "CreatePoint", ...;
  // the HostCallbacks names) fail with `status`. In memory, this process only.
  // "GuestDiskWrite": a guest write fails after its log record and before
  // its disk write, as when its process is killed at that moment.
  void FailNextCalls(const std::string& method, int n, absl::Status status);

 private:
  struct OpenGuestDisk;
  struct HeldPoint;

  SimulatedFabric(std::string root, FabricState state);

  // State: re-read when fabric.json changed on disk; Mutate writes it.
  absl::Status RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteStateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Mutate(const std::function<absl::Status(FabricState&)>& change);
  // The fault for `method` from FailNextCalls, or OK.
  absl::Status TakeInjected(const std::string& method);
  // The VM (and its server), with host-down checked.
  absl::StatusOr<model::VirtualMachine> FindVmLocked(const std::string& vm_id,
                                                     bool check_host = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetPower(const std::string& vm_id, model::VmPowerState power, const char* method);

  // Write log.
  absl::StatusOr<WriteLogRecord> AppendLog(WriteLogRecord record);
  absl::Status TailLogLocked(bool dispatch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_mu_);
  void Dispatch(const WriteLogRecord& r);

  absl::StatusOr<std::shared_ptr<OpenGuestDisk>> GuestDisk(const std::string& vm_id,
                                                           const model::VirtualDisk& disk);
  // Closes the disks of `vm_id` ("": all) this process has open.
  absl::Status CloseVmDisks(const std::string& vm_id);
  absl::Status WaitWhileFrozen(const std::string& vm_id, const std::atomic<bool>* stop);
  absl::Status DoGuestWrite(const std::string& vm_id, const std::string& disk_id, uint64_t offset,
                            uint64_t length, uint64_t seed, const std::atomic<bool>* stop);
  // The disk write of a guest write (no log, no sink).
  absl::Status WriteGuestData(const std::string& vm_id, const model::VirtualDisk& d,
                              uint64_t offset, absl::Span<const uint8_t> data);
  void WorkloadThread(int index, WorkloadOptions options);
  absl::Status Verify(const std::string& vm_id, const std::string& disk_id,
                      const std::string* point_id, const std::string& image_path);

  const std::string root_;
  const uint64_t writer_id_;

  mutable absl::Mutex mu_;
  FabricState state_ ABSL_GUARDED_BY(mu_);
  uint64_t state_inode_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t state_mtime_ns_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t state_size_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::pair<int, absl::Status>> injected_ ABSL_GUARDED_BY(mu_);
  // VMs with a point held (or being taken) by this process: id -> point.
  std::map<std::string, std::string> frozen_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<HeldPoint>> points_ ABSL_GUARDED_BY(mu_);

  // Sinks: a guest write calls its sink under a reader lock, so Detach
  // (writer lock) returns only when no call is in progress.
  absl::Mutex sink_mu_;
  std::map<std::pair<std::string, std::string>, WriteSink*> sinks_ ABSL_GUARDED_BY(sink_mu_);

  absl::Mutex log_mu_;
  uint64_t log_end_ ABSL_GUARDED_BY(log_mu_) = 0;  // bytes parsed
  uint64_t last_seq_ ABSL_GUARDED_BY(log_mu_) = 0;
  uint64_t last_point_ ABSL_GUARDED_BY(log_mu_) = 0;

  absl::Mutex disks_mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<OpenGuestDisk>> disks_
      ABSL_GUARDED_BY(disks_mu_);

  mutable absl::Mutex workload_mu_;
  std::vector<std::thread> workers_;  // started and joined by Start/StopWorkload only
  std::atomic<bool> stop_workload_{false};
  WorkloadStats stats_ ABSL_GUARDED_BY(workload_mu_);
};

// The New York / Chicago example (NewYorkInventory(), ChicagoInventory())
// as a fabric in `root`: servers "vmm-ny" and "vmm-chi".
absl::StatusOr<std::unique_ptr<SimulatedFabric>> CreateExampleFabric(
    const std::string& root, const FabricOptions& options = {});

}  // namespace asr::fabric

#endif  // ASR_FABRIC_SIMULATED_FABRIC_H_
