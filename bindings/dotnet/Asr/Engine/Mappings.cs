// Network and storage mappings and replica placement from the engine:
//
//   MappingChangeReport r = engine.NetworkMappings.Add("vmn1-ny", "vmn1-chi");
//   NetworkMappingTable table = engine.NetworkMappings.Table();
//   engine.StorageMappings.Add("sc-gold", "sc-gold-t");
//   ReplicaPlacement where = engine.ShowPlacement("VM1");

using System.Collections.Generic;
using Asr.Model;

namespace Asr
{
    /// <summary>The network mappings (engine.NetworkMappings), by id or source VM network.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrNetworkMappingCollection : AsrStoredCollection<NetworkMapping>
    {
        internal AsrNetworkMappingCollection(AsrEngine engine)
            : base(engine, "network-mapping", m => m.SourceVmNetworkId)
        {
        }

        /// <summary>Maps a source VM network to a target one (or, with <paramref name="replace"/>, changes its mapping).</summary>
        /// <param name="sourceNetwork">The source VM network (id or name).</param>
        /// <param name="targetNetwork">The target VM network (id or name).</param>
        /// <param name="replace">Change an existing mapping of the source.</param>
        /// <returns>Which replica NICs of protected VMs change.</returns>
        /// <exception cref="AsrAlreadyExistsException">The source is mapped and <paramref name="replace"/> is false.</exception>
        public MappingChangeReport Add(string sourceNetwork, string targetNetwork, bool replace = false) =>
            MappingChangeReport.FromJson(AsrNetworkMapping.Add(Engine, sourceNetwork, targetNetwork, replace));

        /// <summary>Removes a mapping (by id or source VM network).</summary>
        /// <param name="mappingOrSourceNetwork">The mapping.</param>
        /// <returns>Which replica NICs change.</returns>
        public MappingChangeReport Remove(string mappingOrSourceNetwork) =>
            MappingChangeReport.FromJson(AsrNetworkMapping.Remove(Engine, mappingOrSourceNetwork));

        /// <summary>Every VM network and what it is mapped to.</summary>
        /// <returns>The table.</returns>
        public NetworkMappingTable Table() => NetworkMappingTable.FromJson(AsrNetworkMapping.List(Engine));

        /// <summary>Which target networks are available to a source network, per pairing.</summary>
        /// <param name="sourceNetwork">The source VM network.</param>
        /// <param name="targetNetwork">One target to ask about, or null for all.</param>
        /// <returns>The availability table.</returns>
        public TargetNetworkTable Targets(string sourceNetwork, string? targetNetwork = null) =>
            TargetNetworkTable.FromJson(AsrNetworkMapping.Targets(Engine, sourceNetwork, targetNetwork));

        /// <summary>The network and subnet each replica NIC of a VM joins.</summary>
        /// <param name="vm">The VM (id or name).</param>
        /// <returns>One resolution per NIC.</returns>
        public VmNicResolutions Resolve(string vm) => VmNicResolutions.FromJson(AsrNetworkMapping.Resolve(Engine, vm));

        /// <summary>What the original VM's NIC joins on failback.</summary>
        /// <param name="request">The NIC and its networks.</param>
        /// <returns>The resolution.</returns>
        public FailbackResolution Failback(FailbackRequest request) =>
            FailbackResolution.FromJson(AsrNetworkMapping.Failback(Engine, (request ?? throw new System.ArgumentNullException(nameof(request))).ToJson()));

        internal override NetworkMapping Read(IDictionary<string, object?> json) => NetworkMapping.Read(json);
    }

    /// <summary>The storage mappings (engine.StorageMappings), by id or source classification.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrStorageMappingCollection : AsrStoredCollection<StorageMapping>
    {
        internal AsrStorageMappingCollection(AsrEngine engine)
            : base(engine, "storage-mapping", m => m.SourceClassificationId)
        {
        }

        /// <summary>Maps a source storage classification to a target one.</summary>
        /// <param name="sourceClassification">The source (id or name).</param>
        /// <param name="targetClassification">The target (id or name).</param>
        /// <param name="replace">Change an existing mapping of the source.</param>
        /// <returns>The change.</returns>
        public StorageMappingChange Add(string sourceClassification, string targetClassification, bool replace = false) =>
            StorageMappingChange.FromJson(AsrStorageMapping.Add(Engine, sourceClassification, targetClassification, replace));

        /// <summary>Removes a mapping (by id or source classification).</summary>
        /// <param name="mappingOrSourceClassification">The mapping.</param>
        /// <returns>The change.</returns>
        public StorageMappingChange Remove(string mappingOrSourceClassification) =>
            StorageMappingChange.FromJson(AsrStorageMapping.Remove(Engine, mappingOrSourceClassification));

        /// <summary>Every classification and what it is mapped to.</summary>
        /// <returns>The table.</returns>
        public StorageMappingTable Table() => StorageMappingTable.FromJson(AsrStorageMapping.List(Engine));

        /// <summary>Where each replica disk of a VM goes on <paramref name="host"/> (null: the placed host).</summary>
        /// <param name="vm">The VM (id or name).</param>
        /// <param name="host">A recovery host, or null.</param>
        /// <returns>One placement per disk.</returns>
        public VmDiskResolutions Resolve(string vm, string? host = null) => VmDiskResolutions.FromJson(AsrStorageMapping.Resolve(Engine, vm, host));

        internal override StorageMapping Read(IDictionary<string, object?> json) => StorageMapping.Read(json);
    }

    /// <summary>Replica placement from the engine.</summary>
    public sealed partial class AsrEngine
    {
        private AsrNetworkMappingCollection? _networkMappings;
        private AsrStorageMappingCollection? _storageMappings;

        /// <summary>The network mappings.</summary>
        public AsrNetworkMappingCollection NetworkMappings => _networkMappings ??= new AsrNetworkMappingCollection(this);

        /// <summary>The storage mappings.</summary>
        public AsrStorageMappingCollection StorageMappings => _storageMappings ??= new AsrStorageMappingCollection(this);

        /// <summary>Where a VM's replica goes: host, per-disk path, per-NIC network (Placed false with an Explanation when no host qualifies).</summary>
        /// <param name="vm">The VM (id or name).</param>
        /// <param name="pairingId">A pairing, or null for the VM's cloud's.</param>
        /// <returns>The placement.</returns>
        public ReplicaPlacement ShowPlacement(string vm, string? pairingId = null) => ReplicaPlacement.FromJson(AsrPlacement.Show(this, vm, pairingId));
    }
}
