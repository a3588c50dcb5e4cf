// Protected items (Site Recovery's replication protected items) and their
// failover, from the engine:
//
//   Job enable = engine.ProtectedItems.Enable("VM1");
//   ProtectedItem vm1 = engine.ProtectedItems["VM1"];          // by item id, VM id or VM name
//   vm1.TestFailover(networkType: "Isolated");
//   vm1.TestFailoverCleanup();
//   Job planned = await vm1.PlannedFailoverAsync(progress: p, cancellationToken: ct);
//   vm1.Commit();
//   vm1.ReverseReplicate();
//   IReadOnlyList<RecoveryPoint> points = vm1.RecoveryPoints();
//
// Each operation returns the finished Job; a refused or failed one throws
// the AsrException of its status code with Rule, RecommendedAction and JobId.
// The item object is a snapshot: Refresh() reads its state again.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;

namespace Asr.Model
{
    /// <summary>A protected item read from an engine has its operations.</summary>
    public sealed partial class ProtectedItem
    {
        private AsrEngine? _engine;

        /// <summary>Re-reads the item's state.</summary>
        /// <returns>A fresh snapshot.</returns>
        /// <exception cref="AsrNotFoundException">It is no longer protected.</exception>
        public ProtectedItem Refresh() => FromJson(AsrProtection.GetItem(Bound, Id)).Bind(Bound);

        /// <summary>The item's whole-VM recovery points, oldest first.</summary>
        /// <returns>The points.</returns>
        public IReadOnlyList<RecoveryPoint> RecoveryPoints() =>
            ModelJson.ParseArray(AsrProtection.ListItemPoints(Bound, Id), "RecoveryPoint list")
                .Select(e => RecoveryPoint.Read(ModelJson.Object(e, nameof(RecoveryPoint))))
                .ToList();

        /// <summary>Runs failover operation <paramref name="parameters"/>.Operation on this item (its ItemId is set here).</summary>
        /// <param name="parameters">The operation and its inputs.</param>
        /// <returns>The finished job (or Suspended for a planned failover ForDownTime).</returns>
        /// <exception cref="AsrInvalidArgumentException">An unknown operation or value.</exception>
        /// <exception cref="AsrFailedPreconditionException">Not allowed in the item's state (the message says what is).</exception>
        public Job Failover(FailoverParams parameters)
        {
            (string op, string input) = Input(parameters);
            return Job.FromJson(AsrFailover.Start(Bound, op, input)).Bind(Bound);
        }

        /// <summary><see cref="Failover"/> as a Task, with progress and cancellation.</summary>
        /// <param name="parameters">The operation and its inputs.</param>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks (the Task then throws OperationCanceledException).</param>
        /// <returns>The finished job.</returns>
        public Task<Job> FailoverAsync(FailoverParams parameters, IProgress<Job>? progress = null, CancellationToken cancellationToken = default)
        {
            (string op, string input) = Input(parameters);
            AsrEngine engine = Bound;
            return AsrJobRunner.RunAsync(engine, () => AsrFailover.Start(engine, op, input), Id, progress, cancellationToken);
        }

        /// <summary>A test VM from a view of a point, beside production replication.</summary>
        /// <param name="networkType">"None", "Isolated" or "VmNetwork" (with <paramref name="networkId"/>).</param>
        /// <param name="recoveryTag">"LatestAvailable", "Latest", "LatestAvailableApplicationConsistent", ...</param>
        /// <param name="recoveryPointId">A point instead of the tag.</param>
        /// <param name="networkId">The VM network of "VmNetwork".</param>
        /// <param name="direction">"PrimaryToRecovery" (null: the usual one) or "RecoveryToPrimary".</param>
        /// <returns>The finished job.</returns>
        public Job TestFailover(string networkType = "None", string? recoveryTag = null, string? recoveryPointId = null,
                                string? networkId = null, string? direction = null) =>
            Failover(TestParams(networkType, recoveryTag, recoveryPointId, networkId, direction));

