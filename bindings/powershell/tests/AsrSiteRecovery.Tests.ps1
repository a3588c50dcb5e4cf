# Pester tests of the AsrSiteRecovery module in a real pwsh: the manifest and
# the cmdlets' parameters, then the whole scenario on the simulated fabric
# (asrctl fabric init --example: two VMM servers, VMs with real VHDX disks)
# through the cmdlets alone: vault, registration, inventory, policy and
# pairing, mappings, protection over loopback TLS, test failover and its
# cleanup, planned failover, commit, reprotect, failback; errors as
# ErrorRecords, -WhatIf, -AsJob with Wait-AsrJob, recovery plans and jobs.
#
# Needs: $env:ASR_PS_MODULE (the built module directory), $env:ASRCTL and
# $env:ASR_NATIVE_DIR (bindings/powershell/test.sh sets them).

BeforeAll {
    Import-Module (Join-Path $env:ASR_PS_MODULE 'AsrSiteRecovery.psd1') -Force
    if (-not ('TestVmmHost' -as [type])) {
        Add-Type -Path (Join-Path $PSScriptRoot 'TestVmmHost.cs') `
            -ReferencedAssemblies ([Asr.IAsrVmHost].Assembly.Location), 'netstandard', 'System.Text.Json', 'System.Collections',
            'System.Linq', 'System.Runtime', 'System.Memory', 'System.Threading', 'System.Text.Encoding.Extensions', 'System.Runtime.Extensions'
    }
    function Invoke-Asrctl {
        $out = & $env:ASRCTL @args 2>&1
        if ($LASTEXITCODE -ne 0) { throw "asrctl $args failed: $out" }
        $out
    }
}

Describe 'The module' {
    It 'exports exactly the cmdlets its manifest lists' {
        $manifest = Import-PowerShellDataFile (Join-Path $env:ASR_PS_MODULE 'AsrSiteRecovery.psd1')
        $exported = (Get-Command -Module AsrSiteRecovery -CommandType Cmdlet).Name | Sort-Object
        $exported | Should -Be ($manifest.CmdletsToExport | Sort-Object)
        $exported.Count | Should -BeGreaterThan 45
        (Get-Command Get-AsrServicesProvider).ResolvedCommandName | Should -Be 'Get-AsrServer'
    }

    It 'names the Az Site Recovery cmdlets with the Asr prefix' {
        foreach ($name in 'New-AsrPolicy', 'Get-AsrPolicy', 'Update-AsrPolicy', 'Remove-AsrPolicy',
                 'New-AsrProtectionContainerMapping', 'Get-AsrProtectionContainerMapping', 'Remove-AsrProtectionContainerMapping',
                 'New-AsrNetworkMapping', 'Get-AsrNetworkMapping', 'Remove-AsrNetworkMapping',
                 'New-AsrStorageClassificationMapping', 'Get-AsrStorageClassificationMapping', 'Remove-AsrStorageClassificationMapping',
                 'New-AsrReplicationProtectedItem', 'Get-AsrReplicationProtectedItem', 'Remove-AsrReplicationProtectedItem',
                 'Start-AsrTestFailoverJob', 'Start-AsrTestFailoverCleanupJob', 'Start-AsrPlannedFailoverJob',
                 'Start-AsrUnplannedFailoverJob', 'Start-AsrCommitFailoverJob', 'Update-AsrProtectionDirection',
                 'New-AsrRecoveryPlan', 'Get-AsrRecoveryPlan', 'Edit-AsrRecoveryPlan', 'Remove-AsrRecoveryPlan',
                 'Get-AsrJob', 'Stop-AsrJob', 'Resume-AsrJob', 'Restart-AsrJob', 'Get-AsrRecoveryPoint',
                 'Get-AsrFabric', 'Get-AsrProtectionContainer', 'Get-AsrProtectableItem', 'Get-AsrNetwork', 'Get-AsrStorageClassification') {
            Get-Command $name -Module AsrSiteRecovery -ErrorAction Stop | Should -Not -BeNullOrEmpty
        }
    }

    It 'has the value sets of Az (tab completion offers them)' {
        function ValidSet($cmd, $param) {
            ((Get-Command $cmd).Parameters[$param].Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }).ValidValues
        }
        ValidSet 'Start-AsrPlannedFailoverJob' 'Direction' | Should -Be @('PrimaryToRecovery', 'RecoveryToPrimary')
        ValidSet 'Start-AsrPlannedFailoverJob' 'Optimize' | Should -Be @('ForDownTime', 'ForSynchronization')
        ValidSet 'Start-AsrTestFailoverJob' 'RecoveryTag' | Should -Be @('Latest', 'LatestAvailable', 'LatestAvailableApplicationConsistent')
        ValidSet 'Start-AsrUnplannedFailoverJob' 'RecoveryTag' | Should -Be @('Latest', 'LatestAvailable', 'LatestAvailableApplicationConsistent', 'LatestAvailableCrashConsistent')
        ValidSet 'New-AsrPolicy' 'ReplicationProvider' | Should -Be @('HyperVReplica2012R2', 'HyperVReplica2012', 'HyperVReplicaAzure')
        ValidSet 'New-AsrPolicy' 'ReplicationFrequencyInSeconds' | Should -Be @('30', '300', '900')
        ValidSet 'New-AsrPolicy' 'ReplicationMethod' | Should -Be @('Online', 'Offline')
        ValidSet 'New-AsrPolicy' 'Compression' | Should -Be @('Enable', 'Disable')
        ValidSet 'New-AsrPolicy' 'Authentication' | Should -Be @('Certificate', 'Kerberos')
        ValidSet 'New-AsrPolicy' 'ReplicaDeletion' | Should -Be @('Required', 'NotRequired')
        ValidSet 'Get-AsrJob' 'State' | Should -Be @('NotStarted', 'InProgress', 'Succeeded', 'Other', 'Failed', 'Cancelled', 'Suspended')
        (Get-Command Start-AsrUnplannedFailoverJob).Parameters['PerformSourceSideAction'].Aliases | Should -Contain 'PerformSourceSideActions'
        (Get-Command New-AsrPolicy).Parameters['NumberOfRecoveryPointsToRetain'].Aliases | Should -Contain 'RecoveryPoints'
        $line = 'Start-AsrPlannedFailoverJob -Optimize '
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $completion.CompletionMatches.CompletionText | Should -Be @('ForDownTime', 'ForSynchronization')
    }

    It 'supports -WhatIf and -Confirm on every cmdlet that changes state' {
        $changing = Get-Command -Module AsrSiteRecovery -CommandType Cmdlet | Where-Object { $_.Verb -notin 'Get', 'Wait', 'Open', 'Close', 'Invoke', 'Test' }
        foreach ($c in $changing) {
            $c.Parameters.Keys | Should -Contain 'WhatIf' -Because $c.Name
            $c.Parameters.Keys | Should -Contain 'Confirm' -Because $c.Name
        }
    }

    It 'has about_ help and Get-Help for every cmdlet' {
        (Get-Help about_AsrSiteRecovery | Out-String) | Should -Match 'Open-AsrEngine'
        foreach ($c in Get-Command -Module AsrSiteRecovery -CommandType Cmdlet) {
            $help = Get-Help $c.Name -Full
            $help.Synopsis | Should -Not -BeLike "$($c.Name)*" -Because "$($c.Name) has a synopsis of its own"
            foreach ($p in $c.Parameters.Values | Where-Object { $_.Name -notin [System.Management.Automation.PSCmdlet]::CommonParameters -and
                                                                 $_.Name -notin [System.Management.Automation.PSCmdlet]::OptionalCommonParameters }) {
                ($help.parameters.parameter | Where-Object name -eq $p.Name).description.Text |
                    Should -Not -BeNullOrEmpty -Because "$($c.Name) -$($p.Name) is described"
            }
        }
        foreach ($c in Get-Command -Module AsrSiteRecovery -CommandType Cmdlet) {
            (Get-Help $c.Name -Examples).examples.example.code | Should -Match $c.Name -Because "$($c.Name) has an example"
        }
        (Get-Help Start-AsrPlannedFailoverJob -Examples | Out-String) | Should -Match 'Start-AsrPlannedFailoverJob -Direction'
        (Get-Help Start-AsrPlannedFailoverJob -Parameter Optimize | Out-String) | Should -Match 'ForDownTime'
    }

    It 'says what to do when no engine is open' {
        { Get-AsrPolicy -ErrorAction Stop } | Should -Throw '*Open-AsrEngine*'
    }
}

Describe 'The whole scenario on the simulated fabric' {
    BeforeAll {
        $script:root = Join-Path ([System.IO.Path]::GetTempPath()) ("asr-pester-" + [guid]::NewGuid())
        New-Item -ItemType Directory $root | Out-Null
        $fabric = Join-Path $root 'fabric'
        $script:pki = Join-Path $root 'pki'
        $kek = Join-Path $root 'kek'
        Invoke-Asrctl fabric init --dir $fabric --example --disk-size 16M | Out-Null
        Invoke-Asrctl key-provider init --key-file $kek | Out-Null
        Invoke-Asrctl pki init --dir $pki --recovery-san 127.0.0.1 --key-file $kek | Out-Null
        $script:vmmHost = [TestVmmHost]::new((Join-Path $fabric 'fabric.json'))
        Open-AsrEngine -StateDirectory (Join-Path $root 'state') -KeyFile $kek
        Set-AsrVmmHost -VmmHost $vmmHost
    }

    AfterAll {
        Close-AsrEngine
        Remove-Item -Recurse -Force $root -ErrorAction SilentlyContinue
    }

    It 'creates the vault and registers both VMM servers with a registration key' {
        (New-AsrVault -Name contoso-dr -Region eastus).Name | Should -Be 'contoso-dr'
        $key = New-AsrRegistrationKey -Path (Join-Path $root 'vault.key')
        $key.Key.VaultName | Should -Be 'contoso-dr'
        $key | Register-AsrServer -FriendlyName vmm-ny -Site primary | Out-Null
        Register-AsrServer -FriendlyName vmm-chi -KeyFile (Join-Path $root 'vault.key') -Site recovery | Out-Null
        (Get-AsrServer).FriendlyName | Sort-Object | Should -Be @('vmm-chi', 'vmm-ny')
        (Get-AsrFabric).Id | Should -Contain 'primary'
    }

    It 'syncs the inventories from the host, the whole server and each cloud' {
        $report = 'vmm-ny', 'vmm-chi' | Sync-AsrInventory
        $report.Count | Should -Be 2
        Sync-AsrInventory vmm-ny -ProtectionContainer GoldCloud1 | Out-Null
        Sync-AsrInventory vmm-chi -ProtectionContainer GoldCloud2 | Out-Null
        $vmmHost.Calls | Should -Contain 'GetInventory vmm-ny'
        (Get-AsrProtectionContainer GoldCloud1).MetadataSynced | Should -BeTrue
        (Get-AsrProtectableItem -ProtectionContainer GoldCloud1).Name | Should -Contain 'VM1'
        (Get-AsrNetwork vmn1-chi).Name | Should -Be 'VMNetwork1-Chicago'
        (Get-AsrStorageClassification sc-gold).Name | Should -Be 'GOLD'
    }

    It 'creates a policy (and -WhatIf creates none) and pairs the clouds under it' {
        New-AsrPolicy -Name silver -ReplicationProvider HyperVReplica2012R2 -ReplicationFrequencyInSeconds 300 -WhatIf
        Get-AsrPolicy | Should -BeNullOrEmpty
        $p = New-AsrPolicy -Name gold -ReplicationProvider HyperVReplica2012R2 -ReplicationFrequencyInSeconds 30 -RecoveryPoints 2 -Compression Enable -ReplicaDeletion Required
        $p.ReplicationFrequencyInSeconds | Should -Be 30
        $p.ReplicaDeletion | Should -Be 'Required'
        $p.CompressionEnabled | Should -BeTrue
        (Update-AsrPolicy -Policy $p -ApplicationConsistentSnapshotFrequencyInHours 1).ApplicationConsistentSnapshotFrequencyInHours | Should -Be 1
        New-AsrPolicy -Name azure -ReplicationProvider HyperVReplicaAzure -ErrorVariable bad -ErrorAction SilentlyContinue
        $bad[0].FullyQualifiedErrorId | Should -BeLike 'IncorrectReplicationProvider*'
        $pairing = New-AsrProtectionContainerMapping -Policy $p -PrimaryProtectionContainer GoldCloud1 -RecoveryProtectionContainer GoldCloud2
        $pairing.PolicyId | Should -Be $p.Id
        (Get-AsrProtectionContainerMapping GoldCloud1).Id | Should -Be $pairing.Id
        ($vmmHost.Calls -like 'ConfigureHost *Primary').Count | Should -BeGreaterThan 0
        ($vmmHost.Calls -like 'ConfigureHost *Recovery').Count | Should -BeGreaterThan 0
    }

    It 'refuses a second pairing of a cloud as an ErrorRecord with the rule and what to do' {
        New-AsrProtectionContainerMapping -Policy gold -PrimaryProtectionContainer GoldCloud1 -RecoveryProtectionContainer SilverCloud2 -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].FullyQualifiedErrorId | Should -BeLike 'CloudInAtMostOnePairing,*'
        $err[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $err[0].Exception | Should -BeOfType ([Asr.AsrFailedPreconditionException])
    }

    It 'maps the VM networks and the storage classifications' {
        New-AsrNetworkMapping -PrimaryNetwork vmn1-ny -RecoveryNetwork vmn1-chi | Out-Null
        New-AsrStorageClassificationMapping -PrimaryStorageClassification sc-gold -RecoveryStorageClassification sc-gold-t | Out-Null
        (Get-AsrNetworkMapping).TargetVmNetworkId | Should -Be 'vmn1-chi'
        (Get-AsrStorageClassificationMapping).TargetClassificationId | Should -Be 'sc-gold-t'
    }

    It 'protects VM1 over loopback TLS: a stopped replica VM in Chicago, recovery points' {
        Set-AsrTransport -PkiDirectory $pki -PointIntervalSeconds 1
        Start-AsrSiteService | Out-Null
        $job = Get-AsrProtectableItem VM1 | New-AsrReplicationProtectedItem
        $job.State | Should -Be 'Succeeded'
        $job.ScenarioName | Should -Be 'EnableProtection'
        $item = Get-AsrReplicationProtectedItem VM1
        $item.ProtectionState | Should -Be 'Protected'
        $vmmHost.Power($item.ReplicaVmId) | Should -Be 'STOPPED'
        ($item | Get-AsrRecoveryPoint).Count | Should -BeGreaterThan 0
        ([pscustomobject]@{ VmName = 'VM1' } | Get-AsrRecoveryPoint).Count | Should -BeGreaterThan 0   # by property name
        Invoke-AsrSiteServiceStep | Out-Null
        $vmmHost.SinkCount | Should -BeGreaterThan 0
        $vmmHost.PointsHeld | Should -Be 0
        $script:replica = $item.ReplicaVmId
    }

    It 'runs a test failover beside production and cleans it up' {
        $job = Get-AsrReplicationProtectedItem VM1 | Start-AsrTestFailoverJob -Direction PrimaryToRecovery -VMNetwork (Get-AsrNetwork vmn1-chi)
        $job.ScenarioName | Should -Be 'TestFailover'
        $item = Get-AsrReplicationProtectedItem VM1
        $item.TestFailoverState | Should -Be 'TestFailoverCompleted'
        $vmmHost.Power($item.TestVmId) | Should -Be 'RUNNING'
        $vmmHost.Power('vm1') | Should -Be 'RUNNING'
        $vmmHost.Calls | Should -Contain "ConnectNic $($item.TestVmId) vmn1-chi"
        Get-AsrReplicationProtectedItem VM1 | Start-AsrTestFailoverCleanupJob | Out-Null
        (Get-AsrReplicationProtectedItem VM1).TestFailoverState | Should -Be 'None'
        { $vmmHost.GetVm($item.TestVmId) } | Should -Throw '*no VM*'
    }

    It 'shows where a replica goes, verifies replicas, and resynchronizes only when needed' {
        $placement = Get-AsrProtectableItem VM2 | Get-AsrReplicaPlacement
        $placement.Placed | Should -BeTrue
        $placement.HostName | Should -Not -BeNullOrEmpty
        $check = Get-AsrReplicationProtectedItem VM1 | Test-AsrReplicationProtectedItem
        $check.ResyncRequired | Should -BeFalse
        $check.Disks.Count | Should -BeGreaterThan 0
        Start-AsrResynchronizeReplicationJob VM1 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].Exception.Message | Should -Match 'RepairReplication'
    }

    It 'sets, reads and clears bandwidth throttles of the site and of a VM' {
        $site = Set-AsrThrottle -Limit 'Mon-Fri 08:00-18:00 50Mbit/s' -UtcOffset '+01:00'
        $site.Id | Should -Be 'site'
        $site.Schedule.Windows[0].BitsPerSecond | Should -Be 50000000
        Get-AsrReplicationProtectedItem VM1 | Set-AsrThrottle -Limit 'daily 00:00-06:00 10Mbit/s' | Out-Null
        (Get-AsrThrottle).Id | Should -Be @('site', 'vm-vm1')
        Set-AsrThrottle -Limit 'Mon 25:00-26:00 1Mbit/s' -ErrorVariable bad -ErrorAction SilentlyContinue
        $bad[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Clear-AsrThrottle -VM VM1
        Clear-AsrThrottle
        Get-AsrThrottle | Should -BeNullOrEmpty
    }

    It 'groups protected VMs for shared points and removes the group again' {
        $g = New-AsrReplicationGroup -Name app -ReplicationProtectedItem VM1
        $g.ProtectedItemIds | Should -Be @('pi-vm1')
        (Get-AsrReplicationGroup app).Name | Should -Be 'app'
        (Remove-AsrReplicationGroupMember app -ReplicationProtectedItem VM1).ProtectedItemIds | Should -BeNullOrEmpty
        (Get-AsrReplicationProtectedItem VM1 | Add-AsrReplicationGroupMember app).ProtectedItemIds | Should -Be @('pi-vm1')
        Remove-AsrReplicationGroup app -Confirm:$false
        Get-AsrReplicationGroup | Should -BeNullOrEmpty
    }

    It 'fails over unplanned (shutting the source down), applies another point, and cancels' {
        $points = Get-AsrRecoveryPoint VM1
        $job = Start-AsrUnplannedFailoverJob VM1 -Direction PrimaryToRecovery -PerformSourceSideAction -RecoveryTag LatestAvailable
        $job.State | Should -Be 'Succeeded'
        (Get-AsrReplicationProtectedItem VM1).ProtectionState | Should -Be 'FailedOver'
        $vmmHost.Power('vm1') | Should -Be 'STOPPED'
        (Start-AsrApplyRecoveryPoint VM1 -RecoveryPoint $points[0]).State | Should -Be 'Succeeded'
        (Get-AsrReplicationProtectedItem VM1).FailoverRecoveryPointId | Should -Be $points[0].Id
        (Start-AsrCancelFailoverJob VM1).State | Should -Be 'Succeeded'
        (Get-AsrReplicationProtectedItem VM1).ProtectionState | Should -Be 'Protected'
        $vmmHost.Power('vm1') | Should -Be 'RUNNING'
        $vmmHost.Power($replica) | Should -Be 'STOPPED'
    }

    It 'refuses a commit before any failover, saying what the state allows' {
        Start-AsrCommitFailoverJob -ReplicationProtectedItem VM1 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].Exception.Message | Should -Match 'Commit'
        (Get-AsrReplicationProtectedItem VM1).ProtectionState | Should -Be 'Protected'
    }

    It 'fails over as planned (-WhatIf first changes nothing), then commits' {
        Get-AsrReplicationProtectedItem VM1 | Start-AsrPlannedFailoverJob -Direction PrimaryToRecovery -WhatIf
        (Get-AsrReplicationProtectedItem VM1).ProtectionState | Should -Be 'Protected'
        $job = Get-AsrReplicationProtectedItem VM1 | Start-AsrPlannedFailoverJob -Direction PrimaryToRecovery
        $job.State | Should -Be 'Succeeded'
        (Get-AsrReplicationProtectedItem VM1).ProtectionState | Should -Be 'PlannedFailoverCompleted'
        $vmmHost.Power('vm1') | Should -Be 'STOPPED'
        $vmmHost.Power($replica) | Should -Be 'RUNNING'
        Get-AsrReplicationProtectedItem VM1 | Start-AsrCommitFailoverJob | Out-Null
        (Get-AsrReplicationProtectedItem VM1).ProtectionState | Should -Be 'Committed'
    }

    It 'reprotects: replication runs from Chicago back to New York' {
        Get-AsrReplicationProtectedItem VM1 | Update-AsrProtectionDirection -Direction RecoveryToPrimary | Out-Null
        $item = Get-AsrReplicationProtectedItem VM1
        $item.ProtectionState | Should -Be 'Protected'
        $item.Reversed | Should -BeTrue
        $item.VmId | Should -Be $replica
    }

    It 'fails back as a PowerShell job (-AsJob, Wait-AsrJob), commits and protects in the first direction again' {
        $ps = Get-AsrReplicationProtectedItem VM1 | Start-AsrPlannedFailoverJob -Direction RecoveryToPrimary -AsJob
        $ps | Should -BeOfType ([Asr.PowerShell.AsrPowerShellJob])
        $job = $ps | Wait-AsrJob -TimeoutSeconds 120
        $job.State | Should -Be 'Succeeded'
        $vmmHost.Power('vm1') | Should -Be 'RUNNING'
        $vmmHost.Power($replica) | Should -Be 'STOPPED'
        Get-AsrReplicationProtectedItem VM1 | Start-AsrCommitFailoverJob | Out-Null
        Get-AsrReplicationProtectedItem VM1 | Update-AsrProtectionDirection -Direction PrimaryToRecovery | Out-Null
        $item = Get-AsrReplicationProtectedItem VM1
        $item.ProtectionState | Should -Be 'Protected'
        $item.Reversed | Should -BeFalse
        $item.VmId | Should -Be 'vm1'
        $vmmHost.PointsHeld | Should -Be 0
    }

    It 'runs the README''s five lines as written: test failover, failover, reprotect and failback again' {
        $readme = Get-Content -Raw (Join-Path $PSScriptRoot '../../../README.md')
        $section = $readme.Substring($readme.IndexOf('## PowerShell'))
        $code = [regex]::Match($section, '```powershell\r?\n(.*?)```', 'Singleline').Groups[1].Value
        ($code.Trim() -split '\r?\n').Count | Should -Be 5
        $before = @(Get-AsrJob).Count
        $null = Invoke-Expression $code
        $item = Get-AsrReplicationProtectedItem VM1
        $item.ProtectionState | Should -Be 'Protected'
        $item.Reversed | Should -BeFalse
        $item.TestFailoverState | Should -Be 'None'
        $vmmHost.Power('vm1') | Should -Be 'RUNNING'
        $vmmHost.Power($replica) | Should -Be 'STOPPED'
        $new = @(Get-AsrJob) | Select-Object -Skip $before
        $new.ScenarioName | Should -Be @('TestFailover', 'TestFailoverCleanup', 'PlannedFailover', 'CommitFailover', 'ReverseReplicate',
                                         'PlannedFailover', 'CommitFailover', 'ReverseReplicate')
        $new.State | Should -Not -Contain 'Failed'
    }

    It 'shows a job''s progress (Write-Progress) to a host in another runspace of this process' {
        $ps = [powershell]::Create()
        $module = Join-Path $env:ASR_PS_MODULE 'AsrSiteRecovery.psd1'
        $null = $ps.AddScript("Import-Module '$module'; Start-AsrTestFailoverJob VM1 -Direction PrimaryToRecovery; Start-AsrTestFailoverCleanupJob VM1")
        $jobs = $ps.Invoke()
        $ps.Streams.Error | Should -BeNullOrEmpty
        $jobs.ScenarioName | Should -Be @('TestFailover', 'TestFailoverCleanup')
        $progress = $ps.Streams.Progress | Where-Object Activity -eq 'TestFailover of VM1'
        $progress | Should -Not -BeNullOrEmpty
        ($progress | Where-Object StatusDescription -like "$($jobs[0].Id) *") | Should -Not -BeNullOrEmpty
        ($progress | Where-Object RecordType -eq 'Completed') | Should -Not -BeNullOrEmpty
        $ps.Dispose()
    }

    It 'runs a recovery plan''s test failover and cleanup, and edits the plan' {
        $plan = New-AsrRecoveryPlan -Name app -ReplicationProtectedItem VM1
        $plan.Groups.Count | Should -BeGreaterThan 2
        $edited = Edit-AsrRecoveryPlan -RecoveryPlan app -AppendGroup
        $edited.Groups.Count | Should -Be ($plan.Groups.Count + 1)
        (Start-AsrTestFailoverJob -RecoveryPlan app -Direction PrimaryToRecovery).State | Should -Be 'Succeeded'
        (Get-AsrReplicationProtectedItem VM1).TestFailoverState | Should -Be 'TestFailoverCompleted'
        (Start-AsrTestFailoverCleanupJob -RecoveryPlan app).State | Should -Be 'Succeeded'
        (Get-AsrRecoveryPlan).Name | Should -Be 'app'
        Remove-AsrRecoveryPlan app -Confirm:$false
        Get-AsrRecoveryPlan | Should -BeNullOrEmpty
    }

    It 'lists the jobs of the scenario; the only failed one (the refused pairing) fails again on restart' {
        $all = Get-AsrJob
        $all.ScenarioName | Should -Contain 'PlannedFailover'
        $all.ScenarioName | Should -Contain 'ReverseReplicate'
        $failed = Get-AsrJob -State Failed
        @($failed).Count | Should -Be 1
        $failed.ScenarioName | Should -Be 'PairClouds'
        (Get-AsrJob -TargetObjectId gold1).Id | Should -Contain $failed.Id
        $failed | Restart-AsrJob -ErrorVariable again -ErrorAction SilentlyContinue
        $again[0].FullyQualifiedErrorId | Should -BeLike 'CloudInAtMostOnePairing,*'
        (Get-AsrJob -Name $all[0].Id).Id | Should -Be $all[0].Id
        Stop-AsrJob -Job $all[0] -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
    }

    It 'shows readable tables' {
        $table = Get-AsrReplicationProtectedItem | Format-Table | Out-String
        $table | Should -Match 'ProtectionState'
        $table | Should -Match 'VM1'
        (Get-AsrJob | Select-Object -First 1 | Format-Table | Out-String) | Should -Match 'Scenario'
    }

    It 'stops the site service and disables protection (the replica VM goes)' {
        Stop-AsrSiteService
        Remove-AsrReplicationProtectedItem VM1 -Confirm:$false | Out-Null
        Get-AsrReplicationProtectedItem | Should -BeNullOrEmpty
        { $vmmHost.GetVm($replica) } | Should -Throw '*no VM*'
    }
}
