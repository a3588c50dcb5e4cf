using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using Asr.Model;

namespace Asr.Tests
{
    /// <summary>
    /// A VMM host in C# over real files: the VMs it is given (their disks real VHDX files),
    /// replica and test VMs made as asr asks, power states, points read from the live disks,
    /// scripts run as processes, and the write sinks asr hands it. Calls are recorded.
    /// </summary>
    internal sealed class SimulatedHost : IAsrVmHost
    {
        private readonly object _lock = new object();
        private readonly Dictionary<string, VirtualMachine> _vms = new Dictionary<string, VirtualMachine>(StringComparer.Ordinal);
        private int _points;

        public SimulatedHost(IEnumerable<VirtualMachine> vms)
        {
            foreach (VirtualMachine vm in vms)
            {
                _vms[vm.Id] = vm;
            }
        }

        public List<string> Calls { get; } = new List<string>();

        public Dictionary<string, AsrWriteSink> Sinks { get; } = new Dictionary<string, AsrWriteSink>();

        public int PointsHeld { get; private set; }

        /// <summary>A snapshot of a VM the host runs, or null.</summary>
        public VirtualMachine? Vm(string id)
        {
            lock (_lock)
            {
                return _vms.TryGetValue(id, out VirtualMachine? vm) ? VirtualMachine.FromJson(vm.ToJson()) : null;
            }
        }

        /// <summary>Every VM's id and power state.</summary>
        public IReadOnlyDictionary<string, VmPowerState> PowerStates
        {
            get
            {
                lock (_lock)
                {
                    return _vms.ToDictionary(v => v.Key, v => v.Value.PowerState);
                }
            }
        }

        public string GetInventory(string serverJson) => throw new NotSupportedException("this host reports no inventory");

        public void ConfigureHost(string hostJson, string policyJson, string role) => Record("ConfigureHost " + HyperVHost.FromJson(hostJson).Id);

        public void TestProxy(string serverJson, string password)
        {
        }

        public string GetVm(string vmId) => Find(vmId).ToJson();

        public string CreateReplicaVm(string specJson)
        {
            ReplicaVmSpec spec = ReplicaVmSpec.FromJson(specJson);
            Record("CreateReplicaVm " + spec.ReplicaVmId);
            var vm = new VirtualMachine
            {
                Id = spec.ReplicaVmId,
                Name = spec.Name,
                HostId = spec.HostId,
                PowerState = VmPowerState.STOPPED,
            };
            foreach (VirtualDisk d in spec.Disks)
            {
                vm.Disks.Add(d);
            }

            foreach (NetworkAdapter n in spec.NetworkAdapters)
            {
                vm.NetworkAdapters.Add(n);
            }

            lock (_lock)
            {
                if (_vms.TryGetValue(spec.ReplicaVmId, out VirtualMachine? existing))
                {
                    return existing.ToJson();
                }

                _vms[vm.Id] = vm;
            }

            return vm.ToJson();
        }

        public void ConnectNic(string vmId, string nicJson)
        {
            NetworkAdapter nic = NetworkAdapter.FromJson(nicJson);
            Record($"ConnectNic {vmId} {nic.Id} {nic.VmNetworkId}");
            lock (_lock)
            {
                VirtualMachine vm = FindLocked(vmId);
                NetworkAdapter? old = vm.NetworkAdapters.FirstOrDefault(n => n.Id == nic.Id);
                if (old != null)
                {
                    vm.NetworkAdapters.Remove(old);
                }

                vm.NetworkAdapters.Add(nic);
            }
        }

        public void StartVm(string vmId) => SetPower(vmId, VmPowerState.RUNNING, "StartVm");

        public void ShutdownVm(string vmId) => SetPower(vmId, VmPowerState.STOPPED, "ShutdownVm");

        public void TurnOffVm(string vmId) => SetPower(vmId, VmPowerState.STOPPED, "TurnOffVm");

        public void DeleteVm(string vmId, bool deleteDisks)
        {
            Record($"DeleteVm {vmId} {deleteDisks}");
            lock (_lock)
            {
                VirtualMachine vm = FindLocked(vmId);
                _vms.Remove(vmId);
                if (deleteDisks)
                {
                    foreach (VirtualDisk d in vm.Disks.Where(d => File.Exists(d.Path)))
                    {
                        File.Delete(d.Path);
                    }
                }
            }
        }

        public string GetPowerState(string vmId) => Find(vmId).PowerState.ToString();

        public string CreatePoint(string vmId, string type)
        {
            VirtualMachine vm = Find(vmId);
            var point = new HostPoint
            {
                Id = $"point-{Interlocked.Increment(ref _points)}",
                VmId = vmId,
                Type = Enum.TryParse(type, out RecoveryPointType t) ? t : default,
                TimeUs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000,
            };
            foreach (VirtualDisk d in vm.Disks)
            {
                point.Disks.Add(new HostPointDisk { DiskId = d.Id, ReadPath = d.Path });
            }

            lock (_lock)
            {
                PointsHeld++;
            }

            return point.ToJson();
        }

        public void ReleasePoint(string pointJson)
        {
            lock (_lock)
            {
                PointsHeld--;
            }
        }

        public string RunScript(string requestJson)
        {
            ScriptRequest request = ScriptRequest.FromJson(requestJson);
            Record("RunScript " + request.Path);
            var start = new ProcessStartInfo(request.Path) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in request.Arguments)
            {
                start.ArgumentList.Add(a);
            }

            using Process p = Process.Start(start)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return new ScriptResult { ExitCode = p.ExitCode, Output = output }.ToJson();
        }

        public void AttachChangeTracking(string vmId, string diskId, AsrWriteSink sink)
        {
            lock (_lock)
            {
                Sinks[vmId + "/" + diskId] = sink;
            }
        }

        public void DetachChangeTracking(string vmId, string diskId)
        {
            lock (_lock)
            {
                Sinks.Remove(vmId + "/" + diskId);
            }
        }

        private void SetPower(string vmId, VmPowerState state, string call)
        {
            Record(call + " " + vmId);
            lock (_lock)
            {
                FindLocked(vmId).PowerState = state;
            }
        }

        private VirtualMachine Find(string vmId)
        {
            lock (_lock)
            {
                return VirtualMachine.FromJson(FindLocked(vmId).ToJson());
            }
        }

        private VirtualMachine FindLocked(string vmId) =>
            _vms.TryGetValue(vmId, out VirtualMachine? vm) ? vm : throw new AsrNotFoundException($"no VM {vmId} on this host");

        private void Record(string call)
        {
            lock (_lock)
            {
                Calls.Add(call);
            }
        }
    }
}
