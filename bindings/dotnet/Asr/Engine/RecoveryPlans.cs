// Recovery plans from the engine (New/Get/Edit/Remove-...RecoveryPlan and
// the plan failover jobs):
//
//   RecoveryPlan web = engine.RecoveryPlans.Create("web", new[] { "VM1", "VM2" });
//   web = web.AppendGroup().MoveProtectedItems(new[] { "VM2" }, "Group 2");
//   web = web.AddAction("Group 1", "End", new RecoveryPlanAction { ActionName = "check", ... });
//   Job job = await web.RunAsync(new RecoveryPlanRunRequest { Operation = "TestFailover" }, progress, ct);

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;

namespace Asr.Model
{
    /// <summary>A recovery plan read from an engine has its operations.</summary>
    public sealed partial class RecoveryPlan
    {
        private AsrEngine? _engine;

        /// <summary>Re-reads the plan.</summary>
        /// <returns>A fresh snapshot.</returns>
        public RecoveryPlan Refresh() => FromJson(AsrRecoveryPlans.Get(Bound, Id)).Bind(Bound);

        /// <summary>Applies one change; a refused change changes nothing.</summary>
        /// <param name="edit">The change (Operation: AppendGroup, RemoveGroup, AddProtectedItems, ...).</param>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan Edit(RecoveryPlanEdit edit) =>
            FromJson(AsrRecoveryPlans.Edit(Bound, Id, (edit ?? throw new ArgumentNullException(nameof(edit))).ToJson())).Bind(Bound);

        /// <summary>Appends an empty Boot group.</summary>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan AppendGroup() => Edit(new RecoveryPlanEdit { Operation = "AppendGroup" });

        /// <summary>Removes an empty Boot group ("Group N" or "N").</summary>
        /// <param name="group">The group.</param>
        /// <returns>The changed plan.</returns>
        /// <exception cref="AsrFailedPreconditionException">It holds VMs (Rule RecoveryPlanGroupNotEmpty).</exception>
        public RecoveryPlan RemoveGroup(string group) => Edit(new RecoveryPlanEdit { Operation = "RemoveGroup", Group = group });

        /// <summary>Adds protected VMs to a Boot group.</summary>
        /// <param name="items">VM names or ids, or protected item ids.</param>
        /// <param name="group">The group.</param>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan AddProtectedItems(IEnumerable<string> items, string group = "Group 1") =>
            Edit(WithItems(new RecoveryPlanEdit { Operation = "AddProtectedItems", Group = group }, items));

        /// <summary>Removes VMs from the plan (they stay protected).</summary>
        /// <param name="items">The VMs.</param>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan RemoveProtectedItems(IEnumerable<string> items) =>
            Edit(WithItems(new RecoveryPlanEdit { Operation = "RemoveProtectedItems" }, items));

        /// <summary>Moves VMs of the plan to another Boot group.</summary>
        /// <param name="items">The VMs.</param>
        /// <param name="toGroup">The group.</param>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan MoveProtectedItems(IEnumerable<string> items, string toGroup) =>
            Edit(WithItems(new RecoveryPlanEdit { Operation = "MoveProtectedItems", ToGroup = toGroup }, items));

        /// <summary>Moves a Boot group to <paramref name="position"/> (1-based among the Boot groups).</summary>
        /// <param name="group">The group.</param>
        /// <param name="position">Its new position.</param>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan MoveGroup(string group, int position) =>
            Edit(new RecoveryPlanEdit { Operation = "MoveGroup", Group = group, Position = position });

        /// <summary>Adds a script or manual action to a group.</summary>
        /// <param name="group">The group ("Shutdown", "Failover", "Group N").</param>
        /// <param name="placement">"Start" (before the group's VMs) or "End".</param>
        /// <param name="action">The action (Script or Manual set).</param>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan AddAction(string group, string placement, RecoveryPlanAction action) =>
            Edit(new RecoveryPlanEdit { Operation = "AddAction", Group = group, Placement = placement, Action = action ?? throw new ArgumentNullException(nameof(action)) });

