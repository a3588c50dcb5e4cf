// Protected items (Site Recovery's replication protected items), their
// failover, reprotection and recovery points; every failover cmdlet also
// takes a recovery plan instead of an item (one job over the plan's groups).
//
//   New-AsrReplicationProtectedItem -ProtectableItem VM1
//   $vm1 = Get-AsrReplicationProtectedItem VM1
//   $vm1 | Start-AsrTestFailoverJob -Direction PrimaryToRecovery -Isolated
//   $vm1 | Start-AsrTestFailoverCleanupJob
//   $vm1 | Start-AsrPlannedFailoverJob -Direction PrimaryToRecovery
//   $vm1 | Start-AsrCommitFailoverJob
//   $vm1 | Update-AsrProtectionDirection -Direction RecoveryToPrimary      # reprotect
//   $vm1 | Start-AsrPlannedFailoverJob -Direction RecoveryToPrimary       # failback ...
//   $vm1 | Start-AsrCommitFailoverJob
//   $vm1 | Update-AsrProtectionDirection -Direction PrimaryToRecovery     # ... and home
//   Start-AsrUnplannedFailoverJob VM1 -Direction PrimaryToRecovery -PerformSourceSideAction
//   Remove-AsrReplicationProtectedItem VM1

using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;
using AsrJob = Asr.Model.Job;

namespace Asr.PowerShell
{
    /// <summary>Enables protection of a VM (its replica VM, then the initial replication).</summary>
    [Cmdlet(VerbsCommon.New, "AsrReplicationProtectedItem", SupportsShouldProcess = true)]
    [OutputType(typeof(AsrJob))]
    public sealed class NewAsrReplicationProtectedItemCommand : AsrCmdlet
    {
        /// <summary>The VM (protectable item), by id or name.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("VM")]
        public AsrRef ProtectableItem { get; set; } = null!;

        /// <summary>A name for the item (Az's parameter; the item's id is derived from its VM).</summary>
        [Parameter]
        public string? Name { get; set; }

        /// <summary>The cloud pairing (default: the VM's cloud's).</summary>
        [Parameter]
        public AsrRef? ProtectionContainerMapping { get; set; }

        /// <summary>The recovery host (default: placement chooses).</summary>
        [Parameter]
        public string? RecoveryHost { get; set; }

        /// <summary>Marks the VMM-to-VMM parameter set (as Az's); the only one here.</summary>
        [Parameter]
        public SwitchParameter VmmToVmm { get; set; }

        /// <summary>Run as a PowerShell job.</summary>
        [Parameter]
        public SwitchParameter AsJob { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            string vm = ProtectableItem.Key;
            if (!ShouldProcess(vm, "Enable protection"))
            {
                return;
            }

            AsrEngine engine = Engine;
            string? pairing = ProtectionContainerMapping?.Key;
            RunLong("Enable protection of " + vm, vm,
                    (p, ct) => engine.ProtectedItems.EnableAsync(vm, pairing, RecoveryHost, p, ct), AsJob.IsPresent);
        }
    }

    /// <summary>The protected items, with their state, health and allowed operations.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrReplicationProtectedItem")]
    [OutputType(typeof(ProtectedItem))]
    public sealed class GetAsrReplicationProtectedItemCommand : AsrCmdlet
    {
        /// <summary>One item, by item id, VM id or VM name.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public string? Name { get; set; }

        /// <summary>Only the items of this cloud pairing.</summary>
        [Parameter]
        public AsrRef? ProtectionContainerMapping { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            string? pairing = ProtectionContainerMapping == null ? null : Engine.ProtectionContainerMappings[ProtectionContainerMapping.Key].Id;
            IEnumerable<ProtectedItem> items = Name == null ? Engine.ProtectedItems.ToList() : new List<ProtectedItem> { Engine.ProtectedItems[Name] };
            WriteObject(items.Where(i => pairing == null || i.PairingId == pairing).ToList(), true);
        }
    }

    /// <summary>Disables protection of an item (its replica VM removed).</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrReplicationProtectedItem", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(AsrJob))]
    public sealed class RemoveAsrReplicationProtectedItemCommand : AsrCmdlet
    {
        /// <summary>The item.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public AsrRef ReplicationProtectedItem { get; set; } = null!;

