// Replication groups from .NET (multi-VM consistency, Site Recovery's
// MultiVmSyncPoint): the VMs of a group get shared recovery points, every
// member's disks at one instant, recorded only when every member committed
// it. Groups cross as ReplicationGroup JSON, shared points as
// GroupRecoveryPoint JSON (asr/model/groups.proto).
//
//   string group = AsrGroups.Create(engine, "app", new[] { "VM1", "VM2" });
//   string cycle = AsrGroups.ReplicateNow(engine, "app");     // the site service does this
//   string point = AsrGroups.LatestPoint(engine, "app");      // "members": each VM's point
//   string vm2 = AsrGroups.ResolvePoint(engine, "VM2", AsrMultiVmSyncPointOption.UseMultiVmSyncRecoveryPoint);
//
// A host whose hypervisor can freeze several VMs at one instant implements
// IAsrGroupPointHost; AsrHostRegistration then fills create_group_point of
// the version 4 table.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Asr
{
    /// <summary>
    /// A VM host that can take one point of several VMs at one instant (the
    /// <c>create_group_point</c> call of a version 4 host table).
    /// </summary>
    public interface IAsrGroupPointHost : IAsrVmHost
    {
        /// <summary>
        /// Freezes every VM of <paramref name="requestJson"/> ({"vmIds": [...], "type":
        /// "CrashConsistent"|"AppConsistent"}) first, then takes a point of each; returns
        /// {"points": [a HostPoint per VM, in the order of "vmIds", all with one "timeUs"]}.
        /// asr releases each point with <see cref="IAsrVmHost.ReleasePoint"/>. On failure
        /// hold no point and throw.
        /// </summary>
        string CreateGroupPoint(string requestJson);
    }

    /// <summary>Which point a failover of a VM uses (Site Recovery's MultiVmSyncPointOption).</summary>
    public enum AsrMultiVmSyncPointOption
    {
        /// <summary>The VM's point in its group's latest shared point (a VM in no group: its own latest).</summary>
        UseMultiVmSyncRecoveryPoint,

        /// <summary>The VM's own latest point.</summary>
        UsePerVmRecoveryPoint,
    }

    /// <summary>Replication groups: membership, shared points, a group cycle now.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrGroups
    {
        /// <summary>
        /// Creates group <paramref name="name"/> (id "rg-NAME") with <paramref name="vms"/>
        /// (protected VMs of one pairing, in no other group); <paramref name="syncIntervalSeconds"/>
        /// 0 means the members' copy frequency. Returns the group's JSON.
        /// </summary>
        /// <exception cref="AsrNotFoundException">A VM is not protected.</exception>
        /// <exception cref="AsrFailedPreconditionException">A rule: Rule says which (VmInAnotherGroup, ...).</exception>
        /// <exception cref="AsrAlreadyExistsException">The name is taken.</exception>
        public static string Create(AsrEngine engine, string name, IEnumerable<string>? vms = null, int syncIntervalSeconds = 0)
        {
            string json = "{\"name\":" + MappingJson.Quote(name ?? throw new ArgumentNullException(nameof(name))) +
                          ",\"vms\":" + VmArray(vms ?? Array.Empty<string>()) +
                          ",\"syncIntervalSeconds\":" + syncIntervalSeconds + "}";
            int code = NativeMethods.asr_group_create(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(json, nameof(name)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Adds VMs to a group (its id or name); returns the group's JSON.</summary>
        public static string Add(AsrEngine engine, string group, IEnumerable<string> vms)
        {
            string json = "{\"vms\":" + VmArray(vms ?? throw new ArgumentNullException(nameof(vms))) + "}";
            int code = NativeMethods.asr_group_add(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(group, nameof(group)), Native.Utf8(json, nameof(vms)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Removes VMs from a group; returns the group's JSON.</summary>
        /// <exception cref="AsrNotFoundException">A VM is not a member.</exception>
        public static string Remove(AsrEngine engine, string group, IEnumerable<string> vms)
        {
            string json = "{\"vms\":" + VmArray(vms ?? throw new ArgumentNullException(nameof(vms))) + "}";
            int code = NativeMethods.asr_group_remove(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(group, nameof(group)), Native.Utf8(json, nameof(vms)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Changes a group's sync interval (0: the copy frequency; else 30 .. 86400 s).</summary>
        public static string SetSyncInterval(AsrEngine engine, string group, int seconds)
        {
            int code = NativeMethods.asr_group_set_sync_interval(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(group, nameof(group)), seconds, 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>A group (its id or name) as JSON.</summary>
        public static string Get(AsrEngine engine, string group) =>
            AsrPolicy.Call(NativeMethods.asr_group_get, engine, group, nameof(group));

        /// <summary>Every group as a JSON array.</summary>
        public static string List(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_group_list(out BufferHandle b, AsrVault.Eng(engine), 0), b);

        /// <summary>Deletes a group and its shared point records (the VMs stay protected).</summary>
        public static void Delete(AsrEngine engine, string group) =>
            Native.Check(NativeMethods.asr_group_delete(AsrVault.Eng(engine), Native.Utf8(group, nameof(group)), 0));

        /// <summary>The group's shared points covering every member, oldest first (JSON array).</summary>
        public static string Points(AsrEngine engine, string group) =>
            AsrPolicy.Call(NativeMethods.asr_group_points, engine, group, nameof(group));

        /// <summary>The newest shared point (application-consistent only when asked).</summary>
        /// <exception cref="AsrNotFoundException">None yet.</exception>
        public static string LatestPoint(AsrEngine engine, string group, bool appConsistentOnly = false)
        {
            int code = NativeMethods.asr_group_latest_point(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(group, nameof(group)),
                appConsistentOnly ? NativeMethods.GroupAppConsistent : 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>The whole-VM RecoveryPoint a failover of <paramref name="item"/> uses under <paramref name="option"/>.</summary>
        public static string ResolvePoint(AsrEngine engine, string item, AsrMultiVmSyncPointOption option, bool appConsistentOnly = false)
        {
            int code = NativeMethods.asr_group_resolve_point(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(item, nameof(item)),
                Native.Utf8(option.ToString(), nameof(option)), appConsistentOnly ? NativeMethods.GroupAppConsistent : 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>
        /// One group cycle now: a point of every member at one instant, every member's
        /// disks sent at it, the shared point recorded when all committed. Returns the
        /// GroupCycleOutcome JSON. Needs the transport and a recovery endpoint.
        /// </summary>
        /// <exception cref="AsrFailedPreconditionException">No members, a member not Protected, or the host cannot take group points.</exception>
        public static string ReplicateNow(AsrEngine engine, string group, bool appConsistent = false)
        {
            int code = NativeMethods.asr_group_replicate_now(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(group, nameof(group)),
                appConsistent ? NativeMethods.GroupAppConsistent : 0);
            return Native.CheckAndTakeString(code, b);
        }

        private static string VmArray(IEnumerable<string> vms) =>
            "[" + string.Join(",", vms.Select(v => MappingJson.Quote(v ?? throw new ArgumentNullException(nameof(vms))))) + "]";
    }
}
