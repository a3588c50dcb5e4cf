using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;
using Xunit;

namespace Asr.Tests
{
    /// <summary>The Task wrappers of long jobs: progress while the job runs, cancellation between its tasks.</summary>
    public sealed class AsyncJobTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        /// <summary>Records every report, on the reporting thread (Progress&lt;T&gt; would post to the thread pool).</summary>
        private sealed class Recorder : IProgress<Job>
        {
            public ConcurrentQueue<Job> Reports { get; } = new ConcurrentQueue<Job>();

            public void Report(Job value) => Reports.Enqueue(value);
        }

        /// <summary>A VM host whose GetVm waits at a gate, so that the enable job is seen running.</summary>
        private sealed class GatedHost : IAsrVmHost
        {
            private readonly string _vmJson;

            public GatedHost(string vmJson) => _vmJson = vmJson;

            public ManualResetEventSlim Entered { get; } = new ManualResetEventSlim();

            public ManualResetEventSlim Gate { get; } = new ManualResetEventSlim();

            public string GetInventory(string serverJson) => throw new NotSupportedException("GetInventory");

            public void ConfigureHost(string hostJson, string policyJson, string role)
            {
            }

            public void TestProxy(string serverJson, string password)
            {
            }

            public string GetVm(string vmId)
            {
                Entered.Set();
                Assert.True(Gate.Wait(TimeSpan.FromSeconds(30)), "the test never opened the gate");
                return _vmJson;
            }

            public string CreateReplicaVm(string specJson) => throw new NotSupportedException("CreateReplicaVm");

            public void ConnectNic(string vmId, string nicJson) => throw new NotSupportedException("ConnectNic");

            public void StartVm(string vmId) => throw new NotSupportedException("StartVm");

            public void ShutdownVm(string vmId) => throw new NotSupportedException("ShutdownVm");

            public void TurnOffVm(string vmId) => throw new NotSupportedException("TurnOffVm");

            public void DeleteVm(string vmId, bool deleteDisks) => throw new NotSupportedException("DeleteVm");

            public string GetPowerState(string vmId) => "RUNNING";

            public string CreatePoint(string vmId, string type) => throw new NotSupportedException("CreatePoint");

            public void ReleasePoint(string pointJson) => throw new NotSupportedException("ReleasePoint");

            public string RunScript(string requestJson) => throw new NotSupportedException("RunScript");

            public void AttachChangeTracking(string vmId, string diskId, AsrWriteSink sink) => throw new NotSupportedException("Attach");

            public void DetachChangeTracking(string vmId, string diskId) => throw new NotSupportedException("Detach");
        }

