// What every cmdlet of the module shares: the engine it works on (the
// -Engine parameter, else the one Open-AsrEngine made current), errors as
// ErrorRecords, and long jobs run with Write-Progress, Ctrl+C and -AsJob.
//
//   Open-AsrEngine -StateDirectory /var/lib/asr -KeyFile /etc/asr/kek
//   Get-AsrReplicationProtectedItem VM1 | Start-AsrTestFailoverJob -Direction PrimaryToRecovery
//
// An AsrException becomes an ErrorRecord whose category follows its status
// code (NotFound: ObjectNotFound, FailedPrecondition: InvalidOperation, ...),
// whose error id is the broken rule (else the status code), and whose
// ErrorDetails carry the recommended action; the exception itself (with
// its JobId) is the record's Exception.

using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;
using AsrJob = Asr.Model.Job;
using AsrJobState = Asr.Model.JobState;

namespace Asr.PowerShell
{
    /// <summary>The engine a session works on, and what hangs on it (host, site service).</summary>
    public sealed class AsrSession
    {
        internal AsrSession(AsrEngine engine, string stateDirectory)
        {
            Engine = engine;
            StateDirectory = stateDirectory;
        }

        /// <summary>The engine.</summary>
        public AsrEngine Engine { get; }

        /// <summary>Its state directory.</summary>
        public string StateDirectory { get; }

        /// <summary>The VMM host installed with Set-AsrVmmHost, if any.</summary>
        public IAsrHost? VmmHost { get; internal set; }

        internal AsrHostRegistration? HostRegistration { get; set; }

        /// <summary>The transport set with Set-AsrTransport, if any (a site service started later serves with it).</summary>
        public TransportSettings? Transport { get; internal set; }

        /// <summary>The site service started with Start-AsrSiteService, if any.</summary>
        public AsrSiteService? SiteService { get; internal set; }

        /// <summary>The session Open-AsrEngine made current (null: none).</summary>
        public static AsrSession? Current { get; internal set; }

        internal void Close()
        {
            SiteService?.Dispose();
            SiteService = null;
            HostRegistration?.Dispose();
            HostRegistration = null;
            VmmHost = null;
            Engine.Dispose();
        }
    }

    /// <summary>The base of the module's cmdlets.</summary>
    public abstract class AsrCmdlet : PSCmdlet
    {
        private CancellationTokenSource? _cancel;

        /// <summary>The session to work on (default: the current one, from Open-AsrEngine).</summary>
        [Parameter]
        public AsrSession? Session { get; set; }

        /// <summary>The session in use.</summary>
        protected AsrSession CurrentSession
        {
            get
            {
                AsrSession? s = Session ?? AsrSession.Current;
                if (s == null)
                {
                    ThrowTerminatingError(new ErrorRecord(
                        new InvalidOperationException("no asr engine is open; run Open-AsrEngine -StateDirectory DIR first"),
                        "NoEngineOpen", ErrorCategory.InvalidOperation, null)
                    {
                        ErrorDetails = new ErrorDetails("no asr engine is open") { RecommendedAction = "Open-AsrEngine -StateDirectory DIR [-KeyFile FILE]" },
                    });
                }

                return s!;
            }
        }

        /// <summary>The engine in use.</summary>
        protected AsrEngine Engine => CurrentSession.Engine;

        /// <summary>Runs the cmdlet's work, turning an AsrException into a non-terminating error.</summary>
        protected override void ProcessRecord()
        {
            try
            {
                Process();
            }
            catch (AsrException e)
            {
                WriteError(ToErrorRecord(e, null));
            }
            catch (ArgumentException e)
            {
                WriteError(new ErrorRecord(e, "InvalidArgument", ErrorCategory.InvalidArgument, null));
            }
        }

        /// <summary>Stops a running job between its tasks.</summary>
        protected override void StopProcessing() => _cancel?.Cancel();

        /// <summary>The cmdlet's work for one input.</summary>
        protected abstract void Process();

        /// <summary>The ErrorRecord of <paramref name="e"/>: category by status code, id by rule, the recommended action.</summary>
        /// <param name="e">The error.</param>
        /// <param name="target">The object it concerns.</param>
        /// <returns>The record.</returns>
        public static ErrorRecord ToErrorRecord(AsrException e, object? target)
        {
            string id = e.Rule.Length != 0 ? e.Rule : e.StatusCode.ToString();
            var record = new ErrorRecord(e, id, Category(e.StatusCode), target);
            record.ErrorDetails = new ErrorDetails(e.Message);
            if (e.RecommendedAction.Length != 0)
            {
                record.ErrorDetails.RecommendedAction = e.RecommendedAction;
            }
            else if (e.JobId.Length != 0)
            {
                record.ErrorDetails.RecommendedAction = $"fix the cause, then Restart-AsrJob -Name {e.JobId}";
            }

            return record;
        }

