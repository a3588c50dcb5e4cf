// Replication policies, cloud pairings (protection container mappings) and
// network and storage classification mappings, with the parameter names
// and value sets of Az's Site Recovery cmdlets.
//
//   $p = New-AsrPolicy -Name gold -ReplicationProvider HyperVReplica2012R2 -ReplicationFrequencyInSeconds 30 -RecoveryPoints 2
//   New-AsrProtectionContainerMapping -Policy $p -PrimaryProtectionContainer GoldCloud1 -RecoveryProtectionContainer GoldCloud2
//   New-AsrNetworkMapping -PrimaryNetwork vmn1-ny -RecoveryNetwork vmn1-chi
//   New-AsrStorageClassificationMapping -PrimaryStorageClassification GOLD -RecoveryStorageClassification GOLD_TARGET
//   Get-AsrPolicy gold
//   Update-AsrPolicy gold -ReplicationFrequencyInSeconds 300 -Compression Enable
//   Remove-AsrPolicy gold
//   Get-AsrProtectionContainerMapping GoldCloud1
//   Remove-AsrProtectionContainerMapping GoldCloud1       # dissociates its policy first
//   Get-AsrNetworkMapping
//   Remove-AsrNetworkMapping vmn1-ny
//   Get-AsrStorageClassificationMapping
//   Remove-AsrStorageClassificationMapping sc-gold

using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Asr.Model;
using AsrJob = Asr.Model.Job;

namespace Asr.PowerShell
{
    /// <summary>The settings New-AsrPolicy and Update-AsrPolicy share (Az's names and value sets).</summary>
    public abstract class PolicySettingsCmdlet : AsrCmdlet
    {
        /// <summary>How often changes are sent.</summary>
        [Parameter]
        [ValidateSet("30", "300", "900")]
        public string? ReplicationFrequencyInSeconds { get; set; }

        /// <summary>How many additional recovery points are kept.</summary>
        [Parameter]
        [Alias("RecoveryPoints")]
        public int? NumberOfRecoveryPointsToRetain { get; set; }

        /// <summary>Every how many hours a point is application-consistent (0: never).</summary>
        [Parameter]
        public int? ApplicationConsistentSnapshotFrequencyInHours { get; set; }

        /// <summary>Initial replication over the network or offline.</summary>
        [Parameter]
        [ValidateSet("Online", "Offline")]
        public string? ReplicationMethod { get; set; }

        /// <summary>Compress what is sent.</summary>
        [Parameter]
        [ValidateSet("Enable", "Disable")]
        public string? Compression { get; set; }

        /// <summary>The port the recovery host listens on.</summary>
        [Parameter]
        public ushort? ReplicationPort { get; set; }

        /// <summary>How hosts authenticate.</summary>
        [Parameter]
        [ValidateSet("Certificate", "Kerberos")]
        public string? Authentication { get; set; }

        /// <summary>Delete the replica VM's disks when protection is disabled.</summary>
        [Parameter]
        [ValidateSet("Required", "NotRequired")]
        public string? ReplicaDeletion { get; set; }

        /// <summary>When the initial replication starts (at most 24 hours from now; default: at once).</summary>
        [Parameter]
        public TimeSpan? ReplicationStartTime { get; set; }

        /// <summary>Applies the given settings to <paramref name="p"/>.</summary>
        /// <param name="p">The policy.</param>
        protected void Apply(ReplicationPolicy p)
        {
            if (ReplicationFrequencyInSeconds != null)
            {
                p.ReplicationFrequencyInSeconds = int.Parse(ReplicationFrequencyInSeconds, System.Globalization.CultureInfo.InvariantCulture);
            }

            p.NumberOfRecoveryPointsToRetain = NumberOfRecoveryPointsToRetain ?? p.NumberOfRecoveryPointsToRetain;
            p.ApplicationConsistentSnapshotFrequencyInHours = ApplicationConsistentSnapshotFrequencyInHours ?? p.ApplicationConsistentSnapshotFrequencyInHours;
            if (ReplicationMethod != null)
            {
                p.ReplicationMethod = ReplicationMethod == "Offline" ? InitialReplicationMethod.Offline : InitialReplicationMethod.OverNetwork;
            }

            if (Compression != null)
            {
                p.CompressionEnabled = Compression == "Enable";
            }

            p.ReplicationPort = ReplicationPort ?? p.ReplicationPort;
            if (Authentication != null)
            {
                p.Authentication = (AuthenticationType)Enum.Parse(typeof(AuthenticationType), Authentication);
            }

            if (ReplicaDeletion != null)
            {
                p.ReplicaDeletion = (ReplicaDeletion)Enum.Parse(typeof(ReplicaDeletion), ReplicaDeletion);
            }

            if (ReplicationStartTime != null)
            {
                if (ReplicationStartTime.Value < TimeSpan.Zero || ReplicationStartTime.Value > TimeSpan.FromHours(24))
                {
                    throw new ArgumentException("ReplicationStartTime must be no later than 24 hours from now (and not in the past)");
                }

                p.ReplicationStartTimeUnix = DateTimeOffset.UtcNow.Add(ReplicationStartTime.Value).ToUnixTimeSeconds();
            }
        }
    }

