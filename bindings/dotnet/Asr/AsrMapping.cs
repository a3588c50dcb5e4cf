// Network and storage mappings and replica placement from .NET. Objects
// (VMs, networks, classifications, hosts) are named by id or unique name;
// results are JSON strings of the messages in asr/model/mapping.proto
// (MappingChangeReport, NetworkMappingTable, TargetNetworkTable,
// VmNicResolutions, FailbackResolution, StorageMappingChange,
// StorageMappingTable, VmDiskResolutions, ReplicaPlacement). Changes run as
// jobs; their results name the job in "jobId". A refused change throws the
// AsrException subclass of its status code (AsrAlreadyExistsException when
// the source is already mapped and `replace` is false).

namespace Asr
{
    /// <summary>Network mappings: source VM network to target VM network.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrNetworkMapping
    {
        /// <summary>
        /// Maps <paramref name="sourceNetwork"/> to <paramref name="targetNetwork"/>
        /// (or with <paramref name="replace"/> changes its mapping) and returns the
        /// MappingChangeReport: which replica NICs of protected VMs change.
        /// </summary>
        public static string Add(AsrEngine engine, string sourceNetwork, string targetNetwork, bool replace = false)
        {
            string json = "{\"sourceVmNetworkId\":" + MappingJson.Quote(sourceNetwork) +
                          ",\"targetVmNetworkId\":" + MappingJson.Quote(targetNetwork) + "}";
            return AddJson(engine, json, replace);
        }

        /// <summary>As <see cref="Add"/>, with a NetworkMapping given as JSON.</summary>
        public static string AddJson(AsrEngine engine, string mappingJson, bool replace = false)
        {
            int code = NativeMethods.asr_network_mapping_add(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(mappingJson, nameof(mappingJson)),
                replace ? NativeMethods.ASR_MAPPING_REPLACE : 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Removes a mapping (by mapping id or source network); returns the MappingChangeReport.</summary>
        public static string Remove(AsrEngine engine, string mappingOrSourceNetwork)
        {
            int code = NativeMethods.asr_network_mapping_remove(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(mappingOrSourceNetwork, nameof(mappingOrSourceNetwork)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Every VM network and what it is mapped to (NetworkMappingTable).</summary>
        public static string List(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_network_mapping_list(out BufferHandle b, AsrVault.Eng(engine), 0), b);

        /// <summary>Which target networks are available for which pairing (TargetNetworkTable).</summary>
        public static string Targets(AsrEngine engine, string sourceNetwork, string? targetNetwork = null)
        {
            int code = NativeMethods.asr_network_mapping_targets(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(sourceNetwork, nameof(sourceNetwork)),
                targetNetwork == null ? null : Native.Utf8(targetNetwork, nameof(targetNetwork)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>The network and subnet each replica NIC of a VM joins (VmNicResolutions).</summary>
        public static string Resolve(AsrEngine engine, string vm)
        {
            int code = NativeMethods.asr_network_mapping_resolve(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(vm, nameof(vm)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>What the original VM joins on failback; <paramref name="requestJson"/> is a FailbackRequest.</summary>
        public static string Failback(AsrEngine engine, string requestJson)
        {
            int code = NativeMethods.asr_network_mapping_failback(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(requestJson, nameof(requestJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }
    }

    /// <summary>Storage mappings: source classification to target classification.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrStorageMapping
    {
        /// <summary>Maps a source classification to a target classification (StorageMappingChange).</summary>
        public static string Add(AsrEngine engine, string sourceClassification, string targetClassification, bool replace = false)
        {
            string json = "{\"sourceClassificationId\":" + MappingJson.Quote(sourceClassification) +
                          ",\"targetClassificationId\":" + MappingJson.Quote(targetClassification) + "}";
            int code = NativeMethods.asr_storage_mapping_add(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(json, nameof(sourceClassification)),
                replace ? NativeMethods.ASR_MAPPING_REPLACE : 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Removes a mapping (by mapping id or source classification).</summary>
        public static string Remove(AsrEngine engine, string mappingOrSourceClassification)
        {
            int code = NativeMethods.asr_storage_mapping_remove(
                out BufferHandle b, AsrVault.Eng(engine),
                Native.Utf8(mappingOrSourceClassification, nameof(mappingOrSourceClassification)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Every classification and what it is mapped to (StorageMappingTable).</summary>
        public static string List(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_storage_mapping_list(out BufferHandle b, AsrVault.Eng(engine), 0), b);

        /// <summary>Where each replica disk goes on <paramref name="host"/> (null: the placed host).</summary>
        public static string Resolve(AsrEngine engine, string vm, string? host = null)
        {
            int code = NativeMethods.asr_storage_mapping_resolve(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(vm, nameof(vm)),
                host == null ? null : Native.Utf8(host, nameof(host)), 0);
            return Native.CheckAndTakeString(code, b);
        }
    }

    /// <summary>Replica placement.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrPlacement
    {
        /// <summary>
        /// The ReplicaPlacement of a VM: host, per-disk path, per-NIC network and
        /// subnet; "placed" is false with an "explanation" when no host qualifies.
        /// </summary>
        public static string Show(AsrEngine engine, string vm, string? pairingId = null)
        {
            int code = NativeMethods.asr_placement_show(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(vm, nameof(vm)),
                pairingId == null ? null : Native.Utf8(pairingId, nameof(pairingId)), 0);
            return Native.CheckAndTakeString(code, b);
        }
    }

    /// <summary>Minimal JSON string quoting for request bodies.</summary>
    internal static class MappingJson
    {
        internal static string Quote(string value)
        {
            if (value == null)
            {
                throw new System.ArgumentNullException(nameof(value));
            }

            var sb = new System.Text.StringBuilder(value.Length + 2);
            sb.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    default:
                        if (c < 0x20)
                        {
                            sb.Append("\\u").Append(((int)c).ToString("x4"));
                        }
                        else
                        {
                            sb.Append(c);
                        }

                        break;
                }
            }

            return sb.Append('"').ToString();
        }
    }
}
