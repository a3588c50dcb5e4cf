// Recovery plans and jobs.
//
//   New-AsrRecoveryPlan -Name app -ReplicationProtectedItem VM1, VM2
//   Edit-AsrRecoveryPlan -RecoveryPlan app -AppendGroup
//   Edit-AsrRecoveryPlan -RecoveryPlan app -Group "Group 2" -AddProtectedItem VM2
//   Start-AsrTestFailoverJob -RecoveryPlan app -Direction PrimaryToRecovery
//   Get-AsrJob -State Failed | Restart-AsrJob
//   Get-AsrJob -State Suspended | Resume-AsrJob
//   Get-AsrRecoveryPlan app
//   Remove-AsrRecoveryPlan app
//   Stop-AsrJob job-000042
//   Start-AsrPlannedFailoverJob VM1 -Direction PrimaryToRecovery -AsJob | Wait-AsrJob
//
// Edit-AsrRecoveryPlan changes the stored plan at once (Az edits a copy in
// memory that Update-AzRecoveryServicesAsrRecoveryPlan then saves).

using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using Asr.Model;
using AsrJob = Asr.Model.Job;
using AsrJobState = Asr.Model.JobState;

namespace Asr.PowerShell
{
    /// <summary>Creates a recovery plan of protected VMs of one cloud pairing (they go to Group 1).</summary>
    [Cmdlet(VerbsCommon.New, "AsrRecoveryPlan", SupportsShouldProcess = true)]
    [OutputType(typeof(RecoveryPlan))]
    public sealed class NewAsrRecoveryPlanCommand : AsrCmdlet
    {
        /// <summary>The plan's name.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string Name { get; set; } = string.Empty;

        /// <summary>The protected items.</summary>
        [Parameter(Mandatory = true)]
        public AsrRef[] ReplicationProtectedItem { get; set; } = Array.Empty<AsrRef>();