        /// <summary><see cref="TestFailover"/> as a Task.</summary>
        /// <param name="networkType">"None", "Isolated" or "VmNetwork".</param>
        /// <param name="recoveryTag">The point's tag (null: LatestAvailable).</param>
        /// <param name="recoveryPointId">A point instead of the tag.</param>
        /// <param name="networkId">The VM network of "VmNetwork".</param>
        /// <param name="direction">The direction (null: the usual one).</param>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> TestFailoverAsync(string networkType = "None", string? recoveryTag = null, string? recoveryPointId = null,
                                           string? networkId = null, string? direction = null, IProgress<Job>? progress = null,
                                           CancellationToken cancellationToken = default) =>
            FailoverAsync(TestParams(networkType, recoveryTag, recoveryPointId, networkId, direction), progress, cancellationToken);

        /// <summary>Deletes the test VM, its views and its isolated network.</summary>
        /// <returns>The finished job.</returns>
        public Job TestFailoverCleanup() => Failover(new FailoverParams { Operation = "TestFailoverCleanup" });

        /// <summary><see cref="TestFailoverCleanup"/> as a Task.</summary>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> TestFailoverCleanupAsync(IProgress<Job>? progress = null, CancellationToken cancellationToken = default) =>
            FailoverAsync(new FailoverParams { Operation = "TestFailoverCleanup" }, progress, cancellationToken);

        /// <summary>Shuts the source down, sends the last changes and starts the replica (no data loss).</summary>
        /// <param name="optimize">"ForSynchronization" (default) or "ForDownTime" (the job ends Suspended: Resume it).</param>
        /// <param name="direction">The direction (null: the usual one).</param>
        /// <returns>The finished job.</returns>
        public Job PlannedFailover(string? optimize = null, string? direction = null) =>
            Failover(new FailoverParams { Operation = "PlannedFailover", Optimize = optimize ?? string.Empty, Direction = direction ?? string.Empty });

