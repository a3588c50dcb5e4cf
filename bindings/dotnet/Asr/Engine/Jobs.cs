// Jobs from the engine: every state-changing operation is one (Site
// Recovery's Get/Stop/Resume/Restart-AzRecoveryServicesAsrJob).
//
//   foreach (Job j in engine.Jobs.Find(new JobQuery { State = JobState.Failed })) ...
//   Job again = engine.Jobs["job-000042"].Restart();
//   Job resumed = await engine.Jobs[id].ResumeAsync(progress, ct);

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;

namespace Asr.Model
{
    /// <summary>A job read from an engine has operations.</summary>
    public sealed partial class Job
    {
        private AsrEngine? _engine;

        /// <summary>Re-reads the job.</summary>
        /// <returns>A fresh snapshot.</returns>
        /// <exception cref="InvalidOperationException">The job was not read from an engine.</exception>
        public Job Refresh() => Read(ModelJson.ParseObject(AsrJobs.Get(Bound, Id), nameof(Job))).Bind(Bound);

        /// <summary>Cancels a NotStarted or Suspended job, or asks a running one to stop between tasks.</summary>
        /// <returns>The job after the request.</returns>
        /// <exception cref="AsrFailedPreconditionException">It has already finished (Rule JobCancelOnlyWhileActive).</exception>
        public Job Cancel() => FromJson(AsrJobs.Cancel(Bound, Id)).Bind(Bound);

        /// <summary>Runs a Failed job again; the tasks that finished are skipped.</summary>
        /// <returns>The finished job.</returns>
        /// <exception cref="AsrException">It failed again (JobId names it).</exception>
        public Job Restart() => FromJson(AsrJobs.Restart(Bound, Id)).Bind(Bound);

        /// <summary>Continues a Suspended job (after its manual action, or a planned failover ForDownTime).</summary>
        /// <returns>The finished (or again suspended) job.</returns>
        public Job Resume() => FromJson(AsrJobs.Resume(Bound, Id)).Bind(Bound);

        /// <summary><see cref="Restart"/> as a Task, with progress and cancellation.</summary>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> RestartAsync(IProgress<Job>? progress = null, CancellationToken cancellationToken = default)
        {
            AsrEngine engine = Bound;
            string id = Id;
            return AsrJobRunner.RunAsync(engine, () => AsrJobs.Restart(engine, id), TargetObjectId, progress, cancellationToken);
        }

        /// <summary><see cref="Resume"/> as a Task, with progress and cancellation.</summary>
        /// <param name="progress">Receives the job as it changes.</param>
        /// <param name="cancellationToken">Cancels the job between tasks.</param>
        /// <returns>The finished job.</returns>
        public Task<Job> ResumeAsync(IProgress<Job>? progress = null, CancellationToken cancellationToken = default)
        {
            AsrEngine engine = Bound;
            string id = Id;
            return AsrJobRunner.RunAsync(engine, () => AsrJobs.Resume(engine, id), TargetObjectId, progress, cancellationToken);
        }

        /// <summary>
        /// The percentage of the job's tasks that have finished (Succeeded, Failed,
        /// Cancelled or Skipped); 100 for a finished job without tasks.
        /// </summary>
        public int PercentComplete
        {
            get
            {
                if (Tasks.Count == 0)
                {
                    return State == JobState.Succeeded || State == JobState.Failed || State == JobState.Cancelled ? 100 : 0;
                }

                int done = Tasks.Count(t => t.State == JobState.Succeeded || t.State == JobState.Failed ||
                                            t.State == JobState.Cancelled || t.State == JobState.Other);
                return done * 100 / Tasks.Count;
            }
        }

        /// <summary>
        /// The job's result (<see cref="ResultJson"/>) read as <typeparamref name="T"/>,
        /// e.g. an <see cref="InventoryChangeReport"/> of an inventory sync.
        /// </summary>
        /// <typeparam name="T">The model class of the result.</typeparam>
        /// <returns>The result, or null when the job left none.</returns>
        /// <exception cref="FormatException">The result is not a <typeparamref name="T"/>.</exception>
        public T? Result<T>()
            where T : AsrModelObject
        {
            if (string.IsNullOrEmpty(ResultJson))
            {
                return null;
            }

            return (T)ModelReaders.Read(typeof(T), ModelJson.ParseObject(ResultJson, typeof(T).Name));
        }

        internal Job Bind(AsrEngine engine)
        {
            _engine = engine;
            return this;
        }

        private AsrEngine Bound => _engine ?? throw new InvalidOperationException(
            $"job {Id} was not read from an engine; get it from engine.Jobs[\"{Id}\"]");
    }
}

namespace Asr
{
    /// <summary>The jobs of an engine, oldest first (engine.Jobs).</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public sealed class AsrJobCollection : AsrCollection<Job>
    {
        internal AsrJobCollection(AsrEngine engine)
            : base(engine)
        {
        }

        /// <summary>The jobs that match <paramref name="query"/> (unset fields match every job), oldest first.</summary>
        /// <param name="query">State, start time range, target object or scenario.</param>
        /// <returns>The matching jobs.</returns>
        public IReadOnlyList<Job> Find(JobQuery query) =>
            ModelJson.ParseArray(AsrJobs.List(Engine, (query ?? throw new ArgumentNullException(nameof(query))).ToJson()), "Job list")
                .Select(e => Job.Read(ModelJson.Object(e, nameof(Job))).Bind(Engine))
                .ToList();

        internal override string ListJson() => AsrJobs.List(Engine);

        internal override Job Read(IDictionary<string, object?> json) => Job.Read(json);

        internal override Job Bind(Job value) => value.Bind(Engine);

        internal override Job Get(string key) => Job.FromJson(AsrJobs.Get(Engine, key));
    }
}