        /// <summary>How many boot groups to start with (1 .. 20).</summary>
        [Parameter]
        [ValidateRange(1, 20)]
        public int BootGroups { get; set; } = 1;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Name, "Create the recovery plan"))
            {
                WriteObject(Engine.RecoveryPlans.Create(Name, ReplicationProtectedItem.Select(r => r.Key), BootGroups));
            }
        }
    }

    /// <summary>The recovery plans.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrRecoveryPlan")]
    [OutputType(typeof(RecoveryPlan))]
    public sealed class GetAsrRecoveryPlanCommand : AsrCmdlet
    {
        /// <summary>One plan, by id or name.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        public string? Name { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            WriteObject(Name == null ? Engine.RecoveryPlans.ToList() : new List<RecoveryPlan> { Engine.RecoveryPlans[Name] }, true);
        }
    }

    /// <summary>Changes a recovery plan: a group appended or removed, protected items added to or removed from a group.</summary>
    [Cmdlet(VerbsData.Edit, "AsrRecoveryPlan", SupportsShouldProcess = true, DefaultParameterSetName = "AppendGroup")]
    [OutputType(typeof(RecoveryPlan))]
    public sealed class EditAsrRecoveryPlanCommand : AsrCmdlet
    {
        /// <summary>The plan.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public AsrRef RecoveryPlan { get; set; } = null!;

        /// <summary>Append an empty boot group.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "AppendGroup")]
        public SwitchParameter AppendGroup { get; set; }

        /// <summary>Remove this (empty) boot group ("Group 2" or "2").</summary>
        [Parameter(Mandatory = true, ParameterSetName = "RemoveGroup")]
        public string RemoveGroup { get; set; } = string.Empty;

        /// <summary>The group to add to or remove from.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "AddProtectedItems")]
        [Parameter(Mandatory = true, ParameterSetName = "RemoveProtectedItems")]
        public string Group { get; set; } = string.Empty;

        /// <summary>Protected items to add to the group.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "AddProtectedItems")]
        public AsrRef[] AddProtectedItem { get; set; } = Array.Empty<AsrRef>();

        /// <summary>Protected items to remove from the group.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "RemoveProtectedItems")]
        public AsrRef[] RemoveProtectedItem { get; set; } = Array.Empty<AsrRef>();

        /// <inheritdoc/>
        protected override void Process()
        {
            RecoveryPlan plan = Engine.RecoveryPlans[RecoveryPlan.Key];
            RecoveryPlan? result = null;
            switch (ParameterSetName)
            {
                case "AppendGroup":
                    if (ShouldProcess(plan.Name, "Append a group"))
                    {
                        result = plan.AppendGroup();
                    }

                    break;
                case "RemoveGroup":
                    if (ShouldProcess(plan.Name, "Remove " + RemoveGroup))
                    {
                        result = plan.RemoveGroup(RemoveGroup);
                    }

                    break;
                case "AddProtectedItems":
                    if (ShouldProcess(plan.Name, "Add protected items to " + Group))
                    {
                        result = plan.AddProtectedItems(AddProtectedItem.Select(r => r.Key), Group);
                    }

                    break;
                default:
                    if (ShouldProcess(plan.Name, "Remove protected items from " + Group))
                    {
                        var edit = new RecoveryPlanEdit { Operation = "RemoveProtectedItems", Group = Group };
                        foreach (AsrRef r in RemoveProtectedItem)
                        {
                            edit.Items.Add(r.Key);
                        }

                        result = plan.Edit(edit);
                    }

                    break;
            }

            if (result != null)
            {
                WriteObject(result);
            }
        }
    }

    /// <summary>Deletes a recovery plan (its VMs stay protected).</summary>
    [Cmdlet(VerbsCommon.Remove, "AsrRecoveryPlan", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    public sealed class RemoveAsrRecoveryPlanCommand : AsrCmdlet
    {
        /// <summary>The plan.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("Name")]
        public AsrRef RecoveryPlan { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(RecoveryPlan.Key, "Delete the recovery plan"))
            {
                Engine.RecoveryPlans.Remove(RecoveryPlan.Key);
            }
        }
    }

    /// <summary>The jobs, oldest first, filtered as Az's Get-AzRecoveryServicesAsrJob filters.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrJob")]
    [OutputType(typeof(AsrJob))]
    public sealed class GetAsrJobCommand : AsrCmdlet
    {
        /// <summary>One job, by id.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Id")]
        public string? Name { get; set; }

        /// <summary>Only jobs in this state.</summary>
        [Parameter]
        [ValidateSet("NotStarted", "InProgress", "Succeeded", "Other", "Failed", "Cancelled", "Suspended")]
        public string? State { get; set; }

        /// <summary>Only jobs started at or after this time.</summary>
        [Parameter]
        public DateTime? StartTime { get; set; }

        /// <summary>Only jobs started before this time.</summary>
        [Parameter]
        public DateTime? EndTime { get; set; }

        /// <summary>Only jobs of this object (an item's id, a VM's, ...).</summary>
        [Parameter]
        public string? TargetObjectId { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            if (Name != null)
            {
                WriteObject(Engine.Jobs[Name]);
                return;
            }

            var query = new JobQuery
            {
                State = State == null ? default : (AsrJobState)Enum.Parse(typeof(AsrJobState), State),
                StartedAfterUnix = StartTime == null ? 0 : new DateTimeOffset(StartTime.Value.ToUniversalTime()).ToUnixTimeSeconds(),
                StartedBeforeUnix = EndTime == null ? 0 : new DateTimeOffset(EndTime.Value.ToUniversalTime()).ToUnixTimeSeconds(),
                TargetObjectId = TargetObjectId ?? string.Empty,
            };
            WriteObject(Engine.Jobs.Find(query), true);
        }
    }

    /// <summary>What the job-changing cmdlets share: the job, from the pipeline or by id.</summary>
    public abstract class JobChangeCmdlet : AsrCmdlet
    {
        /// <summary>The job.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("Name")]
        public AsrRef Job { get; set; } = null!;
    }

    /// <summary>Cancels a NotStarted or Suspended job, or asks a running one to stop between tasks.</summary>
    [Cmdlet(VerbsLifecycle.Stop, "AsrJob", SupportsShouldProcess = true)]
    [OutputType(typeof(AsrJob))]
    public sealed class StopAsrJobCommand : JobChangeCmdlet
    {
        /// <inheritdoc/>
        protected override void Process()
        {
            if (ShouldProcess(Job.Key, "Cancel the job"))
            {
                WriteObject(Engine.Jobs[Job.Key].Cancel());
            }
        }
    }

    /// <summary>Continues a Suspended job (after a manual action, or a planned failover ForDownTime).</summary>
    [Cmdlet(VerbsLifecycle.Resume, "AsrJob", SupportsShouldProcess = true)]
    [OutputType(typeof(AsrJob))]
    public sealed class ResumeAsrJobCommand : JobChangeCmdlet
    {
        /// <summary>Run as a PowerShell job.</summary>
        [Parameter]
        public SwitchParameter AsJob { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            AsrJob job = Engine.Jobs[Job.Key];
            if (ShouldProcess(job.Id, "Resume the job"))
            {
                RunLong("Resume " + job.Id, job, (p, ct) => job.ResumeAsync(p, ct), AsJob.IsPresent);
            }
        }
    }

    /// <summary>Runs a Failed job again; the tasks that finished are skipped.</summary>
    [Cmdlet(VerbsLifecycle.Restart, "AsrJob", SupportsShouldProcess = true)]
    [OutputType(typeof(AsrJob))]
    public sealed class RestartAsrJobCommand : JobChangeCmdlet
    {
        /// <summary>Run as a PowerShell job.</summary>
        [Parameter]
        public SwitchParameter AsJob { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            AsrJob job = Engine.Jobs[Job.Key];
            if (ShouldProcess(job.Id, "Restart the job"))
            {
                RunLong("Restart " + job.Id, job, (p, ct) => job.RestartAsync(p, ct), AsJob.IsPresent);
            }
        }
    }

    /// <summary>
    /// Waits until an asr job is no longer NotStarted or InProgress (or a PowerShell job of
    /// -AsJob has finished) and writes the asr job.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Wait, "AsrJob")]
    [OutputType(typeof(AsrJob))]
    public sealed class WaitAsrJobCommand : AsrCmdlet
    {
        private CancellationTokenSource? _stop;

        /// <summary>The asr job (or its id), or the PowerShell job -AsJob returned.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public PSObject Job { get; set; } = null!;

        /// <summary>Give up after this many seconds (0: wait as long as it takes).</summary>
        [Parameter]
        public int TimeoutSeconds { get; set; }

        /// <inheritdoc/>
        protected override void StopProcessing() => _stop?.Cancel();

        /// <inheritdoc/>
        protected override void Process()
        {
            using var stop = new CancellationTokenSource();
            _stop = stop;
            DateTime end = TimeoutSeconds > 0 ? DateTime.UtcNow.AddSeconds(TimeoutSeconds) : DateTime.MaxValue;
            if (Job.BaseObject is AsrPowerShellJob ps)
            {
                while (!ps.Finished.WaitOne(200))
                {
                    if (stop.IsCancellationRequested || DateTime.UtcNow > end)
                    {
                        WriteError(new ErrorRecord(new TimeoutException($"PowerShell job {ps.Id} is still running"), "WaitTimedOut", ErrorCategory.OperationTimeout, ps));
                        return;
                    }
                }

                foreach (PSObject o in ps.Output.ReadAll())
                {
                    WriteObject(o);
                }

                foreach (ErrorRecord e in ps.Error.ReadAll())
                {
                    WriteError(e);
                }

                return;
            }

            string id = Job.BaseObject is AsrJob j ? j.Id : Job.BaseObject.ToString() ?? string.Empty;
            for (;;)
            {
                AsrJob now = Engine.Jobs[id];
                if (now.State != AsrJobState.NotStarted && now.State != AsrJobState.InProgress)
                {
                    WriteObject(now);
                    return;
                }

                if (stop.IsCancellationRequested || DateTime.UtcNow > end)
                {
                    WriteError(new ErrorRecord(new TimeoutException($"job {id} is still {now.State}"), "WaitTimedOut", ErrorCategory.OperationTimeout, now));
                    return;
                }

                WriteProgress(new ProgressRecord(2, "Waiting for " + id, now.State.ToString()) { PercentComplete = Math.Min(100, now.PercentComplete) });
                Thread.Sleep(500);
            }
        }
    }
}
