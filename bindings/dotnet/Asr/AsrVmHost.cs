// The VM calls of the VMM host in .NET (version 3 of asr_host_callbacks_t):
// what protection and failover ask of the host that runs the VMs. Like
// IAsrHost, objects cross as JSON in the proto3 mapping of asr/model
// (VirtualMachine, ReplicaVmSpec, NetworkAdapter, HostPoint, ScriptRequest,
// ScriptResult), and a call fails by throwing: an AsrException keeps its
// status code (Unavailable, DeadlineExceeded and Aborted are retried), any
// other exception is reported as UNKNOWN; the job fails with the message.
//
//   sealed class MyHost : IAsrVmHost { ... GetVm(vmId) => "{\"id\":...}" ... }
//   using (AsrHostRegistration.Install(engine, new MyHost()))   // a version 3 table
//   {
//       AsrProtection.EnableProtection(engine, "VM1");
//   }
//
// Change tracking: AttachChangeTracking hands the host an AsrWriteSink for a
// disk; the host reports every guest write with sink.Record(offset, length)
// before completing it to the guest, until DetachChangeTracking for that disk
// returns (or another attach for the disk replaces the sink):
//
//   attach(disk) --> [sink valid: Record(...)] --> detach(disk) / re-attach --> [sink closed]

using System;
using System.Threading;

namespace Asr
{
    /// <summary>
    /// A VMM host that also runs the VMs: the calls protection and failover need.
    /// Unlike the <see cref="IAsrHost"/> calls, these may also run on a site
    /// service's replication threads: calls for different VMs concurrently, never
    /// two for one VM at once; they must not call state-changing asr methods.
    /// </summary>
    public interface IAsrVmHost : IAsrHost
    {
        /// <summary>The VM as its host sees it now (VirtualMachine JSON); throw AsrNotFoundException for no such VM.</summary>
        string GetVm(string vmId);

        /// <summary>Creates a stopped replica VM from a ReplicaVmSpec; returns it as <see cref="GetVm"/> would. The same spec again succeeds.</summary>
        string CreateReplicaVm(string specJson);

        /// <summary>Connects NIC "id" of <paramref name="nicJson"/> (a NetworkAdapter) to its "vmNetworkId"/"subnetName" ("" disconnects).</summary>
        void ConnectNic(string vmId, string nicJson);

        /// <summary>Starts the VM.</summary>
        void StartVm(string vmId);

        /// <summary>Shuts the VM down through the guest; throw AsrDeadlineExceededException when it does not stop.</summary>
        void ShutdownVm(string vmId);

        /// <summary>Powers the VM off at once.</summary>
        void TurnOffVm(string vmId);

        /// <summary>Deletes a stopped VM's configuration, and its disk files when <paramref name="deleteDisks"/>.</summary>
        void DeleteVm(string vmId, bool deleteDisks);

        /// <summary>The power state's name: "RUNNING", "STOPPED", "PAUSED" or "SAVED".</summary>
        string GetPowerState(string vmId);

        /// <summary>A point of all the VM's disks at one instant (HostPoint JSON with each disk's "readPath"); type is "CrashConsistent" or "AppConsistent".</summary>
        string CreatePoint(string vmId, string type);

        /// <summary>Releases a HostPoint made by <see cref="CreatePoint"/>.</summary>
        void ReleasePoint(string pointJson);

        /// <summary>Runs a ScriptRequest; returns the ScriptResult JSON ("exitCode", "output", "timedOut").</summary>
        string RunScript(string requestJson);

        /// <summary>From now on reports every guest write to the disk through <paramref name="sink"/>.</summary>
        void AttachChangeTracking(string vmId, string diskId, AsrWriteSink sink);

        /// <summary>Stops reporting writes of the disk; the sink is closed once this returns.</summary>
        void DetachChangeTracking(string vmId, string diskId);
    }

    /// <summary>
    /// A VM host that can also make the isolated networks a test failover with
    /// network type "Isolated" connects its test VM to (version 5 of the host
    /// table); a host without them makes such a test failover fail with
    /// FailedPrecondition saying so.
    /// </summary>
    public interface IAsrIsolatedNetworkHost : IAsrVmHost
    {
        /// <summary>Creates a VM network named <paramref name="name"/> on host <paramref name="hostId"/> that reaches no other network; returns its id. The same name again returns the same network.</summary>
        string CreateIsolatedNetwork(string hostId, string name);

        /// <summary>Deletes a network made by <see cref="CreateIsolatedNetwork"/>; returns normally when it is gone already.</summary>
        void DeleteIsolatedNetwork(string hostId, string networkId);
    }

    /// <summary>
    /// Where a host reports a protected disk's guest writes (the library's
    /// <c>asr_write_sink_t</c>); valid from <see cref="IAsrVmHost.AttachChangeTracking"/>
    /// until the detach of its disk returns. Record may be called from any thread.
    /// </summary>
    public sealed class AsrWriteSink
    {
        private IntPtr _sink;

        internal AsrWriteSink(IntPtr sink, string vmId, string diskId)
        {
            _sink = sink;
            VmId = vmId;
            DiskId = diskId;
        }

        /// <summary>The VM whose disk this sink tracks.</summary>
        public string VmId { get; }

        /// <summary>The tracked disk.</summary>
        public string DiskId { get; }

        /// <summary>False once the disk was detached or attached again.</summary>
        public bool IsOpen => Volatile.Read(ref _sink) != IntPtr.Zero;

        /// <summary>Reports a guest write of <paramref name="length"/> bytes at <paramref name="offset"/>, before it completes to the guest.</summary>
        /// <exception cref="AsrInvalidArgumentException">A write past the end of the disk.</exception>
        /// <exception cref="AsrFailedPreconditionException">Protection of the disk stopped.</exception>
        /// <exception cref="ObjectDisposedException">The disk was detached (or attached again) since.</exception>
        public void Record(ulong offset, ulong length)
        {
            IntPtr sink = Volatile.Read(ref _sink);
            if (sink == IntPtr.Zero)
            {
                throw new ObjectDisposedException(
                    nameof(AsrWriteSink), $"change tracking of disk {DiskId} of VM {VmId} was detached; report writes to the sink of the latest attach");
            }

            Native.Check(NativeMethods.asr_write_sink_record(sink, offset, length));
        }

        internal void Close() => Volatile.Write(ref _sink, IntPtr.Zero);
    }
}
