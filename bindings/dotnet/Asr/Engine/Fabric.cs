// The control plane from the engine: the vault and its registration keys,
// VMM servers and their inventory, cloud pairings (protection container
// mappings) and replication policies.
//
//   engine.Vault.Create("contoso-dr", "westeurope");
//   AsrRegistrationKeyFile key = engine.Vault.GenerateRegistrationKey();
//   engine.Servers.Register(new ServerRegistrationRequest { Credentials = key.Text, FriendlyName = "vmm-ny" });
//   InventoryChangeReport sync = engine.Servers.SyncInventory("vmm-ny");
//   engine.Policies.Create(new ReplicationPolicy { Name = "gold", ReplicationProvider = ReplicationProvider.HyperVReplica2012R2 });
//   CloudPairing pairing = engine.ProtectionContainerMappings.Create("GoldCloud1", "GoldCloud2", policy: "gold");

using System;
using System.Collections.Generic;
using System.Linq;
using Asr.Model;

namespace Asr
{
    /// <summary>A registration key file: its text (what a server registers with) and its fields.</summary>
    public sealed class AsrRegistrationKeyFile
    {
        internal AsrRegistrationKeyFile(string text)
        {
            Text = text;
            Key = RegistrationKey.FromJson(text);
        }

        /// <summary>The key file's contents, as <c>asrctl key generate</c> writes them.</summary>
        public string Text { get; }

        /// <summary>The key's fields (vault, key id, issue and expiry times).</summary>
        public RegistrationKey Key { get; }
    }

    /// <summary>The vault of an engine's state directory (engine.Vault).</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrVaultOperations
    {
        private readonly AsrEngine _engine;

        internal AsrVaultOperations(AsrEngine engine) => _engine = engine;

        /// <summary>Whether the state directory holds a vault.</summary>
        public bool Exists
        {
            get
            {
                try
                {
                    _ = AsrVault.Get(_engine);
                    return true;
                }
                catch (AsrNotFoundException)
                {
                    return false;
                }
            }
        }

        /// <summary>Creates the vault (one per state directory).</summary>
        /// <param name="name">The vault's name.</param>
        /// <param name="region">Its region.</param>
        /// <returns>The finished job.</returns>
        /// <exception cref="AsrAlreadyExistsException">The directory already holds a vault.</exception>
        /// <exception cref="AsrFailedPreconditionException">No key file (AsrEngineOptions.KeyFile).</exception>
        public Job Create(string name, string region) => Job.FromJson(AsrVault.Create(_engine, name, region)).Bind(_engine);

        /// <summary>The vault.</summary>
        /// <returns>The vault.</returns>
        /// <exception cref="AsrNotFoundException">No vault yet.</exception>
        public Vault Get() => Vault.FromJson(AsrVault.Get(_engine));

        /// <summary>A new registration key, valid for 5 days.</summary>
        /// <returns>The key file.</returns>
        public AsrRegistrationKeyFile GenerateRegistrationKey() => new AsrRegistrationKeyFile(AsrVault.GenerateRegistrationKey(_engine));

        /// <summary>Verifies a key file's text against the vault.</summary>
        /// <param name="keyFileText">The key file's contents.</param>
        /// <returns>The key.</returns>
        /// <exception cref="AsrUnauthenticatedException">Tampered or expired.</exception>
        /// <exception cref="AsrPermissionDeniedException">Another vault's key.</exception>
        public RegistrationKey VerifyRegistrationKey(string keyFileText) =>
            RegistrationKey.FromJson(AsrVault.VerifyRegistrationKey(_engine, keyFileText));
    }

