using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;
using Xunit;

namespace Asr.Tests
{
    /// <summary>A whole protection and failover cycle through the typed API, with a VMM host in C#.</summary>
    public sealed class ScenarioTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        [Fact]
        public async Task ProtectTestFailoverFailOverCommitReprotectFailBack()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out _);
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            var transport = new TransportSettings { PkiDir = pki, PointIntervalSeconds = 1 };
            engine.SetTransport(transport);
            VirtualMachine source = engine.Inventory.VirtualMachines["VM1"];
            source.PowerState = VmPowerState.RUNNING;
            Assert.True(File.Exists(source.Disks[0].Path), source.Disks[0].Path);
            var host = new SimulatedHost(new[] { source });
            using AsrHostRegistration registration = engine.InstallHost(host);
            using AsrSiteService site = engine.StartSiteService(new SiteServiceSettings { Threads = false, Transport = transport });

            Job enable = await engine.ProtectedItems.EnableAsync("VM1");
            Assert.Equal(JobState.Succeeded, enable.State);
            DateTime until = DateTime.UtcNow.AddSeconds(20);
            while (engine.ProtectedItems["VM1"].RecoveryPoints().Count < 1 && DateTime.UtcNow < until)
            {
                // The guest writes: the host reports it through the sink asr attached.
                lock (host.Sinks)
                {
                    foreach (AsrWriteSink sink in host.Sinks.Values)
                    {
                        sink.Record(0, 4096);
                    }
                }

                site.Step();
                Thread.Sleep(300);
            }

            ProtectedItem vm1 = engine.ProtectedItems["VM1"];
            Assert.Equal(ProtectionState.Protected, vm1.ProtectionState);
            Assert.True(vm1.RecoveryPoints().Count >= 1, $"{vm1.RecoveryPoints().Count} points; {vm1.ToJson()}");

            Job test = vm1.TestFailover(networkType: "None");
            Assert.Equal(JobState.Succeeded, test.State);
            vm1 = vm1.Refresh();
            Assert.Contains("TestFailoverCleanup", vm1.AllowedOperations);
            Assert.Contains(host.PowerStates, p => p.Key != source.Id && p.Value == VmPowerState.RUNNING);
            Assert.Equal(JobState.Succeeded, vm1.TestFailoverCleanup().State);
            Assert.DoesNotContain(host.PowerStates, p => p.Key != source.Id && p.Value == VmPowerState.RUNNING);

            var progress = new List<Job>();
            Job planned = await vm1.Refresh().PlannedFailoverAsync(progress: new SyncProgress(progress));
            Assert.Equal(JobState.Succeeded, planned.State);
            Assert.Equal(planned.Id, progress.Last().Id);
            vm1 = vm1.Refresh();
            Assert.Equal(ProtectionState.PlannedFailoverCompleted, vm1.ProtectionState);
            Assert.Equal(VmPowerState.STOPPED, host.PowerStates[source.Id]);
            Assert.Equal(VmPowerState.RUNNING, host.PowerStates[vm1.ReplicaVmId]);

            Assert.Equal(JobState.Succeeded, (await vm1.CommitAsync()).State);
            Assert.Equal(JobState.Succeeded, (await vm1.Refresh().ReverseReplicateAsync()).State);
            vm1 = vm1.Refresh();
            Assert.Contains("Failback", vm1.AllowedOperations);
            Assert.Equal(JobState.Succeeded, (await vm1.FailbackAsync()).State);
            vm1 = vm1.Refresh();
            Assert.Equal(VmPowerState.RUNNING, host.PowerStates[source.Id]);
            Assert.Equal(VmPowerState.STOPPED, host.PowerStates[vm1.ReplicaVmId]);
            Assert.Equal(ProtectionState.Protected, vm1.ProtectionState);
            Assert.Equal("primary", vm1.ActiveSiteId);
            Assert.Contains("PlannedFailover", vm1.AllowedOperations);
            Assert.Contains("ShutdownVm vm1", host.Calls);
            Assert.Contains("ShutdownVm vm1-replica", host.Calls);

            // An unplanned failover, shutting the source down first, then cancelled: back to protected.
            Job unplanned = vm1.UnplannedFailover(performSourceSideAction: true);
            Assert.Equal(JobState.Succeeded, unplanned.State);
            vm1 = vm1.Refresh();
            Assert.Contains("CancelFailover", vm1.AllowedOperations);
            Assert.Equal(VmPowerState.RUNNING, host.PowerStates[vm1.ReplicaVmId]);
            Assert.Equal(JobState.Succeeded, vm1.CancelFailover().State);
            vm1 = vm1.Refresh();
            Assert.Equal(ProtectionState.Protected, vm1.ProtectionState);
            Assert.Equal(VmPowerState.RUNNING, host.PowerStates[source.Id]);
            Assert.Equal(VmPowerState.STOPPED, host.PowerStates[vm1.ReplicaVmId]);

            // And a planned one, the synchronous way, cancelled too.
            Assert.Equal(JobState.Succeeded, vm1.PlannedFailover().State);
            Assert.Equal(JobState.Succeeded, vm1.Refresh().CancelFailover().State);
            Assert.Equal(0, host.PointsHeld);
            string[] scenarios = engine.Jobs.Select(j => j.ScenarioName).ToArray();
            foreach (string s in new[] { "EnableProtection", "TestFailover", "TestFailoverCleanup", "PlannedFailover", "CommitFailover", "ReverseReplicate", "Failback" })
            {
                Assert.True(scenarios.Contains(s), s + " not among " + string.Join(", ", scenarios));
            }
        }

        private sealed class SyncProgress : IProgress<Job>
        {
            private readonly List<Job> _jobs;

            public SyncProgress(List<Job> jobs) => _jobs = jobs;

            public void Report(Job value)
            {
                lock (_jobs)
                {
                    _jobs.Add(value);
                }
            }
        }
    }
}
