// asr/qemu/qemu_host.h: the host table (asr/fabric/host_callbacks.h) over
// real virtual machines: QEMU processes that this host starts, watches and
// controls through QMP (qmp_client.h). A "host" is a directory:
//
//   ROOT/config.json   written by the user (QemuHostConfig, qemu_host.proto):
//   {
//     "inventory": {                    // as a VMM server would report it
//       "server_id": "vmm-qemu",
//       "hosts": [{"id": "kvm-01", "name": "kvm-01"}],
//       "vm_networks": [{"id": "net-prod", "name": "prod"}],
//       "virtual_machines": [{
//         "id": "vm1", "name": "vm1", "host_id": "kvm-01",
//         "disks": [{"id": "vm1-d0", "path": "disks/vm1-d0.vhdx", "size_bytes": 67108864},
//                   {"id": "vm1-d1", "path": "/srv/vm1-d1.vhd"}],   // .vhd: VHD (vpc)
//         "network_adapters": [{"id": "nic0", "vm_network_id": "net-prod",
//                               "mac_address": "52:54:00:12:34:56"}]
//       }]
//     },
//     "vms": [{"vm_id": "vm1", "memory_mib": 256, "cpus": 1}],    // optional
//     "default_boot": {"kernel": "/path/vmlinuz", "initrd": "/path/initrd.gz",
//                      "append": "console=ttyS0 quiet panic=-1"},  // else: BIOS boot from disk 0
//     "default_memory_mib": 256, "accel": "tcg", "shutdown_timeout_seconds": 120,
//     "servers": [{"server_id": "vmm-b", "hosts": [...], ...}]   // optional: more
//   }                                  // VMM servers (e.g. a recovery site) in one directory
//   ROOT/vms.json      written by the host (QemuHostState): replica VMs made
//                      by CreateReplicaVm, NICs as ConnectNic left them.
//   ROOT/vms/ID/       one VM's runtime files: qmp.sock (QMP), qga.sock (the
//                      guest agent's port), serial.log
//                      (the serial console of the current boot; the one
//                      before is serial.log.1), qemu.log (QEMU's own output),
//                      process (QemuProcess: pid and start time), exit (how
//                      the last QEMU ended), vm.lock, points/ (point images).
//   ROOT/state.lock    serializes changes of vms.json between processes.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<QemuHost> host, QemuHost::Open("/srv/asr-host"));
//   ASR_RETURN_IF_ERROR(host->StartVm("vm1"));
//   ASR_ASSIGN_OR_RETURN(std::string line,
//                        host->WaitForSerial("vm1", "ASR-WROTE 10", absl::Minutes(2)));
//   ASR_RETURN_IF_ERROR(host->ShutdownVm("vm1"));   // ACPI power button, then waits
//   asr::SiteRecoveryOptions so;  so.host = host.get();
//
// Each VM runs as `qemu-system-x86_64 -accel tcg -nodefaults -display none
// -no-reboot -m MEM -qmp unix:qmp.sock -serial file:serial.log` with a
// virtio-serial port org.qemu.guest_agent.0 on qga.sock (below), its disks
// as virtio drives in the inventory's order (the guest's vda, vdb, ...; the
// format from the extension: .vhdx is VHDX, .vhd is VHD), each NIC as a
// virtio NIC on a user-mode network with restrict=on (no traffic leaves the
// machine, and VMs do not see each other). A NIC whose vm_network_id is
// empty has its link down; ConnectNic changes the link of a running VM at
// once (QMP set_link) and is kept in vms.json.
//
// Power: a VM whose QEMU process runs is RUNNING (PAUSED when QMP says it
// is stopped); any other VM is STOPPED, also one whose QEMU died (killed,
// crashed): GetPowerState notices at once, ProcessInfo says how it ended.
// No call waits on a QEMU that does not answer: every QMP exchange has a
// limit, and a process that has exited is seen by polling it.
//
//   STOPPED --StartVm--> RUNNING --ShutdownVm (guest powers off)--> STOPPED
//                           |----TurnOffVm (quit, else SIGKILL)---> STOPPED
//                           \----QEMU dies------------------------> STOPPED
//   STOPPED --DeleteVm--> (gone; replica VMs only)
//
// VMs outlive the process that started them, as a hypervisor's VMs outlive
// the management tool: QEMU runs detached (its own session, its parent a
// small supervisor shell that records how QEMU ended in ROOT/vms/ID/exit),
// and ROOT/vms/ID/process names its pid and start time. Any QemuHost of
// the directory, in any process, finds the VM there: it runs while that
// pid with that start time exists; its QMP socket is opened for each
// operation and closed after it. So `asrctl site run` may start a VM that
// `asrctl failover planned` (another process) shuts down.
//
// Several QemuHost objects (in one process or many) may open a directory
// at once: an operation on a VM holds ROOT/vms/ID/vm.lock (flock: released
// by the kernel when its holder dies) for its duration only, which also
// keeps QEMU's single QMP connection to one user at a time; changes of
// vms.json are made under ROOT/state.lock from the latest file, and every
// reader re-reads vms.json when it changed. The QEMU processes are not
// turned off when a QemuHost is destroyed (QemuHostOptions::
// turn_off_vms_on_close does, for tests).
//
// A differencing disk (asr's failover and test views of a replica are
// differencing VHDX files over the replica's base) is made a whole disk in
// place when its VM starts: QEMU 7.2 refuses differencing VHDX files and
// would read a differencing VHD without its parent. This costs one copy of
// the disk's data at that start; the parent stays.
//
// Points (CreatePoint): every disk of a running VM at one instant, taken
// with QEMU's own copy-before-write (image fleecing) and never by reading a
// VHDX that QEMU is writing:
//   1. for each disk, a qcow2 overlay (ROOT/vms/ID/points/P/diskN.fleece.qcow2)
//      whose backing is the drive is added as a block node;
//   2. one QMP transaction starts, per disk, a blockdev-backup sync=none
//      into its overlay (QEMU copies an old block there before the guest
//      overwrites it), adds this point's dirty bitmap "asr-P" and disables
//      the last point's: the instant. The guest is not stopped; QEMU
//      drains its I/O once (a few ms: no copy job starts);
//   3. QEMU's NBD server exports each overlay (the disk at the instant)
//      with the last point's bitmap; asr's NBD client (nbd_client.h) reads
//      the bitmap's dirty clusters (the changed extents), and the point's
//      image ROOT/vms/ID/points/P/diskN.vhdx, which read_path names, is
//      made from the base (ROOT/vms/ID/base: the last point's images, when
//      released) by writing the changed extents alone into it, or else
//      (first point, untrusted extents, the base held or invalid) copied
//      whole from the export by qemu-img;
//   4. the export, the job and the overlay end, the last point's bitmap is
//      removed, ROOT/vms/ID/base/record names this point as the base, held
//      by it, and ROOT/vms/ID/tracking names this point, its bitmaps and
//      the QEMU process (pid and start time). ReleasePoint moves a held
//      base's images back to ROOT/vms/ID/base and deletes the rest.
// Change tracking: a point says of each disk the changes since the host's
// last point of the VM (HostPointDisk.changes_since_point_id and
// changed_extents, in 64 KiB bitmap clusters) when the last point's bitmap
// recorded every write since: same QEMU process, the bitmap present,
// recording and consistent, the disk's size unchanged. Otherwise (the
// first point since the VM started, a restart or crash of QEMU: bitmaps on
// VHDX drives are not persistent, a bitmap gone, a resize, a point that
// failed half-way) it says `needs_scan` with the reason, and the cycle
// compares every block. QEMU reports no writes one by one:
// AttachChangeTracking accepts the sink and never calls it.
// A stopped VM's point reads its disks themselves (nothing writes them)
// and needs a scan.
//
// Application-consistent points (AppConsistent): every VM gets a
// virtio-serial port named org.qemu.guest_agent.0 on ROOT/vms/ID/qga.sock,
// which QEMU's guest agent (qemu-ga, package qemu-guest-agent) in the guest
// opens. Before the instant, each running guest of the point is frozen
// through it (guest-fsfreeze-freeze: the guest's fsfreeze hook quiesces its
// applications, then every file system is frozen), all of a group's guests
// before any transaction; right after the instant each is thawed
// (guest-fsfreeze-thaw, with retries), also when the point fails. A guest
// whose agent does not answer within QemuHostOptions::agent.answer_timeout
// (no agent runs), or whose freeze fails, makes the point fail with
// FailedPrecondition naming the VM and saying so; the guests frozen before
// are thawed first, and a crash-consistent point can be taken instead. The
// point's HostPoint.type says which kind it is; last_point_quiesce() is how
// long the guests' writes were held (freeze, instant, thaw).
//
// Thread safety: thread-safe; calls for different VMs run concurrently.
#ifndef ASR_QEMU_QEMU_HOST_H_
#define ASR_QEMU_QEMU_HOST_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/qemu/guest_agent_client.h"
#include "asr/qemu/guest_freeze.h"
#include "asr/qemu/qemu_host.pb.h"
#include "asr/qemu/qmp_client.h"

