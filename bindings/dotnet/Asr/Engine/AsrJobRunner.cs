// Runs a job-making native call (they run their job on the calling thread)
// as a Task: the call runs on a thread of its own while this side polls the
// engine for the job it started, reports each new state of it through
// IProgress<Job>, and on cancellation asks the engine to cancel it (honoured
// between tasks: the job ends Cancelled and the Task throws
// OperationCanceledException carrying the job's AsrException).
//
//   Job job = await item.PlannedFailoverAsync(progress: new Progress<Job>(j => Show(j)), cancellationToken: ct);

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;

namespace Asr
{
    /// <summary>Task wrappers for long jobs.</summary>
    internal static class AsrJobRunner
    {
        /// <summary>How often the running job is read for progress.</summary>
        internal static TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

        /// <summary>
        /// Runs <paramref name="call"/> (returns the finished job's JSON) on its own thread.
        /// <paramref name="target"/> is the id or name of the object the job works on, to
        /// tell its job from others that start meanwhile (null: any new job).
        /// </summary>
        internal static async Task<Job> RunAsync(
            AsrEngine engine, Func<string> call, string? target, IProgress<Job>? progress, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var before = new HashSet<string>(Active(engine).Select(j => j.Id), StringComparer.Ordinal);
            Task<string> work = Task.Factory.StartNew(
                call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            string? jobId = null;
            string? lastReported = null;
            bool cancelSent = false;
            while (!work.IsCompleted)
            {
                await Task.WhenAny(work, Task.Delay(PollInterval)).ConfigureAwait(false);
                if (work.IsCompleted)
                {
                    break;
                }

                Job? running = Find(engine, before, jobId, target);
                if (running == null)
                {
                    continue;
                }

                jobId = running.Id;
                string snapshot = running.ToJson();
                if (progress != null && snapshot != lastReported)
                {
                    lastReported = snapshot;
                    progress.Report(running.Bind(engine));
                }

                if (cancellationToken.IsCancellationRequested && !cancelSent)
                {
                    cancelSent = true;
                    try
                    {
                        AsrJobs.Cancel(engine, running.Id);
                    }
                    catch (AsrException)
                    {
                        // It finished in between: its outcome stands.
                    }
                }
            }

            try
            {
                Job done = Job.FromJson(await work.ConfigureAwait(false)).Bind(engine);
                progress?.Report(done);
                return done;
            }
            catch (AsrException e) when (e.StatusCode == AsrStatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(
                    $"job {e.JobId} was cancelled as asked: {e.Message}", e, cancellationToken);
            }
        }

        /// <summary>As <see cref="RunAsync"/>, returning a result read from the finished job.</summary>
        internal static async Task<T> RunAsync<T>(
            AsrEngine engine, Func<string> call, Func<Job, T> result, string? target, IProgress<Job>? progress,
            CancellationToken cancellationToken)
        {
            Job job = await RunAsync(engine, call, target, progress, cancellationToken).ConfigureAwait(false);
            return result(job);
        }

        private static IEnumerable<Job> Active(AsrEngine engine) =>
            Jobs(AsrJobs.List(engine, "{\"state\":\"InProgress\"}"));

        private static Job? Find(AsrEngine engine, HashSet<string> before, string? jobId, string? target)
        {
            if (jobId != null)
            {
                return Job.FromJson(AsrJobs.Get(engine, jobId));
            }

            List<Job> fresh = Active(engine).Where(j => !before.Contains(j.Id)).ToList();
            if (target != null)
            {
                Job? mine = fresh.FirstOrDefault(j => j.TargetObjectId == target || j.TargetObjectName == target);
                if (mine != null)
                {
                    return mine;
                }
            }

            return fresh.Count == 1 ? fresh[0] : null;
        }

        private static IEnumerable<Job> Jobs(string json) =>
            ModelJson.ParseArray(json, "Job list").Select(e => Job.Read(ModelJson.Object(e, "Job")));
    }
}
