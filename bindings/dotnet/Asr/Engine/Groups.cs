// Replication groups (multi-VM consistency) and bandwidth throttles from the engine:
//
//   ReplicationGroup app = engine.ReplicationGroups.Create("app", new[] { "VM1", "VM2" });
//   GroupCycleOutcome cycle = engine.ReplicationGroups.ReplicateNow("app");
//   engine.Throttles.SetSite(new[] { "Mon-Fri 08:00-18:00 50Mbit/s" }, "unlimited");

using System;
using System.Collections.Generic;
using System.Linq;
using Asr.Model;

namespace Asr
{
    /// <summary>The replication groups (engine.ReplicationGroups), by id or name.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrReplicationGroupCollection : AsrCollection<ReplicationGroup>
    {
        internal AsrReplicationGroupCollection(AsrEngine engine)
            : base(engine)
        {
        }

        /// <summary>Creates a group of protected VMs of one pairing, in no other group.</summary>
        /// <param name="name">The group's name (its id is "rg-NAME").</param>
        /// <param name="vms">The members (may be empty).</param>
        /// <param name="syncIntervalSeconds">How often a shared point is taken; 0: the members' copy frequency.</param>
        /// <returns>The group.</returns>
        public ReplicationGroup Create(string name, IEnumerable<string>? vms = null, int syncIntervalSeconds = 0) =>
            ReplicationGroup.FromJson(AsrGroups.Create(Engine, name, vms, syncIntervalSeconds));

        /// <summary>Adds members.</summary>
        /// <param name="group">The group (id or name).</param>
        /// <param name="vms">The VMs.</param>
        /// <returns>The group.</returns>
        public ReplicationGroup AddMembers(string group, IEnumerable<string> vms) => ReplicationGroup.FromJson(AsrGroups.Add(Engine, group, vms));

        /// <summary>Removes members (they stay protected).</summary>
        /// <param name="group">The group.</param>
        /// <param name="vms">The VMs.</param>
        /// <returns>The group.</returns>
        public ReplicationGroup RemoveMembers(string group, IEnumerable<string> vms) => ReplicationGroup.FromJson(AsrGroups.Remove(Engine, group, vms));

        /// <summary>Sets how often a shared point is taken (0: the members' copy frequency).</summary>
        /// <param name="group">The group.</param>
        /// <param name="seconds">The interval.</param>
        /// <returns>The group.</returns>
        public ReplicationGroup SetSyncInterval(string group, int seconds) => ReplicationGroup.FromJson(AsrGroups.SetSyncInterval(Engine, group, seconds));

        /// <summary>Deletes a group and its shared point records (the VMs stay protected).</summary>
        /// <param name="group">The group.</param>
        public void Remove(string group) => AsrGroups.Delete(Engine, group);

        /// <summary>The group's shared points, oldest first.</summary>
        /// <param name="group">The group.</param>
        /// <returns>The points.</returns>
        public IReadOnlyList<GroupRecoveryPoint> Points(string group) =>
            ModelJson.ParseArray(AsrGroups.Points(Engine, group), "GroupRecoveryPoint list")
                .Select(e => GroupRecoveryPoint.Read(ModelJson.Object(e, nameof(GroupRecoveryPoint)))).ToList();

        /// <summary>The newest shared point.</summary>
        /// <param name="group">The group.</param>
        /// <param name="appConsistentOnly">Only application-consistent ones.</param>
        /// <returns>The point.</returns>
        /// <exception cref="AsrNotFoundException">None yet.</exception>
        public GroupRecoveryPoint LatestPoint(string group, bool appConsistentOnly = false) =>
            GroupRecoveryPoint.FromJson(AsrGroups.LatestPoint(Engine, group, appConsistentOnly));

        /// <summary>The whole-VM point a failover of <paramref name="item"/> uses under <paramref name="option"/>.</summary>
        /// <param name="item">The protected VM.</param>
        /// <param name="option">Its group's shared point, or its own.</param>
        /// <param name="appConsistentOnly">Only application-consistent ones.</param>
        /// <returns>The point.</returns>
        public RecoveryPoint ResolvePoint(string item, AsrMultiVmSyncPointOption option, bool appConsistentOnly = false) =>
            RecoveryPoint.FromJson(AsrGroups.ResolvePoint(Engine, item, option, appConsistentOnly));

        /// <summary>One group cycle now (needs the transport and a recovery endpoint).</summary>
        /// <param name="group">The group.</param>
        /// <param name="appConsistent">An application-consistent point.</param>
        /// <returns>The cycle's outcome.</returns>
        public GroupCycleOutcome ReplicateNow(string group, bool appConsistent = false) =>
            GroupCycleOutcome.FromJson(AsrGroups.ReplicateNow(Engine, group, appConsistent));

        internal override string ListJson() => AsrGroups.List(Engine);

        internal override ReplicationGroup Read(IDictionary<string, object?> json) => ReplicationGroup.Read(json);

        internal override ReplicationGroup Get(string key) => ReplicationGroup.FromJson(AsrGroups.Get(Engine, key));
    }

