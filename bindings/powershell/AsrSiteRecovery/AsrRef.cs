// A reference to an asr object as cmdlet parameters take it: a name or id
// typed at the prompt, or an object from the pipeline (a protected item from
// Get-AsrReplicationProtectedItem, a policy from Get-AsrPolicy, ...), which
// PowerShell converts through the constructors below.
//
//   Get-AsrReplicationProtectedItem -Name VM1 | Start-AsrCommitFailoverJob
//   Start-AsrCommitFailoverJob -ReplicationProtectedItem VM1

using System;
using Asr.Model;

namespace Asr.PowerShell
{
    /// <summary>An asr object named by id or name, or given as the object itself.</summary>
    public sealed class AsrRef
    {
        /// <summary>A name or id.</summary>
        /// <param name="key">The name or id.</param>
        public AsrRef(string key)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new ArgumentException("an asr object reference needs a name or id");
            }

            Key = key;
        }

        /// <summary>A protected item (its id).</summary>
        /// <param name="o">The item.</param>
        public AsrRef(ProtectedItem o) => (Key, Value) = (o.Id, o);

        /// <summary>A policy (its id).</summary>
        /// <param name="o">The policy.</param>
        public AsrRef(ReplicationPolicy o) => (Key, Value) = (o.Id, o);

        /// <summary>A cloud pairing (its id).</summary>
        /// <param name="o">The pairing.</param>
        public AsrRef(CloudPairing o) => (Key, Value) = (o.Id, o);

        /// <summary>A recovery plan (its id).</summary>
        /// <param name="o">The plan.</param>
        public AsrRef(RecoveryPlan o) => (Key, Value) = (o.Id, o);

        /// <summary>A job (its id).</summary>
        /// <param name="o">The job.</param>
        public AsrRef(Job o) => (Key, Value) = (o.Id, o);

        /// <summary>A VMM server (its id).</summary>
        /// <param name="o">The server.</param>
        public AsrRef(VmmServer o) => (Key, Value) = (o.Id, o);

        /// <summary>A cloud (its id).</summary>
        /// <param name="o">The cloud.</param>
        public AsrRef(Cloud o) => (Key, Value) = (o.Id, o);

        /// <summary>A VM (its id).</summary>
        /// <param name="o">The VM.</param>
        public AsrRef(VirtualMachine o) => (Key, Value) = (o.Id, o);

        /// <summary>A VM network (its id).</summary>
        /// <param name="o">The network.</param>
        public AsrRef(VmNetwork o) => (Key, Value) = (o.Id, o);

        /// <summary>A storage classification (its id).</summary>
        /// <param name="o">The classification.</param>
        public AsrRef(StorageClassification o) => (Key, Value) = (o.Id, o);

        /// <summary>A recovery point (its id).</summary>
        /// <param name="o">The point.</param>
        public AsrRef(RecoveryPoint o) => (Key, Value) = (o.Id, o);

        /// <summary>A network mapping row (its source network).</summary>
        /// <param name="o">The mapping.</param>
        public AsrRef(NetworkMapping o) => (Key, Value) = (o.Id.Length != 0 ? o.Id : o.SourceVmNetworkId, o);

        /// <summary>A storage mapping (its id).</summary>
        /// <param name="o">The mapping.</param>
        public AsrRef(StorageMapping o) => (Key, Value) = (o.Id.Length != 0 ? o.Id : o.SourceClassificationId, o);

        /// <summary>The id or name.</summary>
        public string Key { get; }

        /// <summary>The object, when one was given.</summary>
        public object? Value { get; }

        /// <inheritdoc/>
        public override string ToString() => Key;
    }
}