        /// <summary>
        /// EnableAsync: the running job is reported while the host holds it; cancelling the
        /// token cancels the job between its tasks, and the Task throws OperationCanceledException
        /// carrying the job's AsrException; the job is recorded Cancelled.
        /// </summary>
        [Fact]
        public async Task EnableAsyncReportsTheRunningJobAndCancelsIt()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out _);
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.SetTransport(new TransportSettings { PkiDir = pki });
            VirtualMachine vm = engine.Inventory.VirtualMachines["VM1"];
            vm.PowerState = VmPowerState.RUNNING;
            var host = new GatedHost(vm.ToJson());
            using AsrHostRegistration registration = engine.InstallHost(host);
            var progress = new Recorder();
            using var cts = new CancellationTokenSource();

            Task<Job> enable = engine.ProtectedItems.EnableAsync("VM1", progress: progress, cancellationToken: cts.Token);
            Assert.True(host.Entered.Wait(TimeSpan.FromSeconds(20)), "the host's GetVm was never called");
            DateTime until = DateTime.UtcNow.AddSeconds(10);
            while (progress.Reports.IsEmpty && DateTime.UtcNow < until)
            {
                await Task.Delay(20);
            }

            Job running = Assert.Single(progress.Reports.Take(1));
            Assert.Equal(JobState.InProgress, running.State);
            Assert.Equal("EnableProtection", running.ScenarioName);
            Assert.InRange(running.PercentComplete, 0, 99);
            cts.Cancel();
            // The runner passes the cancel on at its next poll; the running job keeps its own
            // record, so the request shows only in the job's outcome.
            await Task.Delay(TimeSpan.FromSeconds(1));
            host.Gate.Set();
            var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => enable);
            Assert.Equal(cts.Token, cancelled.CancellationToken);
            var inner = Assert.IsAssignableFrom<AsrException>(cancelled.InnerException);
            Assert.Equal(AsrStatusCode.Cancelled, inner.StatusCode);
            Assert.Equal(running.Id, inner.JobId);
            Assert.Equal(JobState.Cancelled, engine.Jobs[running.Id].State);
            // The item stays, failed, until protection is disabled or the job restarted.
            ProtectedItem item = Assert.Single(engine.ProtectedItems);
            Assert.Equal(ProtectionState.EnablingFailed, item.ProtectionState);
            Assert.Equal(running.Id, item.CurrentScenario!.JobId);
        }

        /// <summary>A token cancelled before the call starts no job.</summary>
        [Fact]
        public async Task AnAlreadyCancelledTokenStartsNothing()
        {
            AsrctlTool.PrepareProtection(_dir, out _);
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            int jobs = engine.Jobs.Count();
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.ProtectedItems.EnableAsync("VM1", cancellationToken: cts.Token));
            Assert.Equal(jobs, engine.Jobs.Count());
            Assert.Throws<ArgumentNullException>(() => { _ = engine.ProtectedItems.EnableAsync(null!); });
        }

        /// <summary>
        /// Failing and refused jobs through the Task wrappers: the Task faults with the
        /// AsrException (JobId set), and the finished job is the last report.
        /// </summary>
        [Fact]
        public async Task TaskWrappersFaultWithTheStructuredError()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\"");
            run($"protect enable --vm VM2 --pki \"{pki}\"");
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            var progress = new Recorder();
            // A plan's run suspends at a manual action; ResumeAsync continues it (and it fails
            // at its VMs for want of a host, naming the same job).
            RecoveryPlan plan = engine.RecoveryPlans.Create("web", new[] { "VM2" });
            plan = plan.AddAction("Shutdown", "Start", new RecoveryPlanAction
            {
                ActionName = "ok",
                FailoverTypes = { "TestFailover" },
                FailoverDirections = { "PrimaryToRecovery" },
                Manual = new RecoveryPlanManualActionDetails { Description = "confirm" },
            });
            Job suspended = await plan.RunAsync(new RecoveryPlanRunRequest { Operation = "TestFailover" }, progress);
            Assert.Equal(JobState.Suspended, suspended.State);
            Assert.Same(suspended, progress.Reports.Last());
            AsrException resumed = await Assert.ThrowsAnyAsync<AsrException>(() => suspended.ResumeAsync(progress));
            Assert.Equal(suspended.Id, resumed.JobId);

            ProtectedItem vm1 = engine.ProtectedItems["VM1"];

            // Refused before any job: not allowed in the item's state.
            var commit = await Assert.ThrowsAsync<AsrFailedPreconditionException>(() => vm1.CommitAsync(progress));
            Assert.Contains("Commit is not allowed", commit.Message);
            await Assert.ThrowsAsync<AsrFailedPreconditionException>(() => vm1.TestFailoverCleanupAsync());
            await Assert.ThrowsAsync<AsrFailedPreconditionException>(() => vm1.ReverseReplicateAsync());
            await Assert.ThrowsAsync<AsrFailedPreconditionException>(() => vm1.FailbackAsync());

            // A job that runs and fails: this engine has no host to start a test VM.
            AsrException test = await Assert.ThrowsAnyAsync<AsrException>(() => vm1.TestFailoverAsync("Isolated", progress: progress));
            Assert.True(test.JobId.StartsWith("job-", StringComparison.Ordinal), test.Message);
            Job failedJob = engine.Jobs[test.JobId];
            Assert.Equal(JobState.Failed, failedJob.State);
            Assert.Equal("TestFailover", failedJob.ScenarioName);
            await Assert.ThrowsAnyAsync<AsrException>(() => failedJob.RestartAsync(progress));
            // Whatever state that left, a planned or unplanned failover cannot succeed without a host.
            AsrException planned = await Assert.ThrowsAnyAsync<AsrException>(() => vm1.Refresh().PlannedFailoverAsync());
            Assert.Contains("no host is attached", planned.Message);
            Assert.Equal(JobState.Failed, engine.Jobs[planned.JobId].State);
            // The failed planned failover allows only what undoes it.
            AsrException unplanned = await Assert.ThrowsAnyAsync<AsrException>(() => vm1.Refresh().UnplannedFailoverAsync(performSourceSideAction: true));
            Assert.Equal("OperationNotAllowedInState", unplanned.Rule);
            await Assert.ThrowsAsync<ArgumentNullException>(() => vm1.FailoverAsync(null!));

        }
    }
}
