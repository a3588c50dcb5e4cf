// The engine's collections, as a repository's branches and tags hang off it:
//
//   using var engine = AsrEngine.Open(stateDir, new AsrEngineOptions { KeyFile = kek });
//   engine.Initialize();
//   engine.Vault.Create("contoso-dr", "westeurope");
//   engine.Policies.Create(new ReplicationPolicy { Name = "gold", ReplicationProvider = ReplicationProvider.HyperVReplica2012R2 });
//   engine.ProtectionContainerMappings.Create("GoldCloud1", "GoldCloud2", policy: "gold");
//   engine.ProtectedItems.Enable("VM1");
//   engine.ProtectedItems["VM1"].TestFailover(networkType: "Isolated");
//
// Each collection object is made once per engine; its reads go to the engine
// every time.

using System;
using Asr.Model;

namespace Asr
{
    /// <summary>The collections of an engine.</summary>
    public sealed partial class AsrEngine
    {
        private AsrVaultOperations? _vault;
        private AsrServerCollection? _servers;
        private AsrInventory? _inventory;
        private AsrPolicyCollection? _policies;
        private AsrProtectionContainerMappingCollection? _pairings;
        private AsrProtectedItemCollection? _items;
        private AsrJobCollection? _jobs;

        /// <summary>The vault and its registration keys.</summary>
        public AsrVaultOperations Vault => _vault ??= new AsrVaultOperations(this);

        /// <summary>The registered VMM servers; registration and inventory sync.</summary>
        public AsrServerCollection Servers => _servers ??= new AsrServerCollection(this);

        /// <summary>The fabric the servers reported: sites, clouds, hosts, VMs, networks, storage.</summary>
        public AsrInventory Inventory => _inventory ??= new AsrInventory(this);

        /// <summary>The replication policies.</summary>
        public AsrPolicyCollection Policies => _policies ??= new AsrPolicyCollection(this);

        /// <summary>The cloud pairings (protection container mappings).</summary>
        public AsrProtectionContainerMappingCollection ProtectionContainerMappings => _pairings ??= new AsrProtectionContainerMappingCollection(this);

        /// <summary>The protected items (replication protected items) and their failover.</summary>
        public AsrProtectedItemCollection ProtectedItems => _items ??= new AsrProtectedItemCollection(this);

        /// <summary>The jobs, oldest first.</summary>
        public AsrJobCollection Jobs => _jobs ??= new AsrJobCollection(this);

        /// <summary>Sets how protection reaches the recovery endpoint (null removes it).</summary>
        /// <param name="transport">The settings ("PkiDir" at least).</param>
        /// <exception cref="AsrInvalidArgumentException">A missing PkiDir, ...</exception>
        public void SetTransport(TransportSettings? transport) => AsrProtection.SetTransport(this, transport?.ToJson());

        /// <summary>Starts the site service over this engine (one at a time).</summary>
        /// <param name="settings">The settings (null: the defaults).</param>
        /// <returns>The running site service; dispose it to stop.</returns>
        public AsrSiteService StartSiteService(SiteServiceSettings? settings = null) => AsrSiteService.Start(this, settings?.ToJson());

        /// <summary>Installs <paramref name="host"/> as the engine's VMM host (see <see cref="AsrHostRegistration"/>).</summary>
        /// <param name="host">The host; an <see cref="IAsrVmHost"/> also gets the VM calls.</param>
        /// <returns>The registration; dispose it to remove the host.</returns>
        public AsrHostRegistration InstallHost(IAsrHost host) => AsrHostRegistration.Install(this, host);
    }

    /// <summary>Typed members of the site service.</summary>
    public sealed partial class AsrSiteService
    {
        /// <summary>The service's statistics now.</summary>
        public SiteServiceStatistics Statistics => SiteServiceStatistics.FromJson(Stats());
    }
}