namespace asr::qemu {

struct QemuHostOptions {
  // Destroying the QemuHost kills (SIGKILL) every VM of the directory that
  // runs, and the VMs this object starts are killed when this process ends
  // in any way (their supervisor watches it): for tests, so that no VM
  // outlives them, also when a test is killed at its time limit.
  bool turn_off_vms_on_close = false;
  // Time limits of the guest agent's exchanges (app-consistent points).
  GuestAgentOptions agent;
};

// How a VM's QEMU process is, or how it ended.
struct VmProcessInfo {
  model::VmPowerState power = model::STOPPED;
  int pid = 0;  // while it runs
  // How the last run ended: "" (never ran in this host), "powered off"
  // (QEMU exited 0: the guest shut down or quit was asked), "exited with
  // code N", "killed by signal N" (SIGKILL: turned off or crashed); empty
  // while it runs.
  std::string last_exit;
  std::string serial_log;  // the path of the current boot's serial log
};

// What a point of one VM read to make its images (QemuHost::last_point_copy).
struct PointCopy {
  uint64_t bytes_read = 0;  // from QEMU's NBD export: whole disks and changed extents
  int disks_copied = 0;     // disks copied whole (qemu-img convert of the export)
  int disks_updated = 0;    // disks made from the base and the changed extents alone
};

class QemuHost : public fabric::HostCallbacks {
 public:
  // Opens the host in `root` (ROOT/config.json must exist; a relative root
  // is made absolute). InvalidArgument naming the problem when the config
  // is not valid. Other QemuHost objects may have it open too.
  static absl::StatusOr<std::unique_ptr<QemuHost>> Open(const std::string& root,
                                                        const QemuHostOptions& options = {});
  // Leaves the VMs running (unless options.turn_off_vms_on_close).
  ~QemuHost() override;

