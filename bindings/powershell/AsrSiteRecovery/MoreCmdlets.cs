// What the CLI also does, as cmdlets: replica placement, verification and
// resynchronization, the change of a failed-over VM's point and the cancel
// of a failover, bandwidth throttles and replication groups.
//
//   Get-AsrReplicaPlacement -VM VM2
//   Test-AsrReplicationProtectedItem VM1
//   Start-AsrResynchronizeReplicationJob VM1
//   Start-AsrApplyRecoveryPoint VM1 -RecoveryPoint (Get-AsrRecoveryPoint VM1)[0]
//   Start-AsrCancelFailoverJob VM1
//   Set-AsrThrottle -Limit 'Mon-Fri 08:00-18:00 50Mbit/s' -UtcOffset +01:00
//   Clear-AsrThrottle -VM VM1
//   New-AsrReplicationGroup -Name app -ReplicationProtectedItem VM1, VM2
//   Get-AsrThrottle
//   Get-AsrReplicationGroup app
//   Add-AsrReplicationGroupMember app -ReplicationProtectedItem VM3
//   Remove-AsrReplicationGroupMember app -ReplicationProtectedItem VM3
//   Remove-AsrReplicationGroup app

using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Asr.Model;
using AsrJob = Asr.Model.Job;

namespace Asr.PowerShell
{
    /// <summary>Where a VM's replica goes (host, disks, NICs) and why the other hosts do not qualify.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrReplicaPlacement")]
    [OutputType(typeof(ReplicaPlacement))]
    public sealed class GetAsrReplicaPlacementCommand : AsrCmdlet
    {
        /// <summary>The VM (protectable item).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("ProtectableItem")]
        public AsrRef VM { get; set; } = null!;

        /// <summary>The cloud pairing (default: the VM's cloud's).</summary>
        [Parameter]
        public AsrRef? ProtectionContainerMapping { get; set; }

        /// <inheritdoc/>
        protected override void Process() =>
            WriteObject(Engine.ShowPlacement(VM.Key, ProtectionContainerMapping == null ? null : Engine.ProtectionContainerMappings[ProtectionContainerMapping.Key].Id));
    }

    /// <summary>Verifies every replica of an item against what was replicated; a difference marks it for resynchronization.</summary>
    [Cmdlet(VerbsDiagnostic.Test, "AsrReplicationProtectedItem")]
    [OutputType(typeof(ItemVerification))]
    public sealed class TestAsrReplicationProtectedItemCommand : AsrCmdlet
    {
        /// <summary>The protected item.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public AsrRef ReplicationProtectedItem { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process() => WriteObject(Engine.ProtectedItems[ReplicationProtectedItem.Key].Verify());
    }

