# Module manifest of AsrSiteRecovery: Site Recovery between VMM clouds with
# asr, as Az.RecoveryServices' ASR cmdlets are named. CmdletsToExport lists
# exactly the cmdlets the module has (a Pester test compares it with
# Get-Command -Module AsrSiteRecovery).
@{
    RootModule = 'AsrSiteRecovery.dll'
    ModuleVersion = '0.1.0'
    GUID = '5b0f3c53-2d7e-4c8e-9a61-7e1c4d2f9a10'
    Author = 'asr'
    Description = 'Protect VMs of VMM clouds, fail them over and back with asr: vault, servers, inventory, policies, cloud pairings, network and storage mappings, protected items, test/planned/unplanned failover, commit, reprotect, recovery plans and jobs.'
    PowerShellVersion = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess = @('AsrSiteRecovery.format.ps1xml')
    FunctionsToExport = @()
    CmdletsToExport = @(
        'Add-AsrReplicationGroupMember',
        'Clear-AsrThrottle',
        'Close-AsrEngine',
        'Edit-AsrRecoveryPlan',
        'Get-AsrFabric',
        'Get-AsrJob',
        'Get-AsrNetwork',
        'Get-AsrNetworkMapping',
        'Get-AsrPolicy',
        'Get-AsrProtectableItem',
        'Get-AsrProtectionContainer',
        'Get-AsrProtectionContainerMapping',
        'Get-AsrRecoveryPlan',
        'Get-AsrRecoveryPoint',
        'Get-AsrReplicaPlacement',
        'Get-AsrReplicationGroup',
        'Get-AsrReplicationProtectedItem',
        'Get-AsrServer',
        'Get-AsrSiteService',
        'Get-AsrStorageClassification',
        'Get-AsrStorageClassificationMapping',
        'Get-AsrThrottle',
        'Get-AsrVault',
        'Invoke-AsrSiteServiceStep',
        'New-AsrNetworkMapping',
        'New-AsrPolicy',
        'New-AsrProtectionContainerMapping',
        'New-AsrRecoveryPlan',
        'New-AsrRegistrationKey',
        'New-AsrReplicationGroup',
        'New-AsrReplicationProtectedItem',
        'New-AsrStorageClassificationMapping',
        'New-AsrVault',
        'Open-AsrEngine',
        'Register-AsrServer',
        'Remove-AsrNetworkMapping',
        'Remove-AsrPolicy',
        'Remove-AsrProtectionContainerMapping',
        'Remove-AsrRecoveryPlan',
        'Remove-AsrReplicationGroup',
        'Remove-AsrReplicationGroupMember',
        'Remove-AsrReplicationProtectedItem',
        'Remove-AsrStorageClassificationMapping',
        'Restart-AsrJob',
        'Resume-AsrJob',
        'Set-AsrThrottle',
        'Set-AsrTransport',
        'Set-AsrVmmHost',
        'Start-AsrApplyRecoveryPoint',
        'Start-AsrCancelFailoverJob',
        'Start-AsrCommitFailoverJob',
        'Start-AsrPlannedFailoverJob',
        'Start-AsrResynchronizeReplicationJob',
        'Start-AsrSiteService',
        'Start-AsrTestFailoverCleanupJob',
        'Start-AsrTestFailoverJob',
        'Start-AsrUnplannedFailoverJob',
        'Stop-AsrJob',
        'Stop-AsrSiteService',
        'Sync-AsrInventory',
        'Test-AsrReplicationProtectedItem',
        'Unregister-AsrServer',
        'Update-AsrPolicy',
        'Update-AsrProtectionDirection',
        'Wait-AsrJob'
    )
    VariablesToExport = @()
    AliasesToExport = @('Get-AsrServicesProvider')
    PrivateData = @{ PSData = @{ Tags = @('SiteRecovery', 'DisasterRecovery', 'HyperV', 'VMM') } }
}
