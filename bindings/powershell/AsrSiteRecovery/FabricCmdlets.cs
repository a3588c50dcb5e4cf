// The vault, its registration keys, the VMM servers (services providers)
// and what they report: sites (fabrics), clouds (protection containers),
// VMs (protectable items), VM networks and storage classifications.
//
//   New-AsrVault -Name contoso-dr -Region eastus
//   $key = New-AsrRegistrationKey -Path ./vault.key
//   Register-AsrServer -FriendlyName vmm-ny -KeyFile ./vault.key -Site primary
//   Sync-AsrInventory -Server vmm-ny
//   Get-AsrProtectableItem -ProtectionContainer GoldCloud1
//   Get-AsrVault
//   Get-AsrServer vmm-ny
//   Unregister-AsrServer vmm-chi -Confirm:$false
//   Get-AsrFabric
//   Get-AsrProtectionContainer GoldCloud1
//   Get-AsrNetwork vmn1-chi
//   Get-AsrStorageClassification GOLD

using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using Asr.Model;
using AsrJob = Asr.Model.Job;

namespace Asr.PowerShell
{
    /// <summary>Creates the vault of the state directory (one per directory) with its keys.</summary>
    [Cmdlet(VerbsCommon.New, "AsrVault", SupportsShouldProcess = true)]
    [OutputType(typeof(Vault))]
    public sealed class NewAsrVaultCommand : AsrCmdlet
    {
        /// <summary>The vault's name.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string Name { get; set; } = string.Empty;