    /// <summary>The registered VMM servers (engine.Servers), by id or friendly name.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrServerCollection : AsrStoredCollection<VmmServer>
    {
        internal AsrServerCollection(AsrEngine engine)
            : base(engine, "server", s => s.FriendlyName)
        {
        }

        /// <summary>Registers a VMM server (credentials: a registration key file's text).</summary>
        /// <param name="request">The registration.</param>
        /// <returns>The finished job.</returns>
        /// <exception cref="AsrUnauthenticatedException">A tampered or expired key.</exception>
        public Job Register(ServerRegistrationRequest request) =>
            Job.FromJson(AsrFabric.RegisterServer(Engine, (request ?? throw new ArgumentNullException(nameof(request))).ToJson())).Bind(Engine);

        /// <summary>Removes a server and what hangs on it (refused while VMs are protected).</summary>
        /// <param name="server">Its id or friendly name.</param>
        /// <returns>The finished job.</returns>
        public Job Unregister(string server) => Job.FromJson(AsrFabric.UnregisterServer(Engine, server)).Bind(Engine);

        /// <summary>
        /// Syncs a server's inventory: <paramref name="inventory"/> when given, else what the
        /// host callbacks report; of every cloud, or of <paramref name="cloud"/> alone (which
        /// also marks its metadata synced).
        /// </summary>
        /// <param name="server">Its id or friendly name.</param>
        /// <param name="cloud">One cloud (id or name), or null for all.</param>
        /// <param name="inventory">The inventory, or null to ask the host.</param>
        /// <returns>What changed.</returns>
        public InventoryChangeReport SyncInventory(string server, string? cloud = null, Inventory? inventory = null)
        {
            Job job = Job.FromJson(AsrFabric.SyncInventory(Engine, server, inventory?.ToJson(), cloud));
            return job.Result<InventoryChangeReport>() ?? new InventoryChangeReport();
        }

        internal override VmmServer Read(IDictionary<string, object?> json) => VmmServer.Read(json);
    }

    /// <summary>What the vault knows of the VMM servers' fabric (engine.Inventory); read-only.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrInventory
    {
        internal AsrInventory(AsrEngine engine)
        {
            Sites = new StoredKind<Site>(engine, "site", Site.Read, s => s.FriendlyName);
            Clouds = new StoredKind<Cloud>(engine, "cloud", Cloud.Read, c => c.Name);
            HostGroups = new StoredKind<HostGroup>(engine, "host-group", HostGroup.Read, g => g.Name);
            Hosts = new StoredKind<HyperVHost>(engine, "host", HyperVHost.Read, h => h.Name);
            VirtualMachines = new StoredKind<VirtualMachine>(engine, "vm", VirtualMachine.Read, v => v.Name);
            VmNetworks = new StoredKind<VmNetwork>(engine, "vm-network", VmNetwork.Read, n => n.Name);
            LogicalNetworks = new StoredKind<LogicalNetwork>(engine, "logical-network", LogicalNetwork.Read, n => n.Name);
            StorageClassifications = new StoredKind<StorageClassification>(engine, "storage-classification", StorageClassification.Read, c => c.Name);
        }

        /// <summary>The sites ("primary", "recovery").</summary>
        public AsrStoredCollection<Site> Sites { get; }

        /// <summary>The VMM clouds (protection containers).</summary>
        public AsrStoredCollection<Cloud> Clouds { get; }

        /// <summary>The host groups.</summary>
        public AsrStoredCollection<HostGroup> HostGroups { get; }

        /// <summary>The Hyper-V hosts.</summary>
        public AsrStoredCollection<HyperVHost> Hosts { get; }

        /// <summary>The VMs.</summary>
        public AsrStoredCollection<VirtualMachine> VirtualMachines { get; }

        /// <summary>The VM networks.</summary>
        public AsrStoredCollection<VmNetwork> VmNetworks { get; }

        /// <summary>The logical networks.</summary>
        public AsrStoredCollection<LogicalNetwork> LogicalNetworks { get; }

        /// <summary>The storage classifications.</summary>
        public AsrStoredCollection<StorageClassification> StorageClassifications { get; }
    }