        /// <summary>The PowerShell error category of a status code.</summary>
        /// <param name="code">The status code.</param>
        /// <returns>The category.</returns>
        public static ErrorCategory Category(AsrStatusCode code) => code switch
        {
            AsrStatusCode.InvalidArgument => ErrorCategory.InvalidArgument,
            AsrStatusCode.OutOfRange => ErrorCategory.InvalidArgument,
            AsrStatusCode.NotFound => ErrorCategory.ObjectNotFound,
            AsrStatusCode.AlreadyExists => ErrorCategory.ResourceExists,
            AsrStatusCode.PermissionDenied => ErrorCategory.PermissionDenied,
            AsrStatusCode.Unauthenticated => ErrorCategory.AuthenticationError,
            AsrStatusCode.FailedPrecondition => ErrorCategory.InvalidOperation,
            AsrStatusCode.Aborted => ErrorCategory.InvalidOperation,
            AsrStatusCode.Unavailable => ErrorCategory.ConnectionError,
            AsrStatusCode.DeadlineExceeded => ErrorCategory.OperationTimeout,
            AsrStatusCode.Cancelled => ErrorCategory.OperationStopped,
            AsrStatusCode.ResourceExhausted => ErrorCategory.LimitsExceeded,
            AsrStatusCode.DataLoss => ErrorCategory.InvalidData,
            AsrStatusCode.Unimplemented => ErrorCategory.NotImplemented,
            _ => ErrorCategory.NotSpecified,
        };

        /// <summary>
        /// Runs a long operation: with <paramref name="asJob"/> as a PowerShell job
        /// (returned at once; Receive-Job gives the asr Job), else here with
        /// Write-Progress from the job's tasks until it ends, Ctrl+C cancelling it
        /// between tasks. Writes the finished asr Job.
        /// </summary>
        /// <param name="activity">What runs, for the progress bar and the job's name.</param>
        /// <param name="target">The object, for errors.</param>
        /// <param name="run">Starts the operation.</param>
        /// <param name="asJob">Run it as a PowerShell job.</param>
        protected void RunLong(string activity, object? target,
                               Func<IProgress<AsrJob>, CancellationToken, Task<AsrJob>> run, bool asJob)
        {
            if (asJob)
            {
                var job = new AsrPowerShellJob(MyInvocation.Line, activity, run);
                JobRepository.Add(job);
                job.Start();
                WriteObject(job);
                return;
            }

            var updates = new ConcurrentQueue<AsrJob>();
            using var cancel = new CancellationTokenSource();
            _cancel = cancel;
            Task<AsrJob> task = run(new QueueProgress(updates), cancel.Token);
            int id = Math.Abs(activity.GetHashCode() % 10000);
            while (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(200))
            {
                ShowProgress(updates, activity, id);
            }

            ShowProgress(updates, activity, id);
            WriteProgress(new ProgressRecord(id, activity, "done") { RecordType = ProgressRecordType.Completed });
            _cancel = null;
            try
            {
                WriteObject(task.GetAwaiter().GetResult());
            }
            catch (OperationCanceledException e)
            {
                WriteError(new ErrorRecord(e, "JobCancelled", ErrorCategory.OperationStopped, target));
            }
            catch (AsrException e)
            {
                WriteError(ToErrorRecord(e, target));
            }
        }

        private void ShowProgress(ConcurrentQueue<AsrJob> updates, string activity, int id)
        {
            AsrJob? last = null;
            while (updates.TryDequeue(out AsrJob? j))
            {
                last = j;
            }

            if (last == null)
            {
                return;
            }

            JobTask? running = null;
            foreach (JobTask t in last.Tasks)
            {
                if (t.State == AsrJobState.InProgress)
                {
                    running = t;
                }
            }

            string status = $"{last.Id} {last.State}" + (running != null ? $": {running.FriendlyName}" : string.Empty);
            WriteProgress(new ProgressRecord(id, activity, status) { PercentComplete = Math.Min(100, last.PercentComplete) });
        }

        private sealed class QueueProgress : IProgress<AsrJob>
        {
            private readonly ConcurrentQueue<AsrJob> _queue;

            public QueueProgress(ConcurrentQueue<AsrJob> queue) => _queue = queue;

            public void Report(AsrJob value) => _queue.Enqueue(value);
        }
    }
}