    /// <summary>The bandwidth throttles (engine.Throttles): the site's first, then per VM.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrThrottleCollection : AsrCollection<Throttle>
    {
        internal AsrThrottleCollection(AsrEngine engine)
            : base(engine)
        {
        }

        /// <summary>The site's throttle.</summary>
        /// <exception cref="AsrNotFoundException">None is set.</exception>
        public Throttle Site => Throttle.FromJson(AsrThrottle.Get(Engine));

        /// <summary>Sets the site's throttle from rules "DAYS HH:MM-HH:MM RATE".</summary>
        /// <param name="limits">The rules.</param>
        /// <param name="defaultLimit">Outside them: "unlimited" or a rate.</param>
        /// <param name="utcOffset">The site's local time ("+01:00"; null: UTC).</param>
        /// <returns>The stored throttle.</returns>
        public Throttle SetSite(IEnumerable<string>? limits, string? defaultLimit = null, string? utcOffset = null) =>
            Throttle.FromJson(AsrThrottle.SetSite(Engine, limits, defaultLimit, utcOffset));

        /// <summary>Sets a VM's throttle, as <see cref="SetSite"/>.</summary>
        /// <param name="vm">The VM (id or name).</param>
        /// <param name="limits">The rules.</param>
        /// <param name="defaultLimit">Outside them.</param>
        /// <param name="utcOffset">The local time.</param>
        /// <returns>The stored throttle.</returns>
        public Throttle SetVm(string vm, IEnumerable<string>? limits, string? defaultLimit = null, string? utcOffset = null) =>
            Throttle.FromJson(AsrThrottle.SetVm(Engine, vm, limits, defaultLimit, utcOffset));

        /// <summary>Sets a throttle from a request (rules or a schedule).</summary>
        /// <param name="request">The request.</param>
        /// <returns>The stored throttle.</returns>
        public Throttle Set(ThrottleSetRequest request) =>
            Throttle.FromJson(AsrThrottle.SetJson(Engine, (request ?? throw new ArgumentNullException(nameof(request))).ToJson()));

        /// <summary>Removes the throttle of the site (null) or of a VM.</summary>
        /// <param name="vm">The VM, or null for the site.</param>
        public void Clear(string? vm = null) => AsrThrottle.Clear(Engine, vm);

        internal override string ListJson() => AsrThrottle.List(Engine);

        internal override Throttle Read(IDictionary<string, object?> json) => Throttle.Read(json);

        internal override Throttle Get(string key) => Throttle.FromJson(AsrThrottle.Get(Engine, key));
    }

    /// <summary>Groups and throttles from the engine.</summary>
    public sealed partial class AsrEngine
    {
        private AsrReplicationGroupCollection? _groups;
        private AsrThrottleCollection? _throttles;

        /// <summary>The replication groups.</summary>
        public AsrReplicationGroupCollection ReplicationGroups => _groups ??= new AsrReplicationGroupCollection(this);

        /// <summary>The bandwidth throttles; the indexer takes a VM (id or name).</summary>
        public AsrThrottleCollection Throttles => _throttles ??= new AsrThrottleCollection(this);
    }
}