        /// <summary><see cref="PlannedFailover"/> as a Task.</summary>
        /// <param name="optimize">"ForSynchronization" (default) or "ForDownTime".</param>
        /// <param name="direction">The direction (null: the usual one).</param>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> PlannedFailoverAsync(string? optimize = null, string? direction = null, IProgress<Job>? progress = null,
                                              CancellationToken cancellationToken = default) =>
            FailoverAsync(new FailoverParams { Operation = "PlannedFailover", Optimize = optimize ?? string.Empty, Direction = direction ?? string.Empty },
                          progress, cancellationToken);

        /// <summary>Fails over to a point by tag or id; the data lost shows on the item.</summary>
        /// <param name="recoveryTag">The point's tag (null: LatestAvailable).</param>
        /// <param name="recoveryPointId">A point instead of the tag.</param>
        /// <param name="performSourceSideAction">Shut the source down first when it answers.</param>
        /// <param name="direction">The direction (null: the usual one).</param>
        /// <returns>The finished job.</returns>
        public Job UnplannedFailover(string? recoveryTag = null, string? recoveryPointId = null, bool performSourceSideAction = false,
                                     string? direction = null) =>
            Failover(UnplannedParams(recoveryTag, recoveryPointId, performSourceSideAction, direction));

        /// <summary><see cref="UnplannedFailover"/> as a Task.</summary>
        /// <param name="recoveryTag">The point's tag (null: LatestAvailable).</param>
        /// <param name="recoveryPointId">A point instead of the tag.</param>
        /// <param name="performSourceSideAction">Shut the source down first when it answers.</param>
        /// <param name="direction">The direction (null: the usual one).</param>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> UnplannedFailoverAsync(string? recoveryTag = null, string? recoveryPointId = null, bool performSourceSideAction = false,
                                                string? direction = null, IProgress<Job>? progress = null,
                                                CancellationToken cancellationToken = default) =>
            FailoverAsync(UnplannedParams(recoveryTag, recoveryPointId, performSourceSideAction, direction), progress, cancellationToken);

        /// <summary>Before commit: runs the failed-over VM from another point.</summary>
        /// <param name="recoveryPointId">The point.</param>
        /// <returns>The finished job.</returns>
        public Job ChangeRecoveryPoint(string recoveryPointId) =>
            Failover(new FailoverParams { Operation = "ChangePit", RecoveryPointId = recoveryPointId ?? throw new ArgumentNullException(nameof(recoveryPointId)) });

        /// <summary>Makes the failover final (the recovery points are discarded).</summary>
        /// <returns>The finished job.</returns>
        public Job Commit() => Failover(new FailoverParams { Operation = "Commit" });

        /// <summary><see cref="Commit"/> as a Task.</summary>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> CommitAsync(IProgress<Job>? progress = null, CancellationToken cancellationToken = default) =>
            FailoverAsync(new FailoverParams { Operation = "Commit" }, progress, cancellationToken);

        /// <summary>Back to protected before commit: the replica rolled back, the source started again if the failover stopped it.</summary>
        /// <returns>The finished job.</returns>
        public Job CancelFailover() => Failover(new FailoverParams { Operation = "CancelFailover" });

        /// <summary>After a commit: the old source's disks become the replica; only the blocks that differ are sent.</summary>
        /// <returns>The finished job.</returns>
        public Job ReverseReplicate() => Failover(new FailoverParams { Operation = "ReverseReplicate" });

        /// <summary><see cref="ReverseReplicate"/> as a Task.</summary>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> ReverseReplicateAsync(IProgress<Job>? progress = null, CancellationToken cancellationToken = default) =>
            FailoverAsync(new FailoverParams { Operation = "ReverseReplicate" }, progress, cancellationToken);

        /// <summary>Of a reversed item: planned failover back, commit, and reverse replication again.</summary>
        /// <returns>The finished job.</returns>
        public Job Failback() => Failover(new FailoverParams { Operation = "Failback" });

        /// <summary><see cref="Failback"/> as a Task.</summary>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> FailbackAsync(IProgress<Job>? progress = null, CancellationToken cancellationToken = default) =>
            FailoverAsync(new FailoverParams { Operation = "Failback" }, progress, cancellationToken);

        /// <summary>Verifies every replica of the item against what was replicated (needs the transport and an endpoint).</summary>
        /// <returns>What was checked; a difference marks the item for resynchronization.</returns>
        public ItemVerification Verify() => ItemVerification.FromJson(AsrResync.VerifyItem(Bound, Id));

        /// <summary>Resynchronizes the item (RepairReplication): only the blocks that differ are sent.</summary>
        /// <returns>The verification of the fresh replica digests.</returns>
        public ItemVerification Resync() => ItemVerification.FromJson(AsrResync.ResyncItem(Bound, Id));

        /// <summary>Disables protection of the item.</summary>
        /// <param name="force">Remove it even when the host cannot remove the replica VM.</param>
        /// <returns>The finished job.</returns>
        public Job DisableProtection(bool force = false) => Job.FromJson(AsrProtection.DisableProtection(Bound, Id, force)).Bind(Bound);

        internal ProtectedItem Bind(AsrEngine engine)
        {
            _engine = engine;
            return this;
        }

        private AsrEngine Bound => _engine ?? throw new InvalidOperationException(
            $"protected item {Id} was not read from an engine; get it from engine.ProtectedItems[\"{VmName}\"]");

        private (string Operation, string Input) Input(FailoverParams parameters)
        {
            if (parameters == null)
            {
                throw new ArgumentNullException(nameof(parameters));
            }

            if (string.IsNullOrEmpty(parameters.Operation))
            {
                throw new ArgumentException("FailoverParams.Operation is empty; name one (TestFailover, PlannedFailover, ...)", nameof(parameters));
            }

            FailoverParams copy = FailoverParams.FromJson(parameters.ToJson());
            copy.ItemId = Id;
            string op = copy.Operation;
            copy.Operation = string.Empty;
            return (op, copy.ToJson());
        }

        private static FailoverParams TestParams(string networkType, string? recoveryTag, string? recoveryPointId, string? networkId, string? direction) =>
            new FailoverParams
            {
                Operation = "TestFailover",
                NetworkType = networkType ?? "None",
                RecoveryTag = recoveryTag ?? string.Empty,
                RecoveryPointId = recoveryPointId ?? string.Empty,
                NetworkId = networkId ?? string.Empty,
                Direction = direction ?? string.Empty,
            };

        private static FailoverParams UnplannedParams(string? recoveryTag, string? recoveryPointId, bool performSourceSideAction, string? direction) =>
            new FailoverParams
            {
                Operation = "UnplannedFailover",
                RecoveryTag = recoveryTag ?? string.Empty,
                RecoveryPointId = recoveryPointId ?? string.Empty,
                PerformSourceSideAction = performSourceSideAction,
                Direction = direction ?? string.Empty,
            };
    }
}