        /// <summary>Removes a group's action by name.</summary>
        /// <param name="group">The group.</param>
        /// <param name="actionName">The action.</param>
        /// <returns>The changed plan.</returns>
        public RecoveryPlan RemoveAction(string group, string actionName) =>
            Edit(new RecoveryPlanEdit { Operation = "RemoveAction", Group = group, ActionName = actionName });

        /// <summary>Runs an operation over the plan as one job.</summary>
        /// <param name="request">The operation and its inputs.</param>
        /// <returns>The job (Succeeded, or Suspended at a manual action).</returns>
        /// <exception cref="AsrException">The job failed: JobId names it (Job.Restart runs the rest).</exception>
        public Job Run(RecoveryPlanRunRequest request) =>
            Job.FromJson(AsrRecoveryPlans.RunJson(Bound, Id, (request ?? throw new ArgumentNullException(nameof(request))).ToJson())).Bind(Bound);

        /// <summary><see cref="Run"/> as a Task, with progress and cancellation.</summary>
        /// <param name="request">The operation and its inputs.</param>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The job.</returns>
        public Task<Job> RunAsync(RecoveryPlanRunRequest request, IProgress<Job>? progress = null, CancellationToken cancellationToken = default)
        {
            string json = (request ?? throw new ArgumentNullException(nameof(request))).ToJson();
            AsrEngine engine = Bound;
            string id = Id;
            return AsrJobRunner.RunAsync(engine, () => AsrRecoveryPlans.RunJson(engine, id, json), id, progress, cancellationToken);
        }

        internal RecoveryPlan Bind(AsrEngine engine)
        {
            _engine = engine;
            return this;
        }

        private AsrEngine Bound => _engine ?? throw new InvalidOperationException(
            $"recovery plan {Id} was not read from an engine; get it from engine.RecoveryPlans[\"{Name}\"]");

        private static RecoveryPlanEdit WithItems(RecoveryPlanEdit edit, IEnumerable<string> items)
        {
            foreach (string item in items ?? throw new ArgumentNullException(nameof(items)))
            {
                edit.Items.Add(item ?? throw new ArgumentNullException(nameof(items)));
            }

            return edit;
        }
    }
}

namespace Asr
{
    /// <summary>The recovery plans (engine.RecoveryPlans), by id or name.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrRecoveryPlanCollection : AsrCollection<RecoveryPlan>
    {
        internal AsrRecoveryPlanCollection(AsrEngine engine)
            : base(engine)
        {
        }

        /// <summary>Creates a plan over protected VMs of one pairing, all in Group 1.</summary>
        /// <param name="name">The plan's name (its id is "rp-NAME").</param>
        /// <param name="items">VM names or ids, or protected item ids.</param>
        /// <param name="bootGroups">How many Boot groups (1 .. 20).</param>
        /// <returns>The plan.</returns>
        /// <exception cref="AsrNotFoundException">A VM is not protected.</exception>
        /// <exception cref="AsrFailedPreconditionException">VMs of different pairings (Rule RecoveryPlanSpansPairings).</exception>
        public RecoveryPlan Create(string name, IEnumerable<string> items, int bootGroups = 1) =>
            RecoveryPlan.FromJson(AsrRecoveryPlans.Create(Engine, name, items, bootGroups)).Bind(Engine);

        /// <summary>Deletes a plan (its VMs stay protected).</summary>
        /// <param name="plan">Its id or name.</param>
        /// <exception cref="AsrFailedPreconditionException">A job of it is active (Rule RecoveryPlanJobActive).</exception>
        public void Remove(string plan) => AsrRecoveryPlans.Delete(Engine, plan);

        internal override string ListJson() => AsrRecoveryPlans.List(Engine);

        internal override RecoveryPlan Read(IDictionary<string, object?> json) => RecoveryPlan.Read(json);

        internal override RecoveryPlan Bind(RecoveryPlan value) => value.Bind(Engine);

        internal override RecoveryPlan Get(string key) => RecoveryPlan.FromJson(AsrRecoveryPlans.Get(Engine, key));
    }

    /// <summary>Recovery plans from the engine.</summary>
    public sealed partial class AsrEngine
    {
        private AsrRecoveryPlanCollection? _plans;

        /// <summary>The recovery plans.</summary>
        public AsrRecoveryPlanCollection RecoveryPlans => _plans ??= new AsrRecoveryPlanCollection(this);
    }
}