    /// <summary>Creates a replication policy.</summary>
    [Cmdlet(VerbsCommon.New, "AsrPolicy", SupportsShouldProcess = true)]
    [OutputType(typeof(ReplicationPolicy))]
    public sealed class NewAsrPolicyCommand : PolicySettingsCmdlet
    {
        /// <summary>The policy's name.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string Name { get; set; } = string.Empty;

        /// <summary>The replication provider (VMM to VMM: the Hyper-V Replica ones).</summary>
        [Parameter(Mandatory = true)]
        [ValidateSet("HyperVReplica2012R2", "HyperVReplica2012", "HyperVReplicaAzure")]
        public string ReplicationProvider { get; set; } = string.Empty;

        /// <summary>Marks the VMM-to-VMM parameter set (as Az's); the only one here.</summary>
        [Parameter]
        public SwitchParameter VmmToVmm { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ReplicationProvider == "HyperVReplicaAzure")
            {
                WriteError(new ErrorRecord(new ArgumentException("HyperVReplicaAzure replicates to Azure; between VMM clouds use HyperVReplica2012R2 or HyperVReplica2012"),
                                           "IncorrectReplicationProvider", ErrorCategory.InvalidArgument, ReplicationProvider));
                return;
            }

            var p = new ReplicationPolicy
            {
                Name = Name,
                ReplicationProvider = (Asr.Model.ReplicationProvider)Enum.Parse(typeof(Asr.Model.ReplicationProvider), ReplicationProvider),
            };
            Apply(p);
            if (ShouldProcess(Name, "Create the replication policy"))
            {
                WriteObject(Engine.Policies.Create(p));
            }
        }
    }

    /// <summary>The replication policies.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrPolicy")]
    [OutputType(typeof(ReplicationPolicy))]
    public sealed class GetAsrPolicyCommand : AsrCmdlet
    {
        /// <summary>One policy, by id or name.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (Name == null)
            {
                WriteObject(Engine.Policies.ToList(), true);
            }
            else
            {
                WriteObject(Engine.Policies[Name]);
            }
        }
    }

    /// <summary>Changes a policy's settings and reconfigures the hosts it is associated with.</summary>
    [Cmdlet(VerbsData.Update, "AsrPolicy", SupportsShouldProcess = true)]
    [OutputType(typeof(ReplicationPolicy))]
    public sealed class UpdateAsrPolicyCommand : PolicySettingsCmdlet
    {
        /// <summary>The policy.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("Name")]
        public AsrRef Policy { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            ReplicationPolicy p = Engine.Policies[Policy.Key];
            Apply(p);
            if (ShouldProcess(p.Name, "Update the replication policy"))
            {
                WriteObject(Engine.Policies.Update(p));
            }
        }
    }

    /// <summary>Deletes a policy (refused while associated or in use).</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrPolicy", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(AsrJob))]
    public sealed class RemoveAsrPolicyCommand : AsrCmdlet
    {
        /// <summary>The policy.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("Name")]
        public AsrRef Policy { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Policy.Key, "Delete the replication policy"))
            {
                WriteObject(Engine.Policies.Remove(Policy.Key));
            }
        }
    }

    /// <summary>Pairs a primary cloud with a recovery cloud under a policy (configuring every host of both).</summary>
    [Cmdlet(VerbsCommon.New, "AsrProtectionContainerMapping", SupportsShouldProcess = true)]
    [OutputType(typeof(CloudPairing))]
    public sealed class NewAsrProtectionContainerMappingCommand : AsrCmdlet
    {
        /// <summary>A name for the mapping (Az's parameter; the pairing's id is derived from its clouds).</summary>
        [Parameter]
        public string? Name { get; set; }

        /// <summary>The replication policy.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef Policy { get; set; } = null!;

        /// <summary>The primary cloud.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef PrimaryProtectionContainer { get; set; } = null!;

        /// <summary>The recovery cloud.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef RecoveryProtectionContainer { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess($"{PrimaryProtectionContainer.Key} -> {RecoveryProtectionContainer.Key}", "Pair the clouds under policy " + Policy.Key))
            {
                WriteObject(Engine.ProtectionContainerMappings.Create(PrimaryProtectionContainer.Key, RecoveryProtectionContainer.Key, Policy.Key));
            }
        }
    }

    /// <summary>The cloud pairings (protection container mappings).</summary>
    [Cmdlet(VerbsCommon.Get, "AsrProtectionContainerMapping")]
    [OutputType(typeof(CloudPairing))]
    public sealed class GetAsrProtectionContainerMappingCommand : AsrCmdlet
    {
        /// <summary>One pairing, by id or primary cloud.</summary>
        [Parameter(Position = 0)]
        [Alias("ProtectionContainer")]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (Name == null)
            {
                WriteObject(Engine.ProtectionContainerMappings.ToList(), true);
            }
            else
            {
                WriteObject(Engine.ProtectionContainerMappings[Name]);
            }
        }
    }

    /// <summary>Removes a cloud pairing (its policy dissociated first; refused while VMs are protected).</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrProtectionContainerMapping", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(AsrJob))]
    public sealed class RemoveAsrProtectionContainerMappingCommand : AsrCmdlet
    {
        /// <summary>The pairing (id or primary cloud).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public AsrRef ProtectionContainerMapping { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            CloudPairing pairing = Engine.ProtectionContainerMappings[ProtectionContainerMapping.Key];
            if (!ShouldProcess(pairing.Id, "Remove the cloud pairing"))
            {
                return;
            }

            if (pairing.PolicyId.Length != 0)
            {
                Engine.Policies.Dissociate(pairing.Id);
            }

            WriteObject(Engine.ProtectionContainerMappings.Remove(pairing.Id));
        }
    }

    /// <summary>Maps a primary VM network to a recovery VM network.</summary>
    [Cmdlet(VerbsCommon.New, "AsrNetworkMapping", SupportsShouldProcess = true)]
    [OutputType(typeof(MappingChangeReport))]
    public sealed class NewAsrNetworkMappingCommand : AsrCmdlet
    {
        /// <summary>A name for the mapping (Az's parameter; the mapping is found by its source network).</summary>
        [Parameter]
        public string? Name { get; set; }

        /// <summary>The primary (source) VM network.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef PrimaryNetwork { get; set; } = null!;

        /// <summary>The recovery (target) VM network.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef RecoveryNetwork { get; set; } = null!;

        /// <summary>Change the source network's existing mapping.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess($"{PrimaryNetwork.Key} -> {RecoveryNetwork.Key}", "Map the VM network"))
            {
                WriteObject(Engine.NetworkMappings.Add(PrimaryNetwork.Key, RecoveryNetwork.Key, Force.IsPresent));
            }
        }
    }

    /// <summary>The network mappings.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrNetworkMapping")]
    [OutputType(typeof(NetworkMapping))]
    public sealed class GetAsrNetworkMappingCommand : AsrCmdlet
    {
        /// <summary>One mapping, by id or source network id.</summary>
        [Parameter(Position = 0)]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process() =>
            WriteObject(Name == null ? Engine.NetworkMappings.ToList() : new List<NetworkMapping> { Engine.NetworkMappings[Name] }, true);
    }

    /// <summary>Removes a network mapping (the replicas on it then join no network).</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrNetworkMapping", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(MappingChangeReport))]
    public sealed class RemoveAsrNetworkMappingCommand : AsrCmdlet
    {
        /// <summary>The mapping (id or source network).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public AsrRef NetworkMapping { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(NetworkMapping.Key, "Remove the network mapping"))
            {
                WriteObject(Engine.NetworkMappings.Remove(NetworkMapping.Key));
            }
        }
    }

    /// <summary>Maps a primary storage classification to a recovery one.</summary>
    [Cmdlet(VerbsCommon.New, "AsrStorageClassificationMapping", SupportsShouldProcess = true)]
    [OutputType(typeof(StorageMappingChange))]
    public sealed class NewAsrStorageClassificationMappingCommand : AsrCmdlet
    {
        /// <summary>A name for the mapping (Az's parameter; not stored).</summary>
        [Parameter]
        public string? Name { get; set; }

        /// <summary>The primary storage classification.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef PrimaryStorageClassification { get; set; } = null!;

        /// <summary>The recovery storage classification.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef RecoveryStorageClassification { get; set; } = null!;

        /// <summary>Change the source classification's existing mapping.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess($"{PrimaryStorageClassification.Key} -> {RecoveryStorageClassification.Key}", "Map the storage classification"))
            {
                WriteObject(Engine.StorageMappings.Add(PrimaryStorageClassification.Key, RecoveryStorageClassification.Key, Force.IsPresent));
            }
        }
    }

    /// <summary>The storage classification mappings.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrStorageClassificationMapping")]
    [OutputType(typeof(StorageMapping))]
    public sealed class GetAsrStorageClassificationMappingCommand : AsrCmdlet
    {
        /// <summary>One mapping, by id or source classification id.</summary>
        [Parameter(Position = 0)]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process() =>
            WriteObject(Name == null ? Engine.StorageMappings.ToList() : new List<StorageMapping> { Engine.StorageMappings[Name] }, true);
    }

    /// <summary>Removes a storage classification mapping.</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrStorageClassificationMapping", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(StorageMappingChange))]
    public sealed class RemoveAsrStorageClassificationMappingCommand : AsrCmdlet
    {
        /// <summary>The mapping (id or source classification).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public AsrRef StorageClassificationMapping { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(StorageClassificationMapping.Key, "Remove the storage classification mapping"))
            {
                WriteObject(Engine.StorageMappings.Remove(StorageClassificationMapping.Key));
            }
        }
    }
}
