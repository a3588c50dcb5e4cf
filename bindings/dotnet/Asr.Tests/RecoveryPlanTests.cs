using System;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Recovery plans through the binding, over VMs protected on a simulated fabric.</summary>
    public sealed class RecoveryPlanTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        private static string[] GroupVms(JsonElement plan, int group) =>
            plan.GetProperty("groups")[group].GetProperty("replicationProtectedItems").EnumerateArray()
                .Select(i => i.GetProperty("vmName").GetString()!).ToArray();

        [Fact]
        public void APlanIsCreatedEditedRunSuspendedCancelledAndDeleted()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\"");
            run($"protect enable --vm VM2 --pki \"{pki}\"");

            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            using (JsonDocument p = JsonDocument.Parse(AsrRecoveryPlans.Create(engine, "web", new[] { "VM1", "VM2" })))
            {
                Assert.Equal("rp-web", p.RootElement.GetProperty("id").GetString());
                Assert.Equal(3, p.RootElement.GetProperty("groups").GetArrayLength());
                Assert.Equal("Shutdown", p.RootElement.GetProperty("groups")[0].GetProperty("groupType").GetString());
                Assert.Equal(new[] { "VM1", "VM2" }, GroupVms(p.RootElement, 2));
                Assert.Contains("PlannedFailover",
                    p.RootElement.GetProperty("allowedOperations").EnumerateArray().Select(o => o.GetString()));
            }

            Assert.Throws<AsrNotFoundException>(() => AsrRecoveryPlans.Create(engine, "db", new[] { "VM9" }));
            Assert.Throws<AsrAlreadyExistsException>(() => AsrRecoveryPlans.Create(engine, "web", new[] { "VM1" }));

            AsrRecoveryPlans.AppendGroup(engine, "web");
            using (JsonDocument p = JsonDocument.Parse(AsrRecoveryPlans.MoveVms(engine, "web", new[] { "VM2" }, "Group 2")))
            {
                Assert.Equal(new[] { "VM1" }, GroupVms(p.RootElement, 2));
                Assert.Equal(new[] { "VM2" }, GroupVms(p.RootElement, 3));
                Assert.Equal("Group 2", p.RootElement.GetProperty("groups")[3].GetProperty("name").GetString());
            }

            var busy = Assert.Throws<AsrFailedPreconditionException>(() => AsrRecoveryPlans.RemoveGroup(engine, "web", "Group 1"));
            Assert.Equal("RecoveryPlanGroupNotEmpty", busy.Rule);
            Assert.Contains("VM1", busy.Message);
            Assert.Throws<AsrInvalidArgumentException>(() => AsrRecoveryPlans.AddManualAction(
                engine, "web", "Shutdown", AsrActionPlacement.Start, "check", new[] { "Reprotect" },
                new[] { "PrimaryToRecovery" }, "check the database"));

            AsrRecoveryPlans.AddManualAction(engine, "web", "Shutdown", AsrActionPlacement.Start, "check",
                new[] { "PlannedFailover" }, new[] { "PrimaryToRecovery" }, "check the database in Chicago");
            AsrRecoveryPlans.AddScriptAction(engine, "web", "Group 2", AsrActionPlacement.End, "dns",
                new[] { "PlannedFailover", "UnplannedFailover" }, new[] { "PrimaryToRecovery" }, "/bin/true",
                AsrActionLocation.Recovery, 30);
            Assert.Contains("\"actionName\":\"dns\"", AsrRecoveryPlans.List(engine));

            // The manual action suspends the plan's job before any VM.
            string jobId;
            using (JsonDocument job = JsonDocument.Parse(AsrRecoveryPlans.Run(engine, "web", "PlannedFailover")))
            {
                Assert.Equal("Suspended", job.RootElement.GetProperty("state").GetString());
                Assert.Equal("RecoveryPlanPlannedFailover", job.RootElement.GetProperty("scenarioName").GetString());
                Assert.Contains("check the database in Chicago", job.RootElement.GetProperty("suspendReason").GetString());
                jobId = job.RootElement.GetProperty("id").GetString()!;
            }

            var active = Assert.Throws<AsrFailedPreconditionException>(() => AsrRecoveryPlans.Delete(engine, "web"));
            Assert.Equal("RecoveryPlanJobActive", active.Rule);
            Assert.Contains("\"state\":\"Cancelled\"", AsrJobs.Cancel(engine, jobId));

            // The VMs' planned failover needs the transport this engine was not given:
            // Group 1's VM fails, the job names it and stops there.
            AsrRecoveryPlans.RemoveAction(engine, "web", "Shutdown", "check");
            AsrException failed = Assert.ThrowsAny<AsrException>(() => AsrRecoveryPlans.Run(engine, "web", "PlannedFailover"));
            Assert.Contains("1 of 1 VMs of Group 1", failed.Message);
            Assert.Contains("VM1: ", failed.Message);
            Assert.Equal("RecoveryPlanVmsFailed", failed.Rule);
            Assert.False(string.IsNullOrEmpty(failed.JobId));
            using (JsonDocument p = JsonDocument.Parse(AsrRecoveryPlans.Get(engine, "web")))
            {
                Assert.Equal("Failed", p.RootElement.GetProperty("currentScenarioStatus").GetString());
                Assert.Equal(failed.JobId, p.RootElement.GetProperty("currentScenario").GetProperty("jobId").GetString());
            }

            AsrRecoveryPlans.Delete(engine, "web");
            Assert.Throws<AsrNotFoundException>(() => AsrRecoveryPlans.Get(engine, "web"));
            Assert.Equal("[]", AsrRecoveryPlans.List(engine));
        }
    }
}
