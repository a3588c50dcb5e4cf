// Failover of protected VMs from .NET: test failover and its cleanup,
// planned and unplanned failover, change of recovery point, commit and
// cancel, each one job (asr/failover/failover_service.h). Jobs come back as
// Job JSON; the item (AsrProtection.GetItem) shows "protectionState",
// "testFailoverState", "activeLocation", "failoverRecoveryPointId",
// "dataLossSeconds", "dataLossCycles" and the last failover times.
//
//   AsrFailover.TestFailover(engine, "VM1", networkType: "Isolated");
//   AsrFailover.TestFailoverCleanup(engine, "VM1");
//   AsrFailover.PlannedFailover(engine, "VM1");          // zero data loss
//   AsrFailover.Commit(engine, "VM1");
//   AsrFailover.UnplannedFailover(engine, "VM2", recoveryTag: "LatestAvailable", performSourceSideAction: true);
//   AsrFailover.Cancel(engine, "VM2");

using System;
using System.Collections.Generic;

namespace Asr
{
    /// <summary>The failover operations of one protected VM, each run as a job.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrFailover
    {
        /// <summary>
        /// Runs an operation ("TestFailover", "TestFailoverCleanup", "PlannedFailover",
        /// "UnplannedFailover", "Commit", "CancelFailover", "ChangePit") with a FailoverParams
        /// JSON input ({"itemId", "direction", "recoveryTag", "recoveryPointId", "networkType",
        /// "networkId", "optimize", "performSourceSideAction"}). Returns the job's JSON.
        /// </summary>
        /// <exception cref="AsrInvalidArgumentException">An unknown operation or value.</exception>
        /// <exception cref="AsrNotFoundException">No such item or recovery point.</exception>
        /// <exception cref="AsrFailedPreconditionException">Not allowed in the item's state (the message names it), or the VM would run on both sides.</exception>
        public static string Start(AsrEngine engine, string operation, string inputJson)
        {
            int code = NativeMethods.asr_failover_start(
                out BufferHandle b, AsrVault.Eng(engine),
                Native.Utf8(operation ?? throw new ArgumentNullException(nameof(operation)), nameof(operation)),
                Native.Utf8(inputJson ?? throw new ArgumentNullException(nameof(inputJson)), nameof(inputJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>A test VM from a view of the point, beside production replication; networkType "None", "Isolated" or "VmNetwork" (with networkId).</summary>
        public static string TestFailover(AsrEngine engine, string item, string recoveryTag = "LatestAvailable",
                                          string? recoveryPointId = null, string networkType = "None", string? networkId = null) =>
            Start(engine, "TestFailover", Input(item, ("recoveryTag", recoveryTag), ("recoveryPointId", recoveryPointId),
                                                ("networkType", networkType), ("networkId", networkId)));

        /// <summary>Deletes the test VM, its views and its isolated network.</summary>
        public static string TestFailoverCleanup(AsrEngine engine, string item) =>
            Start(engine, "TestFailoverCleanup", Input(item));

        /// <summary>Shuts the source down, sends the last changes and starts the replica; optimize "ForSynchronization" or "ForDownTime" (the job ends Suspended).</summary>
        public static string PlannedFailover(AsrEngine engine, string item, string optimize = "ForSynchronization") =>
            Start(engine, "PlannedFailover", Input(item, ("optimize", optimize)));

        /// <summary>Fails over to a point by tag or id; the data lost is on the item.</summary>
        public static string UnplannedFailover(AsrEngine engine, string item, string recoveryTag = "LatestAvailable",
                                               string? recoveryPointId = null, bool performSourceSideAction = false) =>
            Start(engine, "UnplannedFailover", Input(item, performSourceSideAction ? "\"performSourceSideAction\":true" : null,
                                                     ("recoveryTag", recoveryTag), ("recoveryPointId", recoveryPointId)));

        /// <summary>Before commit: runs the failed-over VM from another point.</summary>
        public static string ChangeRecoveryPoint(AsrEngine engine, string item, string recoveryPointId) =>
            Start(engine, "ChangePit", Input(item, ("recoveryPointId", recoveryPointId ?? throw new ArgumentNullException(nameof(recoveryPointId)))));

        /// <summary>Makes the failover final (the recovery points are discarded).</summary>
        public static string Commit(AsrEngine engine, string item) => Start(engine, "Commit", Input(item));

        /// <summary>Back to protected: the replica rolled back, the source started again if the failover stopped it.</summary>
        public static string Cancel(AsrEngine engine, string item) => Start(engine, "CancelFailover", Input(item));

        private static string Input(string item, params (string Name, string? Value)[] fields) => Input(item, null, fields);

        private static string Input(string item, string? extra, params (string Name, string? Value)[] fields)
        {
            var parts = new List<string> { "\"itemId\":" + MappingJson.Quote(item ?? throw new ArgumentNullException(nameof(item))) };
            if (extra != null) parts.Add(extra);
            foreach (var (name, value) in fields)
            {
                if (value != null) parts.Add(MappingJson.Quote(name) + ":" + MappingJson.Quote(value));
            }
            return "{" + string.Join(",", parts) + "}";
        }
    }
}
