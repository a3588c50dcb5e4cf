// Opening a state directory, the VMM host, the transport and the site
// service: what a session needs before the Site Recovery cmdlets run.
//
//   Open-AsrEngine -StateDirectory ./state -KeyFile ./kek
//   Set-AsrVmmHost -VmmHost $provider              # an IAsrHost / IAsrVmHost
//   Set-AsrTransport -PkiDirectory ./pki
//   Start-AsrSiteService                            # then Invoke-AsrSiteServiceStep, or -Threads
//   Invoke-AsrSiteServiceStep                       # one scheduling pass: the cycles that are due
//   Get-AsrSiteService                              # cycles run and failed, the replica endpoint
//   Stop-AsrSiteService
//   ...
//   Close-AsrEngine

using System.Management.Automation;
using Asr.Model;

namespace Asr.PowerShell
{
    /// <summary>Opens (and initializes) an engine over a state directory and makes it the current one.</summary>
    [Cmdlet(VerbsCommon.Open, "AsrEngine")]
    [OutputType(typeof(AsrSession))]
    public sealed class OpenAsrEngineCommand : PSCmdlet
    {
        /// <summary>The state directory (created if missing).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string StateDirectory { get; set; } = string.Empty;

        /// <summary>The key-encryption key file (asrctl key-provider init) that wraps the vault's keys.</summary>
        [Parameter]
        public string? KeyFile { get; set; }

        /// <summary>Open without the writer lock; changes fail.</summary>
        [Parameter]
        public SwitchParameter ReadOnly { get; set; }

