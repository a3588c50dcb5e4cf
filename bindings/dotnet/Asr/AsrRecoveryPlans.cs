// Recovery plans from .NET (Site Recovery's New-/Get-/Edit-/Remove-
// AzRecoveryServicesAsrRecoveryPlan and the plan failover cmdlets): protected
// VMs of one cloud pairing in ordered groups, failed over together, with
// script and manual actions before and after each group. Plans cross as
// RecoveryPlan JSON (asr/model/recovery_plan.proto), runs as the plan's Job.
//
//   string plan = AsrRecoveryPlans.Create(engine, "web", new[] { "VM1", "VM2" });   // "Group 1"
//   AsrRecoveryPlans.AppendGroup(engine, "web");                                    // "Group 2"
//   AsrRecoveryPlans.MoveVms(engine, "web", new[] { "VM2" }, "Group 2");
//   AsrRecoveryPlans.AddScriptAction(engine, "web", "Group 1", AsrActionPlacement.End, "dns",
//       new[] { "PlannedFailover" }, new[] { "PrimaryToRecovery" }, "/opt/dns.sh", AsrActionLocation.Recovery);
//   string job = AsrRecoveryPlans.Run(engine, "web", "PlannedFailover");            // Succeeded or Suspended
//
// A manual action leaves the job Suspended ("suspendReason" says what to do):
// AsrJobs.Resume continues, AsrJobs.Cancel stops. A failed VM fails the job
// at its group, the others' progress kept: AsrJobs.Restart runs the rest.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Asr
{
    /// <summary>Where a group action runs: before the group's VMs or after them.</summary>
    public enum AsrActionPlacement
    {
        /// <summary>Before the group's VMs (startGroupActions).</summary>
        Start,

        /// <summary>After the group's VMs (endGroupActions).</summary>
        End,
    }

    /// <summary>Where a script action runs (RecoveryPlanActionLocation).</summary>
    public enum AsrActionLocation
    {
        /// <summary>A host of the plan's source side.</summary>
        Primary,

        /// <summary>A host of the plan's target side.</summary>
        Recovery,
    }

    /// <summary>Recovery plans: create, edit, run, delete.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrRecoveryPlans
    {
        /// <summary>
        /// Creates plan <paramref name="name"/> (id "rp-NAME") over protected <paramref name="vms"/>
        /// of one pairing, with groups Shutdown, Failover and <paramref name="bootGroups"/> Boot
        /// groups; the VMs go to Group 1. Returns the plan's JSON.
        /// </summary>
        /// <exception cref="AsrNotFoundException">A VM is not protected.</exception>
        /// <exception cref="AsrFailedPreconditionException">VMs of different pairings (Rule RecoveryPlanSpansPairings).</exception>
        /// <exception cref="AsrAlreadyExistsException">The name is taken.</exception>
        public static string Create(AsrEngine engine, string name, IEnumerable<string> vms, int bootGroups = 1)
        {
            string json = "{\"name\":" + MappingJson.Quote(name ?? throw new ArgumentNullException(nameof(name))) +
                          ",\"items\":" + Strings(vms ?? throw new ArgumentNullException(nameof(vms)), nameof(vms)) +
                          ",\"bootGroups\":" + bootGroups + "}";
            int code = NativeMethods.asr_plan_create(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(json, nameof(name)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>A plan (its id or name) as JSON, with the operations every VM allows now.</summary>
        public static string Get(AsrEngine engine, string plan) =>
            AsrPolicy.Call(NativeMethods.asr_plan_get, engine, plan, nameof(plan));

        /// <summary>Every plan as a JSON array.</summary>
        public static string List(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_plan_list(out BufferHandle b, AsrVault.Eng(engine), 0), b);

        /// <summary>
        /// One change as RecoveryPlanEdit JSON ({"operation": "AppendGroup" | "RemoveGroup" |
        /// "AddProtectedItems" | "RemoveProtectedItems" | "MoveGroup" | "MoveProtectedItems" |
        /// "AddAction" | "RemoveAction", ...}); returns the changed plan.
        /// </summary>
        public static string Edit(AsrEngine engine, string plan, string editJson)
        {
            int code = NativeMethods.asr_plan_edit(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(plan, nameof(plan)), Native.Utf8(editJson, nameof(editJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Appends an empty Boot group ("Group N+1").</summary>
        public static string AppendGroup(AsrEngine engine, string plan) =>
            Edit(engine, plan, "{\"operation\":\"AppendGroup\"}");

        /// <summary>Removes an empty Boot group ("Group N" or "N"); the later ones are renumbered.</summary>
        /// <exception cref="AsrFailedPreconditionException">It holds VMs (Rule RecoveryPlanGroupNotEmpty).</exception>
        public static string RemoveGroup(AsrEngine engine, string plan, string group) =>
            Edit(engine, plan, "{\"operation\":\"RemoveGroup\",\"group\":" + MappingJson.Quote(group) + "}");

        /// <summary>Adds protected VMs to a Boot group.</summary>
        public static string AddVms(AsrEngine engine, string plan, IEnumerable<string> vms, string group = "Group 1") =>
            Edit(engine, plan, "{\"operation\":\"AddProtectedItems\",\"group\":" + MappingJson.Quote(group) +
                               ",\"items\":" + Strings(vms, nameof(vms)) + "}");

        /// <summary>Removes VMs from the plan (they stay protected).</summary>
        public static string RemoveVms(AsrEngine engine, string plan, IEnumerable<string> vms) =>
            Edit(engine, plan, "{\"operation\":\"RemoveProtectedItems\",\"items\":" + Strings(vms, nameof(vms)) + "}");

        /// <summary>Moves VMs of the plan to another Boot group.</summary>
        public static string MoveVms(AsrEngine engine, string plan, IEnumerable<string> vms, string toGroup) =>
            Edit(engine, plan, "{\"operation\":\"MoveProtectedItems\",\"toGroup\":" + MappingJson.Quote(toGroup) +
                               ",\"items\":" + Strings(vms, nameof(vms)) + "}");

        /// <summary>Moves a Boot group to <paramref name="position"/> (1-based among the Boot groups).</summary>
        public static string MoveGroup(AsrEngine engine, string plan, string group, int position) =>
            Edit(engine, plan, "{\"operation\":\"MoveGroup\",\"group\":" + MappingJson.Quote(group) +
                               ",\"position\":" + position + "}");

        /// <summary>
        /// Adds a script action: <paramref name="path"/> runs on a host of the
        /// <paramref name="location"/> side when the plan runs one of <paramref name="failoverTypes"/>
        /// in one of <paramref name="failoverDirections"/>; a non-zero exit or a timeout fails the job.
        /// </summary>
        public static string AddScriptAction(AsrEngine engine, string plan, string group, AsrActionPlacement placement,
            string name, IEnumerable<string> failoverTypes, IEnumerable<string> failoverDirections,
            string path, AsrActionLocation location, int timeoutSeconds = 0) =>
            AddAction(engine, plan, group, placement, name, failoverTypes, failoverDirections,
                "\"script\":{\"path\":" + MappingJson.Quote(path) + ",\"timeoutSeconds\":" + timeoutSeconds +
                ",\"fabricLocation\":\"" + location + "\"}");

        /// <summary>Adds a manual action: the job suspends with <paramref name="description"/> until resumed.</summary>
        public static string AddManualAction(AsrEngine engine, string plan, string group, AsrActionPlacement placement,
            string name, IEnumerable<string> failoverTypes, IEnumerable<string> failoverDirections, string description) =>
            AddAction(engine, plan, group, placement, name, failoverTypes, failoverDirections,
                "\"manual\":{\"description\":" + MappingJson.Quote(description) + "}");

        /// <summary>Removes a group's action by name.</summary>
        public static string RemoveAction(AsrEngine engine, string plan, string group, string name) =>
            Edit(engine, plan, "{\"operation\":\"RemoveAction\",\"group\":" + MappingJson.Quote(group) +
                               ",\"actionName\":" + MappingJson.Quote(name) + "}");

        /// <summary>Deletes a plan (its VMs stay protected).</summary>
        /// <exception cref="AsrFailedPreconditionException">A job of it is in progress or suspended.</exception>
        public static void Delete(AsrEngine engine, string plan) =>
            Native.Check(NativeMethods.asr_plan_delete(AsrVault.Eng(engine), Native.Utf8(plan, nameof(plan)), 0));

        /// <summary>
        /// Runs <paramref name="operation"/> (TestFailover, TestFailoverCleanup, PlannedFailover,
        /// UnplannedFailover, Commit, CancelFailover, ReverseReplicate, Failback) over the plan as
        /// one job; returns the Job JSON (Succeeded, or Suspended at a manual action).
        /// <paramref name="direction"/> null: the operation's usual one.
        /// </summary>
        /// <exception cref="AsrException">The job failed: JobId names it (AsrJobs.Restart runs the rest).</exception>
        public static string Run(AsrEngine engine, string plan, string operation, string? direction = null, int maxParallel = 0)
        {
            string json = "{\"operation\":" + MappingJson.Quote(operation ?? throw new ArgumentNullException(nameof(operation))) +
                          (direction == null ? "" : ",\"direction\":" + MappingJson.Quote(direction)) +
                          ",\"maxParallel\":" + maxParallel + "}";
            return RunJson(engine, plan, json);
        }

        /// <summary>Runs a plan operation from RecoveryPlanRunRequest JSON; returns the Job JSON.</summary>
        public static string RunJson(AsrEngine engine, string plan, string requestJson)
        {
            int code = NativeMethods.asr_plan_run(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(plan, nameof(plan)), Native.Utf8(requestJson, nameof(requestJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        private static string AddAction(AsrEngine engine, string plan, string group, AsrActionPlacement placement, string name,
            IEnumerable<string> failoverTypes, IEnumerable<string> failoverDirections, string details) =>
            Edit(engine, plan, "{\"operation\":\"AddAction\",\"group\":" + MappingJson.Quote(group) +
                               ",\"placement\":\"" + placement + "\",\"action\":{\"actionName\":" + MappingJson.Quote(name) +
                               ",\"failoverTypes\":" + Strings(failoverTypes, nameof(failoverTypes)) +
                               ",\"failoverDirections\":" + Strings(failoverDirections, nameof(failoverDirections)) +
                               "," + details + "}}");

        private static string Strings(IEnumerable<string> values, string what) =>
            "[" + string.Join(",", (values ?? throw new ArgumentNullException(what))
                .Select(v => MappingJson.Quote(v ?? throw new ArgumentNullException(what)))) + "]";
    }
}