  const std::string& root() const { return root_; }

  // ---- HostCallbacks ----
  // The config's inventory with replica VMs and power states. NotFound when
  // `server` names another server than the config's server_id.
  absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& server) override;
  // OK for a host of the config (QEMU needs no replication settings).
  absl::Status ConfigureHost(const model::HyperVHost& host, const model::ReplicationPolicy& policy,
                             fabric::HostRole role) override;
  absl::Status TestProxy(const model::VmmServer& server, absl::string_view password) override;
  absl::StatusOr<model::VirtualMachine> GetVm(const std::string& vm_id) override;
  // The replica's QEMU settings are the host's defaults (memory, boot).
  absl::StatusOr<model::VirtualMachine> CreateReplicaVm(const model::ReplicaVmSpec& spec) override;
  absl::Status ConnectNic(const std::string& vm_id, const model::NetworkAdapter& nic) override;
  // Starts QEMU and waits until QMP answers and the VM runs (OK when it
  // runs already). FailedPrecondition with QEMU's own words when it will
  // not start (a missing or locked disk, a bad boot file).
  absl::Status StartVm(const std::string& vm_id) override;
  // ACPI power button (system_powerdown), then waits for QEMU to exit, at
  // most shutdown_timeout_seconds: DeadlineExceeded then (the VM still
  // runs; TurnOffVm stops it). OK when it is stopped already.
  absl::Status ShutdownVm(const std::string& vm_id) override;
  // QMP quit, and SIGKILL when QEMU does not exit within 5 s or QMP does
  // not answer. OK when it is stopped already.
  absl::Status TurnOffVm(const std::string& vm_id) override;
  // Replica VMs only (config VMs are the user's: FailedPrecondition);
  // refused while the VM runs.
  absl::Status DeleteVm(const std::string& vm_id, bool delete_disks) override;
  absl::StatusOr<model::VmPowerState> GetPowerState(const std::string& vm_id) override;
  absl::StatusOr<model::ScriptResult> RunScript(const model::ScriptRequest& request) override;
  // Point ids are "qp-TIME-PID-N" (unique between processes). time_us is
  // when the transaction returned.
  absl::StatusOr<model::HostPoint> CreatePoint(const std::string& vm_id,
                                               model::RecoveryPointType type) override;
  absl::Status ReleasePoint(const model::HostPoint& point) override;
  // Several VMs at one instant: each running VM is paused (QMP stop, which
  // drains its I/O) in id order, then every VM's transaction starts its
  // copies, then all resume; the pause lasts only for the transactions.
  // Every point's time_us is the instant the last VM was paused.
  absl::StatusOr<std::vector<model::HostPoint>> CreateGroupPoint(
      const std::vector<std::string>& vm_ids, model::RecoveryPointType type) override;
  // Test failover's isolated network: a network id recorded in vms.json
  // ("isolated-NAME") and listed in the vm_networks of `host_id`'s server
  // while it exists. Every NIC already has a user-mode netdev of its own
  // with restrict=on (nothing outside the host is reachable, no other VM
  // shares it), so a NIC connected to it (ConnectNic) just has its link up.
  // Same name again: the same network. NotFound for a host of no server here.
  absl::StatusOr<std::string> CreateIsolatedNetwork(const std::string& host_id,
                                                    const std::string& name) override;
  // OK when it is gone already; FailedPrecondition while a NIC of any VM
  // (the config's or a replica) is connected to it.
  absl::Status DeleteIsolatedNetwork(const std::string& host_id,
                                     const std::string& network_id) override;
  // OK for a VM of this host; the sink is never called (see above).
  absl::Status AttachChangeTracking(const std::string& vm_id, const std::string& disk_id,
                                    fabric::WriteSink* sink) override;
  absl::Status DetachChangeTracking(const std::string& vm_id, const std::string& disk_id) override;