        /// <summary>Its region.</summary>
        [Parameter(Mandatory = true)]
        public string Region { get; set; } = string.Empty;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Name, "Create the vault"))
            {
                Engine.Vault.Create(Name, Region);
                WriteObject(Engine.Vault.Get());
            }
        }
    }

    /// <summary>The vault.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrVault")]
    [OutputType(typeof(Vault))]
    public sealed class GetAsrVaultCommand : AsrCmdlet
    {
        /// <inheritdoc/>
        protected override void Process() => WriteObject(Engine.Vault.Get());
    }

    /// <summary>A new registration key file (valid 5 days) for VMM servers to register with.</summary>
    [Cmdlet(VerbsCommon.New, "AsrRegistrationKey", SupportsShouldProcess = true)]
    [OutputType(typeof(AsrRegistrationKeyFile))]
    public sealed class NewAsrRegistrationKeyCommand : AsrCmdlet
    {
        /// <summary>Also write the key file here.</summary>
        [Parameter(Position = 0)]
        public string? Path { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            AsrRegistrationKeyFile key = Engine.Vault.GenerateRegistrationKey();
            if (Path != null)
            {
                string file = GetUnresolvedProviderPathFromPSPath(Path);
                if (ShouldProcess(file, "Write the registration key file"))
                {
                    File.WriteAllText(file, key.Text);
                }
            }

            WriteObject(key);
        }
    }

    /// <summary>Registers a VMM server (or cluster node) with the vault.</summary>
    [Cmdlet(VerbsLifecycle.Register, "AsrServer", SupportsShouldProcess = true, DefaultParameterSetName = "ByKeyFile")]
    [OutputType(typeof(VmmServer))]
    public sealed class RegisterAsrServerCommand : AsrCmdlet
    {
        /// <summary>The server's friendly name.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string FriendlyName { get; set; } = string.Empty;

        /// <summary>The registration key file.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "ByKeyFile")]
        public string KeyFile { get; set; } = string.Empty;

        /// <summary>The registration key (New-AsrRegistrationKey's output).</summary>
        [Parameter(Mandatory = true, ParameterSetName = "ByKey", ValueFromPipeline = true)]
        public AsrRegistrationKeyFile RegistrationKey { get; set; } = null!;

        /// <summary>The site the server manages.</summary>
        [Parameter]
        [ValidateSet("primary", "recovery")]
        public string Site { get; set; } = "primary";

        /// <summary>Mark every cloud's metadata synced (else sync each cloud with Sync-AsrInventory -ProtectionContainer).</summary>
        [Parameter]
        public SwitchParameter SyncAllCloudMetadata { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            string text = ParameterSetName == "ByKey" ? RegistrationKey.Text : File.ReadAllText(GetUnresolvedProviderPathFromPSPath(KeyFile));
            if (!ShouldProcess(FriendlyName, "Register the VMM server with the vault"))
            {
                return;
            }

            AsrJob job = Engine.Servers.Register(new ServerRegistrationRequest
            {
                Credentials = text,
                FriendlyName = FriendlyName,
                SiteId = Site,
                SyncAllCloudMetadata = SyncAllCloudMetadata.IsPresent,
            });
            WriteObject(job.Result<VmmServer>() ?? Engine.Servers[FriendlyName]);
        }
    }

    /// <summary>The registered VMM servers (services providers).</summary>
    [Cmdlet(VerbsCommon.Get, "AsrServer")]
    [Alias("Get-AsrServicesProvider")]
    [OutputType(typeof(VmmServer))]
    public sealed class GetAsrServerCommand : AsrCmdlet
    {
        /// <summary>One server, by id or friendly name.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("FriendlyName")]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process() => WriteObject(Name == null ? Engine.Servers.ToList() : new List<VmmServer> { Engine.Servers[Name] }, true);
    }

    /// <summary>Unregisters a VMM server and removes what hangs on it (refused while its VMs are protected).</summary>
    [Cmdlet(VerbsLifecycle.Unregister, "AsrServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(AsrJob))]
    public sealed class UnregisterAsrServerCommand : AsrCmdlet
    {
        /// <summary>The server.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public AsrRef Server { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Server.Key, "Unregister the VMM server"))
            {
                WriteObject(Engine.Servers.Unregister(Server.Key));
            }
        }
    }

    /// <summary>Syncs a VMM server's inventory from the host (all clouds, or one cloud, which marks its metadata synced).</summary>
    [Cmdlet(VerbsData.Sync, "AsrInventory", SupportsShouldProcess = true)]
    [OutputType(typeof(InventoryChangeReport))]
    public sealed class SyncAsrInventoryCommand : AsrCmdlet
    {
        /// <summary>The server.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public AsrRef Server { get; set; } = null!;

        /// <summary>One cloud (protection container) only.</summary>
        [Parameter]
        public AsrRef? ProtectionContainer { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Server.Key, "Sync the inventory" + (ProtectionContainer != null ? " of cloud " + ProtectionContainer.Key : string.Empty)))
            {
                WriteObject(Engine.Servers.SyncInventory(Server.Key, ProtectionContainer?.Key));
            }
        }
    }

    /// <summary>Reads of the inventory, one cmdlet per kind, by id or name.</summary>
    /// <typeparam name="T">The kind's model class.</typeparam>
    public abstract class GetInventoryCmdlet<T> : AsrCmdlet
        where T : AsrModelObject
    {
        /// <summary>One object, by id or name.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        public string? Name { get; set; }

        /// <summary>The collection of the kind.</summary>
        /// <returns>It.</returns>
        protected abstract AsrStoredCollection<T> Collection();

        /// <summary>Whether an object passes the cmdlet's filters.</summary>
        /// <param name="value">The object.</param>
        /// <returns>True to write it.</returns>
        protected virtual bool Keep(T value) => true;

        /// <inheritdoc/>
        protected override void Process()
        {
            AsrStoredCollection<T> c = Collection();
            IEnumerable<T> all = Name == null ? c.ToList() : new List<T> { c[Name] };
            WriteObject(all.Where(Keep).ToList(), true);
        }
    }

    /// <summary>The sites (Site Recovery's fabrics): "primary" and "recovery".</summary>
    [Cmdlet(VerbsCommon.Get, "AsrFabric")]
    [OutputType(typeof(Site))]
    public sealed class GetAsrFabricCommand : GetInventoryCmdlet<Site>
    {
        /// <inheritdoc/>
        protected override AsrStoredCollection<Site> Collection() => Engine.Inventory.Sites;
    }

    /// <summary>The VMM clouds (protection containers).</summary>
    [Cmdlet(VerbsCommon.Get, "AsrProtectionContainer")]
    [OutputType(typeof(Cloud))]
    public sealed class GetAsrProtectionContainerCommand : GetInventoryCmdlet<Cloud>
    {
        /// <inheritdoc/>
        protected override AsrStoredCollection<Cloud> Collection() => Engine.Inventory.Clouds;
    }

    /// <summary>The VMs (protectable items), optionally of one cloud.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrProtectableItem")]
    [OutputType(typeof(VirtualMachine))]
    public sealed class GetAsrProtectableItemCommand : GetInventoryCmdlet<VirtualMachine>
    {
        private string? _cloudId;

        /// <summary>The cloud (protection container) whose VMs to list.</summary>
        [Parameter]
        public AsrRef? ProtectionContainer { get; set; }

        /// <inheritdoc/>
        protected override AsrStoredCollection<VirtualMachine> Collection()
        {
            _cloudId = ProtectionContainer == null ? null : Engine.Inventory.Clouds[ProtectionContainer.Key].Id;
            return Engine.Inventory.VirtualMachines;
        }

        /// <inheritdoc/>
        protected override bool Keep(VirtualMachine value) => _cloudId == null || value.CloudId == _cloudId;
    }

    /// <summary>The VM networks.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrNetwork")]
    [OutputType(typeof(VmNetwork))]
    public sealed class GetAsrNetworkCommand : GetInventoryCmdlet<VmNetwork>
    {
        /// <inheritdoc/>
        protected override AsrStoredCollection<VmNetwork> Collection() => Engine.Inventory.VmNetworks;
    }

    /// <summary>The storage classifications.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrStorageClassification")]
    [OutputType(typeof(StorageClassification))]
    public sealed class GetAsrStorageClassificationCommand : GetInventoryCmdlet<StorageClassification>
    {
        /// <inheritdoc/>
        protected override AsrStoredCollection<StorageClassification> Collection() => Engine.Inventory.StorageClassifications;
    }
}