        /// <summary>Remove the item even when the host cannot remove the replica VM.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(ReplicationProtectedItem.Key, "Disable protection"))
            {
                WriteObject(Engine.ProtectedItems.Disable(ReplicationProtectedItem.Key, Force.IsPresent));
            }
        }
    }

    /// <summary>The recovery points of an item, oldest first.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrRecoveryPoint")]
    [OutputType(typeof(RecoveryPoint))]
    public sealed class GetAsrRecoveryPointCommand : AsrCmdlet
    {
        /// <summary>The item.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public AsrRef ReplicationProtectedItem { get; set; } = null!;

        /// <summary>One point, by id.</summary>
        [Parameter]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process() =>
            WriteObject(Engine.ProtectedItems[ReplicationProtectedItem.Key].RecoveryPoints()
                .Where(p => Name == null || p.Id == Name).ToList(), true);
    }

    /// <summary>What the failover cmdlets share: an item or a recovery plan, -AsJob, and the run.</summary>
    public abstract class FailoverCmdlet : AsrCmdlet
    {
        /// <summary>The protected item.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "ByItem", ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public AsrRef ReplicationProtectedItem { get; set; } = null!;

        /// <summary>A recovery plan instead: the operation over all its VMs, group by group.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "ByPlan")]
        public AsrRef RecoveryPlan { get; set; } = null!;

        /// <summary>Run as a PowerShell job.</summary>
        [Parameter]
        public SwitchParameter AsJob { get; set; }

        /// <summary>The operation's name (ReplicationProtectedItemOperation).</summary>
        protected abstract string Operation { get; }

        /// <summary>The direction given, if the cmdlet has one.</summary>
        protected virtual string? DirectionValue => null;

        /// <summary>Fills the operation's inputs.</summary>
        /// <param name="p">The inputs.</param>
        protected virtual void Fill(FailoverParams p)
        {
        }

        /// <inheritdoc/>
        protected override void Process()
        {
            var input = new FailoverParams { Operation = Operation, Direction = DirectionValue ?? string.Empty };
            Fill(input);
            AsrEngine engine = Engine;
            if (ParameterSetName == "ByPlan")
            {
                string plan = RecoveryPlan.Key;
                if (!ShouldProcess(plan, Operation + " of the recovery plan"))
                {
                    return;
                }

                RecoveryPlan recoveryPlan = engine.RecoveryPlans[plan];
                var request = new RecoveryPlanRunRequest
                {
                    Operation = input.Operation,
                    Direction = input.Direction,
                    RecoveryTag = input.RecoveryTag,
                    NetworkType = input.NetworkType,
                    NetworkId = input.NetworkId,
                    Optimize = input.Optimize,
                    PerformSourceSideAction = input.PerformSourceSideAction,
                };
                RunLong($"{Operation} of recovery plan {recoveryPlan.Name}", plan,
                        (p, ct) => recoveryPlan.RunAsync(request, p, ct), AsJob.IsPresent);
                return;
            }

            ProtectedItem item = engine.ProtectedItems[ReplicationProtectedItem.Key];
            if (ShouldProcess(item.VmName, Operation))
            {
                RunLong($"{Operation} of {item.VmName}", item, (p, ct) => item.FailoverAsync(input, p, ct), AsJob.IsPresent);
            }
        }

    }

    /// <summary>A test failover: a test VM from a point, beside production replication.</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrTestFailoverJob", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class StartAsrTestFailoverJobCommand : FailoverCmdlet
    {
        /// <summary>The direction of the failover.</summary>
        [Parameter(Mandatory = true)]
        [ValidateSet("PrimaryToRecovery", "RecoveryToPrimary")]
        public string Direction { get; set; } = string.Empty;

        /// <summary>Connect the test VM to this VM network (else to none, or -Isolated).</summary>
        [Parameter]
        public AsrRef? VMNetwork { get; set; }

        /// <summary>Connect the test VM to an isolated network the host creates.</summary>
        [Parameter]
        public SwitchParameter Isolated { get; set; }

        /// <summary>Which point.</summary>
        [Parameter]
        [ValidateSet("Latest", "LatestAvailable", "LatestAvailableApplicationConsistent")]
        public string? RecoveryTag { get; set; }

        /// <summary>A point instead of a tag (Get-AsrRecoveryPoint).</summary>
        [Parameter]
        public AsrRef? RecoveryPoint { get; set; }

        /// <inheritdoc/>
        protected override string Operation => "TestFailover";

        /// <inheritdoc/>
        protected override string? DirectionValue => Direction;

        /// <inheritdoc/>
        protected override void Fill(FailoverParams p)
        {
            p.NetworkType = VMNetwork != null ? "VmNetwork" : Isolated.IsPresent ? "Isolated" : "None";
            p.NetworkId = VMNetwork?.Key ?? string.Empty;
            p.RecoveryTag = RecoveryTag ?? string.Empty;
            p.RecoveryPointId = RecoveryPoint?.Key ?? string.Empty;
        }
    }

    /// <summary>Deletes the test VM, its views and its isolated network.</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrTestFailoverCleanupJob", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class StartAsrTestFailoverCleanupJobCommand : FailoverCmdlet
    {
        /// <summary>Notes on the test (kept in the job's description only).</summary>
        [Parameter]
        public string? Comment { get; set; }

        /// <inheritdoc/>
        protected override string Operation => "TestFailoverCleanup";
    }

    /// <summary>A planned failover: the source shuts down, its last changes cross, the replica starts (no data loss).</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrPlannedFailoverJob", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class StartAsrPlannedFailoverJobCommand : FailoverCmdlet
    {
        /// <summary>The direction of the failover.</summary>
        [Parameter(Mandatory = true)]
        [ValidateSet("PrimaryToRecovery", "RecoveryToPrimary")]
        public string Direction { get; set; } = string.Empty;

        /// <summary>ForDownTime: the job is suspended; Resume-AsrJob does the final synchronization and shutdown.</summary>
        [Parameter]
        [ValidateSet("ForDownTime", "ForSynchronization")]
        public string Optimize { get; set; } = "ForSynchronization";

        /// <inheritdoc/>
        protected override string Operation => "PlannedFailover";

        /// <inheritdoc/>
        protected override string? DirectionValue => Direction;

        /// <inheritdoc/>
        protected override void Fill(FailoverParams p) => p.Optimize = Optimize;
    }

    /// <summary>An unplanned failover to a recovery point (the data lost shows on the item).</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrUnplannedFailoverJob", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class StartAsrUnplannedFailoverJobCommand : FailoverCmdlet
    {
        /// <summary>The direction of the failover.</summary>
        [Parameter(Mandatory = true)]
        [ValidateSet("PrimaryToRecovery", "RecoveryToPrimary")]
        public string Direction { get; set; } = string.Empty;

        /// <summary>Shut the source down first when it answers.</summary>
        [Parameter]
        [Alias("PerformSourceSideActions")]
        public SwitchParameter PerformSourceSideAction { get; set; }

        /// <summary>Which point.</summary>
        [Parameter]
        [ValidateSet("Latest", "LatestAvailable", "LatestAvailableApplicationConsistent", "LatestAvailableCrashConsistent")]
        public string? RecoveryTag { get; set; }

        /// <summary>A point instead of a tag (Get-AsrRecoveryPoint).</summary>
        [Parameter]
        public AsrRef? RecoveryPoint { get; set; }

        /// <inheritdoc/>
        protected override string Operation => "UnplannedFailover";

        /// <inheritdoc/>
        protected override string? DirectionValue => Direction;

        /// <inheritdoc/>
        protected override void Fill(FailoverParams p)
        {
            p.PerformSourceSideAction = PerformSourceSideAction.IsPresent;
            p.RecoveryTag = RecoveryTag ?? string.Empty;
            p.RecoveryPointId = RecoveryPoint?.Key ?? string.Empty;
        }
    }

    /// <summary>Commits a failover (the recovery points are discarded; the failed-over VM stays).</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrCommitFailoverJob", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class StartAsrCommitFailoverJobCommand : FailoverCmdlet
    {
        /// <inheritdoc/>
        protected override string Operation => "Commit";
    }

    /// <summary>
    /// Reprotects (reverse-replicates) a committed item: the old source's disks become the
    /// replica and only the blocks that differ are sent. After a failback's commit it
    /// protects the item in its original direction again.
    /// </summary>
    [Cmdlet(VerbsData.Update, "AsrProtectionDirection", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class UpdateAsrProtectionDirectionCommand : FailoverCmdlet
    {
        /// <summary>The direction replication runs in afterwards.</summary>
        [Parameter(Mandatory = true)]
        [ValidateSet("PrimaryToRecovery", "RecoveryToPrimary")]
        public string Direction { get; set; } = string.Empty;

        /// <summary>Marks the VMM-to-VMM parameter set (as Az's); the only one here.</summary>
        [Parameter]
        public SwitchParameter VmmToVmm { get; set; }

        /// <inheritdoc/>
        protected override string Operation => "ReverseReplicate";
    }
}
