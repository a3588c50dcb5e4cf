// A long asr operation run as a PowerShell job (the cmdlets' -AsJob):
//
//   $j = Start-AsrPlannedFailoverJob -ReplicationProtectedItem VM1 -Direction PrimaryToRecovery -AsJob
//   $j | Wait-Job | Receive-Job          # the finished asr Job
//
// The job's output is the asr Job; a refused or failed operation is its
// error (the ErrorRecord the cmdlet would have written) and the job Failed.
// Stop-Job cancels the asr job between its tasks. The asr job's progress is
// in the job's Progress stream.

using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Asr.Model;
using AsrJob = Asr.Model.Job;
using AsrJobState = Asr.Model.JobState;

namespace Asr.PowerShell
{
    /// <summary>An asr operation running as a PowerShell job.</summary>
    public sealed class AsrPowerShellJob : System.Management.Automation.Job
    {
        private readonly Func<IProgress<AsrJob>, CancellationToken, Task<AsrJob>> _run;
        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();
        private readonly string _activity;

        internal AsrPowerShellJob(string command, string activity, Func<IProgress<AsrJob>, CancellationToken, Task<AsrJob>> run)
            : base(command, activity)
        {
            _run = run;
            _activity = activity;
            PSJobTypeName = "AsrJob";
        }

        /// <inheritdoc/>
        public override string StatusMessage => JobStateInfo.State.ToString();

        /// <inheritdoc/>
        public override bool HasMoreData => Output.Count > 0 || Error.Count > 0 || Progress.Count > 0;

        /// <inheritdoc/>
        public override string Location => "localhost";

        /// <inheritdoc/>
        public override void StopJob() => _cancel.Cancel();

        internal void Start()
        {
            SetJobState(System.Management.Automation.JobState.Running);
            Task.Run(async () =>
            {
                try
                {
                    AsrJob done = await _run(new Reporter(this), _cancel.Token).ConfigureAwait(false);
                    Output.Add(new PSObject(done));
                    SetJobState(System.Management.Automation.JobState.Completed);
                }
                catch (OperationCanceledException e)
                {
                    Error.Add(new ErrorRecord(e, "JobCancelled", ErrorCategory.OperationStopped, null));
                    SetJobState(System.Management.Automation.JobState.Stopped);
                }
                catch (AsrException e)
                {
                    Error.Add(AsrCmdlet.ToErrorRecord(e, null));
                    SetJobState(System.Management.Automation.JobState.Failed);
                }
                catch (Exception e)
                {
                    Error.Add(new ErrorRecord(e, "Unexpected", ErrorCategory.NotSpecified, null));
                    SetJobState(System.Management.Automation.JobState.Failed);
                }
            });
        }

        /// <inheritdoc/>
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _cancel.Dispose();
            }

            base.Dispose(disposing);
        }

        private sealed class Reporter : IProgress<AsrJob>
        {
            private readonly AsrPowerShellJob _job;

            public Reporter(AsrPowerShellJob job) => _job = job;

            public void Report(AsrJob value) =>
                _job.Progress.Add(new ProgressRecord(1, _job._activity, $"{value.Id} {value.State}")
                {
                    PercentComplete = Math.Min(100, value.PercentComplete),
                });
        }
    }
}