namespace Asr
{
    /// <summary>The protected items of an engine (engine.ProtectedItems), by item id, VM id or VM name.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrProtectedItemCollection : AsrCollection<ProtectedItem>
    {
        internal AsrProtectedItemCollection(AsrEngine engine)
            : base(engine)
        {
        }

        /// <summary>Enables protection of a VM (by id or name).</summary>
        /// <param name="vm">The VM.</param>
        /// <param name="pairing">The cloud pairing (null: its cloud's).</param>
        /// <param name="recoveryHost">The recovery host (null: placement chooses).</param>
        /// <returns>The finished job.</returns>
        /// <exception cref="AsrNotFoundException">Unknown VM, pairing or host.</exception>
        /// <exception cref="AsrFailedPreconditionException">Not paired, no policy, already protected, no transport, or the host cannot.</exception>
        public Job Enable(string vm, string? pairing = null, string? recoveryHost = null) =>
            Job.FromJson(AsrProtection.EnableProtection(Engine, vm, pairing, recoveryHost)).Bind(Engine);

        /// <summary><see cref="Enable"/> as a Task (the initial replication may be long).</summary>
        /// <param name="vm">The VM.</param>
        /// <param name="pairing">The cloud pairing (null: its cloud's).</param>
        /// <param name="recoveryHost">The recovery host (null: placement chooses).</param>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> EnableAsync(string vm, string? pairing = null, string? recoveryHost = null, IProgress<Job>? progress = null,
                                     CancellationToken cancellationToken = default)
        {
            if (vm == null)
            {
                throw new ArgumentNullException(nameof(vm));
            }

            AsrEngine engine = Engine;
            return AsrJobRunner.RunAsync(engine, () => AsrProtection.EnableProtection(engine, vm, pairing, recoveryHost), vm, progress, cancellationToken);
        }

        /// <summary>Adopts a VM that already replicates to <paramref name="recoveryHost"/> (its replica directories, in disk order).</summary>
        /// <param name="vm">The VM.</param>
        /// <param name="recoveryHost">The host holding the replicas.</param>
        /// <param name="replicaDirs">One replica directory per disk.</param>
        /// <param name="pairing">The cloud pairing (null: its cloud's).</param>
        /// <returns>The finished job.</returns>
        public Job Onboard(string vm, string recoveryHost, IEnumerable<string> replicaDirs, string? pairing = null) =>
            Job.FromJson(AsrProtection.OnboardProtection(Engine, vm, recoveryHost, replicaDirs, pairing)).Bind(Engine);

        /// <summary>Disables protection of an item (by item id, VM id or VM name).</summary>
        /// <param name="item">The item.</param>
        /// <param name="force">Remove it even when the host cannot remove the replica VM.</param>
        /// <returns>The finished job.</returns>
        public Job Disable(string item, bool force = false) =>
            Job.FromJson(AsrProtection.DisableProtection(Engine, item, force)).Bind(Engine);

        internal override string ListJson() => AsrProtection.ListItems(Engine);

        internal override ProtectedItem Read(IDictionary<string, object?> json) => ProtectedItem.Read(json);

        internal override ProtectedItem Bind(ProtectedItem value) => value.Bind(Engine);

        internal override ProtectedItem Get(string key) => ProtectedItem.FromJson(AsrProtection.GetItem(Engine, key));
    }
}