    /// <summary>Resynchronizes an item that needs it: only the blocks that differ are sent, as one new recovery point.</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrResynchronizeReplicationJob", SupportsShouldProcess = true)]
    [OutputType(typeof(ItemVerification))]
    public sealed class StartAsrResynchronizeReplicationJobCommand : AsrCmdlet
    {
        /// <summary>The protected item.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public AsrRef ReplicationProtectedItem { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            ProtectedItem item = Engine.ProtectedItems[ReplicationProtectedItem.Key];
            if (ShouldProcess(item.VmName, "Resynchronize the replicas"))
            {
                WriteObject(item.Resync());
            }
        }
    }

    /// <summary>Before a commit: runs the failed-over VM from another recovery point.</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrApplyRecoveryPoint", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class StartAsrApplyRecoveryPointCommand : FailoverCmdlet
    {
        /// <summary>The point (Get-AsrRecoveryPoint).</summary>
        [Parameter(Mandatory = true)]
        public AsrRef RecoveryPoint { get; set; } = null!;

        /// <inheritdoc/>
        protected override string Operation => "ChangePit";

        /// <inheritdoc/>
        protected override void Fill(FailoverParams p) => p.RecoveryPointId = RecoveryPoint.Key;
    }

    /// <summary>Before a commit: back to protected; the replica rolls back and the source starts again if the failover stopped it.</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrCancelFailoverJob", SupportsShouldProcess = true, DefaultParameterSetName = "ByItem")]
    [OutputType(typeof(AsrJob))]
    public sealed class StartAsrCancelFailoverJobCommand : FailoverCmdlet
    {
        /// <inheritdoc/>
        protected override string Operation => "CancelFailover";
    }

    /// <summary>Sets the replication bandwidth throttle of the site (or of one VM), replacing the one it had.</summary>
    [Cmdlet(VerbsCommon.Set, "AsrThrottle", SupportsShouldProcess = true)]
    [OutputType(typeof(Throttle))]
    public sealed class SetAsrThrottleCommand : AsrCmdlet
    {
        /// <summary>The VM (default: the whole site).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public string? VM { get; set; }

        /// <summary>Weekly windows, "DAYS HH:MM-HH:MM RATE" (e.g. "Mon-Fri 08:00-18:00 50Mbit/s").</summary>
        [Parameter(Position = 0)]
        public string[] Limit { get; set; } = Array.Empty<string>();

        /// <summary>The rate outside the windows ("unlimited" or a rate).</summary>
        [Parameter]
        public string? DefaultLimit { get; set; }

        /// <summary>The site's local time, as an offset from UTC ("+01:00"; default UTC).</summary>
        [Parameter]
        public string? UtcOffset { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (!ShouldProcess(VM ?? "site", "Set the bandwidth throttle"))
            {
                return;
            }

            WriteObject(VM == null ? Engine.Throttles.SetSite(Limit, DefaultLimit, UtcOffset)
                                   : Engine.Throttles.SetVm(VM, Limit, DefaultLimit, UtcOffset));
        }
    }

    /// <summary>The bandwidth throttles (the site's first), or the one of the site or of a VM.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrThrottle")]
    [OutputType(typeof(Throttle))]
    public sealed class GetAsrThrottleCommand : AsrCmdlet
    {
        /// <summary>The VM ("site" for the site's); default: every throttle.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public string? VM { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (VM != null)
            {
                WriteObject(VM == "site" ? Engine.Throttles.Site : Engine.Throttles[VM]);
                return;
            }

            WriteObject(Engine.Throttles.ToList(), true);
        }
    }

    /// <summary>Removes the throttle of the site or of a VM: it replicates without that limit from the next second.</summary>
    [Cmdlet(VerbsCommon.Clear, "AsrThrottle", SupportsShouldProcess = true)]
    public sealed class ClearAsrThrottleCommand : AsrCmdlet
    {
        /// <summary>The VM (default: the site).</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("VmName")]
        public string? VM { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(VM ?? "site", "Clear the bandwidth throttle"))
            {
                Engine.Throttles.Clear(VM);
            }
        }
    }

    /// <summary>Creates a replication group: its VMs get shared (multi-VM consistent) recovery points.</summary>
    [Cmdlet(VerbsCommon.New, "AsrReplicationGroup", SupportsShouldProcess = true)]
    [OutputType(typeof(ReplicationGroup))]
    public sealed class NewAsrReplicationGroupCommand : AsrCmdlet
    {
        /// <summary>The group's name.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string Name { get; set; } = string.Empty;

        /// <summary>Its protected items (of one cloud pairing, at most 16).</summary>
        [Parameter]
        public AsrRef[] ReplicationProtectedItem { get; set; } = Array.Empty<AsrRef>();

        /// <summary>Seconds between shared points (0: the members' copy frequency; else 30 .. 86400).</summary>
        [Parameter]
        public int SyncIntervalSeconds { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Name, "Create the replication group"))
            {
                WriteObject(Engine.ReplicationGroups.Create(Name, ReplicationProtectedItem.Select(r => r.Key), SyncIntervalSeconds));
            }
        }
    }

    /// <summary>The replication groups.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrReplicationGroup")]
    [OutputType(typeof(ReplicationGroup))]
    public sealed class GetAsrReplicationGroupCommand : AsrCmdlet
    {
        /// <summary>One group, by id or name.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            WriteObject(Name == null ? Engine.ReplicationGroups.ToList() : new List<ReplicationGroup> { Engine.ReplicationGroups[Name] }, true);
        }
    }

    /// <summary>Adds protected items to a replication group.</summary>
    [Cmdlet(VerbsCommon.Add, "AsrReplicationGroupMember", SupportsShouldProcess = true)]
    [OutputType(typeof(ReplicationGroup))]
    public sealed class AddAsrReplicationGroupMemberCommand : AsrCmdlet
    {
        /// <summary>The group (id or name).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string ReplicationGroup { get; set; } = string.Empty;

        /// <summary>The protected items to add.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        public AsrRef[] ReplicationProtectedItem { get; set; } = Array.Empty<AsrRef>();

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(ReplicationGroup, "Add " + string.Join(", ", ReplicationProtectedItem.Select(r => r.Key))))
            {
                WriteObject(Engine.ReplicationGroups.AddMembers(ReplicationGroup, ReplicationProtectedItem.Select(r => r.Key)));
            }
        }
    }

    /// <summary>Removes protected items from a replication group (they replicate on their own again).</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrReplicationGroupMember", SupportsShouldProcess = true)]
    [OutputType(typeof(ReplicationGroup))]
    public sealed class RemoveAsrReplicationGroupMemberCommand : AsrCmdlet
    {
        /// <summary>The group (id or name).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string ReplicationGroup { get; set; } = string.Empty;

        /// <summary>The protected items to remove.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        public AsrRef[] ReplicationProtectedItem { get; set; } = Array.Empty<AsrRef>();

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(ReplicationGroup, "Remove " + string.Join(", ", ReplicationProtectedItem.Select(r => r.Key))))
            {
                WriteObject(Engine.ReplicationGroups.RemoveMembers(ReplicationGroup, ReplicationProtectedItem.Select(r => r.Key)));
            }
        }
    }

    /// <summary>Deletes a replication group and its shared points; its VMs stay protected.</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrReplicationGroup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    public sealed class RemoveAsrReplicationGroupCommand : AsrCmdlet
    {
        /// <summary>The group (id or name).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string Name { get; set; } = string.Empty;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Name, "Delete the replication group"))
            {
                Engine.ReplicationGroups.Remove(Name);
            }
        }
    }
}