  // ---- QEMU's view ----
  // How long the last point's transaction took (the moment the VM's disks
  // were drained to cut the point: the guest's pause; for a group point,
  // from the first VM's pause to the last VM's resume).
  absl::Duration last_point_transaction() const;
  // For the last app-consistent point: from the first freeze request to
  // the last guest's thaw (the time the guests' writes were held: their
  // hooks' quiescing, the freeze, the instant and the thaw); zero after a
  // crash-consistent point.
  absl::Duration last_point_quiesce() const;
  // The copy the VM's last point made (zeros before any).
  PointCopy last_point_copy(const std::string& vm_id) const;
  absl::StatusOr<VmProcessInfo> ProcessInfo(const std::string& vm_id);
  // Every VM of the directory (each server's, then the replica VMs) as it is now.
  absl::StatusOr<std::vector<QemuVmStatus>> ListVms();
  // Extra kernel arguments for the VM's next starts by this object (direct
  // kernel boot only), e.g. "asr.records=20"; "" clears. In memory; the VM
  // need not exist yet (e.g. a test VM a failover will create).
  absl::Status SetBootArguments(const std::string& vm_id, const std::string& arguments);
  // The serial console of the VM's current (or last) boot.
  absl::StatusOr<std::string> SerialLog(const std::string& vm_id);
  // The first line of the current boot's serial log that starts with
  // `prefix`, once it appears. DeadlineExceeded after `timeout`;
  // FailedPrecondition when the VM stops first (with the log's tail).
  absl::StatusOr<std::string> WaitForSerial(const std::string& vm_id, const std::string& prefix,
                                            absl::Duration timeout);
  // Kills the VM's QEMU process (SIGKILL) as a crash of the host would: no
  // QMP, no guest shutdown. For tests of unplanned failover.
  absl::Status KillVmProcess(const std::string& vm_id);
  // Runs a QMP command on a running VM (its "return" value).
  absl::StatusOr<google::protobuf::Value> Qmp(const std::string& vm_id, absl::string_view command,
                                              absl::string_view arguments_json = "",
                                              absl::Duration timeout = absl::Seconds(10));