    /// <summary>The replication policies (engine.Policies), by id or name.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrPolicyCollection : AsrStoredCollection<ReplicationPolicy>
    {
        internal AsrPolicyCollection(AsrEngine engine)
            : base(engine, "policy", p => p.Name)
        {
        }

        /// <summary>Creates a policy.</summary>
        /// <param name="policy">Its settings (Name and ReplicationProvider at least).</param>
        /// <returns>The stored policy.</returns>
        /// <exception cref="AsrInvalidArgumentException">A value outside its set (the message names the rule).</exception>
        public ReplicationPolicy Create(ReplicationPolicy policy)
        {
            AsrPolicy.Create(Engine, (policy ?? throw new ArgumentNullException(nameof(policy))).ToJson());
            return this[policy.Name];
        }

        /// <summary>Replaces a policy (found by Id, else Name) and reconfigures the hosts it is associated with.</summary>
        /// <param name="policy">The new settings.</param>
        /// <returns>The stored policy.</returns>
        public ReplicationPolicy Update(ReplicationPolicy policy)
        {
            AsrPolicy.Update(Engine, (policy ?? throw new ArgumentNullException(nameof(policy))).ToJson());
            return this[policy.Id.Length != 0 ? policy.Id : policy.Name];
        }

        /// <summary>Deletes a policy (refused while associated).</summary>
        /// <param name="policy">Its id or name.</param>
        /// <returns>The finished job.</returns>
        public Job Remove(string policy) => Job.FromJson(AsrPolicy.Delete(Engine, policy)).Bind(Engine);

        /// <summary>Associates a policy with a pairing, configuring every host of it.</summary>
        /// <param name="policy">The policy's id or name.</param>
        /// <param name="pairing">The pairing (id or primary cloud).</param>
        /// <returns>The finished job.</returns>
        /// <exception cref="AsrFailedPreconditionException">Hosts on another OS version (listed in the message).</exception>
        public Job Associate(string policy, string pairing) => Job.FromJson(AsrPolicy.Associate(Engine, policy, pairing)).Bind(Engine);

        /// <summary>Removes the policy from a pairing.</summary>
        /// <param name="pairing">The pairing (id or primary cloud).</param>
        /// <returns>The finished job.</returns>
        public Job Dissociate(string pairing) => Job.FromJson(AsrPolicy.Dissociate(Engine, pairing)).Bind(Engine);

        internal override ReplicationPolicy Read(IDictionary<string, object?> json) => ReplicationPolicy.Read(json);
    }

    /// <summary>
    /// The cloud pairings (engine.ProtectionContainerMappings: Site Recovery's protection
    /// container mappings), by id or primary cloud (id or name).
    /// </summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrProtectionContainerMappingCollection : AsrCollection<CloudPairing>
    {
        internal AsrProtectionContainerMappingCollection(AsrEngine engine)
            : base(engine)
        {
        }

        /// <summary>Pairs a primary cloud with a recovery cloud and, when <paramref name="policy"/> is given, associates it.</summary>
        /// <param name="primaryCloud">The primary cloud (id or name).</param>
        /// <param name="recoveryCloud">The recovery cloud (id or name).</param>
        /// <param name="policy">A policy to associate (id or name), or null.</param>
        /// <returns>The pairing.</returns>
        /// <exception cref="AsrFailedPreconditionException">A cloud already paired (Rule CloudInAtMostOnePairing), ...</exception>
        public CloudPairing Create(string primaryCloud, string recoveryCloud, string? policy = null)
        {
            AsrFabric.PairClouds(Engine, primaryCloud, recoveryCloud);
            if (policy != null)
            {
                AsrPolicy.Associate(Engine, policy, primaryCloud);
            }

            return this[primaryCloud];
        }

        /// <summary>Removes a pairing (by id or primary cloud); dissociate its policy first.</summary>
        /// <param name="pairing">The pairing.</param>
        /// <returns>The finished job.</returns>
        public Job Remove(string pairing) => Job.FromJson(AsrFabric.UnpairClouds(Engine, pairing)).Bind(Engine);

        internal override string ListJson() => Engine.ListObjects("pairing");

        internal override CloudPairing Read(IDictionary<string, object?> json) => CloudPairing.Read(json);

        internal override CloudPairing Get(string key)
        {
            List<CloudPairing> all = this.ToList();
            CloudPairing? hit = all.FirstOrDefault(p => p.Id == key || p.PrimaryCloudId == key);
            if (hit == null)
            {
                Cloud? cloud = Engine.Inventory.Clouds.FirstOrDefault(c => c.Name == key || c.Id == key);
                hit = cloud == null ? null : all.FirstOrDefault(p => p.PrimaryCloudId == cloud.Id);
            }

            return hit ?? throw new AsrNotFoundException($"no cloud pairing has id or primary cloud '{key}'");
        }
    }
}