        /// <summary>Write the session object.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            string dir = GetUnresolvedProviderPathFromPSPath(StateDirectory);
            var options = new AsrEngineOptions
            {
                ReadOnly = ReadOnly.IsPresent,
                KeyFile = KeyFile == null ? null : GetUnresolvedProviderPathFromPSPath(KeyFile),
            };
            try
            {
                AsrEngine engine = AsrEngine.Open(dir, options);
                if (!ReadOnly.IsPresent)
                {
                    engine.Initialize();
                }

                AsrSession.Current?.Close();
                AsrSession.Current = new AsrSession(engine, dir);
                if (PassThru.IsPresent)
                {
                    WriteObject(AsrSession.Current);
                }
            }
            catch (AsrException e)
            {
                ThrowTerminatingError(AsrCmdlet.ToErrorRecord(e, dir));
            }
        }
    }

    /// <summary>Closes the current engine (its site service and host first).</summary>
    [Cmdlet(VerbsCommon.Close, "AsrEngine")]
    public sealed class CloseAsrEngineCommand : AsrCmdlet
    {
        /// <inheritdoc/>
        protected override void Process()
        {
            AsrSession s = CurrentSession;
            s.Close();
            if (ReferenceEquals(s, AsrSession.Current))
            {
                AsrSession.Current = null;
            }
        }
    }

    /// <summary>Installs the VMM host (the provider's callbacks: inventory, host configuration, and with IAsrVmHost the VM calls).</summary>
    [Cmdlet(VerbsCommon.Set, "AsrVmmHost", SupportsShouldProcess = true)]
    public sealed class SetAsrVmmHostCommand : AsrCmdlet
    {
        /// <summary>The host.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public IAsrHost VmmHost { get; set; } = null!;

        /// <inheritdoc/>
        protected override void Process()
        {
            AsrSession s = CurrentSession;
            if (!ShouldProcess(s.StateDirectory, "Install the VMM host " + VmmHost.GetType().Name))
            {
                return;
            }

            s.HostRegistration?.Dispose();
            s.HostRegistration = s.Engine.InstallHost(VmmHost);
            s.VmmHost = VmmHost;
        }
    }

    /// <summary>Sets how protection reaches the recovery endpoint (mutual TLS with the vault's certificates).</summary>
    [Cmdlet(VerbsCommon.Set, "AsrTransport", SupportsShouldProcess = true)]
    public sealed class SetAsrTransportCommand : AsrCmdlet
    {
        /// <summary>The vault PKI directory (asrctl pki init).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string PkiDirectory { get; set; } = string.Empty;

        /// <summary>"host:port" every sender connects to (default: the replica host and the policy's port).</summary>
        [Parameter]
        public string? Address { get; set; }

        /// <summary>Spacing of kept recovery points in seconds (0: hourly).</summary>
        [Parameter]
        public long PointIntervalSeconds { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            string pki = GetUnresolvedProviderPathFromPSPath(PkiDirectory);
            if (ShouldProcess(CurrentSession.StateDirectory, "Set the transport to " + pki))
            {
                TransportSettings t = Transport(pki, Address, PointIntervalSeconds);
                Engine.SetTransport(t);
                CurrentSession.Transport = t;
            }
        }

        internal static TransportSettings Transport(string pki, string? address, long interval) =>
            new TransportSettings { PkiDir = pki, Address = address ?? string.Empty, PointIntervalSeconds = interval };
    }

    /// <summary>Starts the site service: replication on each policy's schedule and the replica endpoint (with the transport of Set-AsrTransport).</summary>
    [Cmdlet(VerbsLifecycle.Start, "AsrSiteService", SupportsShouldProcess = true)]
    [OutputType(typeof(AsrSiteService))]
    public sealed class StartAsrSiteServiceCommand : AsrCmdlet
    {
        /// <summary>Schedule on the service's own threads (else step it with Invoke-AsrSiteServiceStep).</summary>
        [Parameter]
        public SwitchParameter Threads { get; set; }

        /// <summary>The address the replica endpoint listens on (default 127.0.0.1:0).</summary>
        [Parameter]
        public string? Listen { get; set; }

        /// <inheritdoc/>
        protected override void Process()
        {
            AsrSession s = CurrentSession;
            if (!ShouldProcess(s.StateDirectory, "Start the site service"))
            {
                return;
            }

            string options = "{\"threads\":" + (Threads.IsPresent ? "true" : "false") +
                             (Listen != null ? ",\"listen\":" + Quote(Listen) : string.Empty) +
                             (s.Transport != null ? ",\"transport\":" + s.Transport.ToJson() : string.Empty) + "}";
            s.SiteService?.Dispose();
            s.SiteService = AsrSiteService.Start(s.Engine, options);
            WriteObject(s.SiteService);
        }

        internal static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
    }

    /// <summary>Runs one scheduling pass of the site service (the cycles that are due).</summary>
    [Cmdlet(VerbsLifecycle.Invoke, "AsrSiteServiceStep")]
    [OutputType(typeof(SiteServiceStatistics))]
    public sealed class InvokeAsrSiteServiceStepCommand : AsrCmdlet
    {
        /// <inheritdoc/>
        protected override void Process()
        {
            AsrSiteService site = CurrentSession.SiteService ?? throw new AsrFailedPreconditionException(
                "no site service runs in this session; Start-AsrSiteService first");
            site.Step();
            WriteObject(site.Statistics);
        }
    }

    /// <summary>The site service's statistics.</summary>
    [Cmdlet(VerbsCommon.Get, "AsrSiteService")]
    [OutputType(typeof(SiteServiceStatistics))]
    public sealed class GetAsrSiteServiceCommand : AsrCmdlet
    {
        /// <inheritdoc/>
        protected override void Process()
        {
            AsrSiteService? site = CurrentSession.SiteService;
            if (site != null)
            {
                WriteObject(site.Statistics);
            }
        }
    }

    /// <summary>Stops the site service (running cycles finish first).</summary>
    [Cmdlet(VerbsLifecycle.Stop, "AsrSiteService", SupportsShouldProcess = true)]
    public sealed class StopAsrSiteServiceCommand : AsrCmdlet
    {
        /// <inheritdoc/>
        protected override void Process()
        {
            AsrSession s = CurrentSession;
            if (s.SiteService != null && ShouldProcess(s.StateDirectory, "Stop the site service"))
            {
                s.SiteService.Dispose();
                s.SiteService = null;
            }
        }
    }
}