 private:
  struct VmSession;
  struct PendingPoint;

  QemuHost(std::string root, QemuHostConfig config, std::vector<model::Inventory> servers,
           QemuHostOptions options);
  // vms.json as it is now (re-read when it changed since the last read).
  absl::Status RefreshStateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Changes vms.json under ROOT/state.lock, from the latest file; `change`
  // runs with mu_ held and state_ current.
  absl::Status UpdateState(const std::function<absl::Status(QemuHostState&)>& change);
  // The server (one of servers_) that has host `host_id`, or null.
  const model::Inventory* ServerOfHostLocked(const std::string& host_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The VM with this host's current NICs and power state unset.
  absl::StatusOr<model::VirtualMachine> FindVmLocked(const std::string& vm_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<model::VirtualMachine> FindVm(const std::string& vm_id);
  bool IsReplicaLocked(const std::string& vm_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string VmDir(const std::string& vm_id) const;
  // The VM's QEMU process when it runs.
  std::optional<QemuProcess> RunningProcess(const std::string& vm_id) const;
  // How the VM's last QEMU ended (VmProcessInfo::last_exit).
  std::string LastExit(const std::string& vm_id) const;
  void WaitForExitRecord(const std::string& vm_id);
  // Takes the VM's lock (waiting for another operation on it, in any
  // process) and, with `connect`, opens QMP when QEMU runs.
  absl::StatusOr<std::unique_ptr<VmSession>> Lock(const std::string& vm_id, bool connect);
  model::VmPowerState PowerOf(const std::string& vm_id);
  static model::VmPowerState PowerOfSession(QmpClient& qmp);
  // The QEMU arguments of a VM's start.
  absl::StatusOr<std::vector<std::string>> QemuArguments(const model::VirtualMachine& vm,
                                                         const std::string& extra_append);
  // A point in steps: targets made and added, copies started (the
  // instant), copies finished and targets closed; or everything undone.
  absl::Status PreparePoint(const model::VirtualMachine& vm, VmSession& s, PendingPoint& p);
  absl::Status StartPoint(PendingPoint& p);
  absl::Status FinishPoint(PendingPoint& p);
  void UndoPoint(PendingPoint& p);
  // The frozen mark (vms/ID/agent-frozen) of an application-consistent
  // point: removed for every target but `still_frozen`; and a guest left
  // frozen by an asr process that died mid-point, thawed.
  void UnmarkFrozen(const std::vector<FreezeTarget>& targets,
                    const std::vector<std::string>& still_frozen);
  void ThawLeftFrozen(const std::string& vm_id, const std::string& vm_dir);

  const std::string root_;
  const QemuHostConfig config_;
  const std::vector<model::Inventory> servers_;  // config's inventory and servers
  const QemuHostOptions options_;
  mutable absl::Mutex mu_;
  QemuHostState state_ ABSL_GUARDED_BY(mu_);
  std::string state_stamp_ ABSL_GUARDED_BY(mu_);  // vms.json's inode, size, mtime when read
  std::map<std::string, std::string> boot_arguments_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> next_point_{1};
  absl::Duration last_point_transaction_ ABSL_GUARDED_BY(mu_);
  absl::Duration last_point_quiesce_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PointCopy> last_point_copy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asr::qemu

#endif  // ASR_QEMU_QEMU_HOST_H_
