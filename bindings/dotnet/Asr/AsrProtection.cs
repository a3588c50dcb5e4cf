// Protection from .NET: the transport, enabling, onboarding and disabling
// protection of VMs (each a job, returned as the finished job's JSON), the
// protected items with their state, health and recovery points, and the
// site service for hosts that run replication in their own process.
//
//   AsrProtection.SetTransport(engine, "{\"pkiDir\":\"C:\\\\asr\\\\pki\"}");
//   using (var site = AsrSiteService.Start(engine, "{\"threads\":false}"))
//   {
//       string job = AsrProtection.EnableProtection(engine, "VM1");
//       site.Step();
//       string item = AsrProtection.GetItem(engine, "VM1");   // "protectionState":"Protected"
//   }
//
// A refused operation throws the AsrException subclass of its status code,
// with "(job job-NNNNNN)" in the message and the job id in Detail.

using System;
using System.Collections.Generic;
using System.Linq;

namespace Asr
{
    /// <summary>Enable, onboard and disable protection; protected items and their recovery points.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrProtection
    {
        /// <summary>
        /// How protection reaches the recovery endpoint: TransportSettings JSON
        /// ({"pkiDir", "senderCertificate", "receiverCertificate", "address",
        /// "receiverName", "pointIntervalSeconds"}); null removes it.
        /// </summary>
        /// <exception cref="AsrInvalidArgumentException">Bad JSON or a missing "pkiDir".</exception>
        public static void SetTransport(AsrEngine engine, string? transportJson)
        {
            Native.Check(NativeMethods.asr_engine_set_transport(
                AsrVault.Eng(engine), transportJson == null ? null : Native.Utf8(transportJson, nameof(transportJson)), 0));
        }

        /// <summary>
        /// Enables protection of a VM (id or name); <paramref name="pairing"/> and
        /// <paramref name="recoveryHost"/> are optional. Returns the job's JSON.
        /// </summary>
        /// <exception cref="AsrNotFoundException">Unknown VM, pairing or host.</exception>
        /// <exception cref="AsrFailedPreconditionException">Not paired, no policy, already protected, no transport, or the host cannot.</exception>
        public static string EnableProtection(AsrEngine engine, string vm, string? pairing = null, string? recoveryHost = null)
        {
            string json = "{\"vm\":" + MappingJson.Quote(vm ?? throw new ArgumentNullException(nameof(vm))) +
                          (pairing == null ? string.Empty : ",\"pairing\":" + MappingJson.Quote(pairing)) +
                          (recoveryHost == null ? string.Empty : ",\"recoveryHost\":" + MappingJson.Quote(recoveryHost)) + "}";
            int code = NativeMethods.asr_protect_enable(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(json, nameof(vm)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>
        /// Adopts a VM that already replicates to <paramref name="recoveryHost"/>;
        /// <paramref name="replicaDirs"/> are its existing replica directories, one
        /// per disk in the VM's disk order. Returns the job's JSON.
        /// </summary>
        public static string OnboardProtection(
            AsrEngine engine, string vm, string recoveryHost, IEnumerable<string> replicaDirs, string? pairing = null)
        {
            if (replicaDirs == null)
            {
                throw new ArgumentNullException(nameof(replicaDirs));
            }

            string json = "{\"vm\":" + MappingJson.Quote(vm ?? throw new ArgumentNullException(nameof(vm))) +
                          ",\"recoveryHost\":" + MappingJson.Quote(recoveryHost ?? throw new ArgumentNullException(nameof(recoveryHost))) +
                          ",\"replicaDirs\":[" + string.Join(",", replicaDirs.Select(MappingJson.Quote)) + "]" +
                          (pairing == null ? string.Empty : ",\"pairing\":" + MappingJson.Quote(pairing)) + "}";
            int code = NativeMethods.asr_protect_onboard(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(json, nameof(vm)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>
        /// Disables protection of an item (its id, or its VM's id or name);
        /// <paramref name="force"/> removes it even when the host cannot remove the
        /// replica VM. Returns the job's JSON.
        /// </summary>
        public static string DisableProtection(AsrEngine engine, string item, bool force = false)
        {
            int code = NativeMethods.asr_protect_disable(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(item, nameof(item)), force ? NativeMethods.ProtectForce : 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>
        /// A protected item (its id, or its VM's id or name) as ProtectedItem JSON:
        /// "protectionState", "replicationHealth", "healthErrors", "allowedOperations",
        /// "lastRecoveryPointTimeUnix", "rpoSeconds", "disks", ...
        /// </summary>
        /// <exception cref="AsrNotFoundException">No such item.</exception>
        public static string GetItem(AsrEngine engine, string item) =>
            AsrPolicy.Call(NativeMethods.asr_item_get, engine, item, nameof(item));

        /// <summary>Every protected item as a JSON array ("[]" when none).</summary>
        public static string ListItems(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_item_list(out BufferHandle b, AsrVault.Eng(engine), 0), b);

        /// <summary>An item's whole-VM recovery points as a JSON array, oldest first.</summary>
        /// <exception cref="AsrNotFoundException">No such item.</exception>
        public static string ListItemPoints(AsrEngine engine, string item) =>
            AsrPolicy.Call(NativeMethods.asr_item_points, engine, item, nameof(item));
    }

    /// <summary>
    /// A site service over an engine: keeps every protected VM replicating on its
    /// policy's schedule and, with "serveReplicas", runs the recovery endpoint in this
    /// process. Dispose (or <see cref="Stop"/>) stops it; the engine stays open until
    /// the site service is released.
    /// </summary>
    /// <remarks>Thread safety: Step must not run concurrently with itself; the other members may be called from any thread.</remarks>
    public sealed partial class AsrSiteService : IDisposable
    {
        private readonly SiteServiceHandle _handle;

        private AsrSiteService(SiteServiceHandle handle)
        {
            _handle = handle;
        }

        /// <summary>
        /// Starts a site service; <paramref name="optionsJson"/> is null for the defaults or
        /// SiteServiceSettings JSON ({"replicate", "serveReplicas", "listen", "maxConcurrent",
        /// "threads", "transport": {...}}).
        /// </summary>
        /// <exception cref="AsrInvalidArgumentException">Bad options.</exception>
        /// <exception cref="AsrFailedPreconditionException">A site service already runs over the engine, or no transport.</exception>
        public static AsrSiteService Start(AsrEngine engine, string? optionsJson = null)
        {
            EngineHandle engineHandle = AsrVault.Eng(engine);
            int code = NativeMethods.asr_site_service_start(
                out SiteServiceHandle handle, engineHandle,
                optionsJson == null ? null : Native.Utf8(optionsJson, nameof(optionsJson)), 0);
            if (code != 0)
            {
                AsrException e = Native.CreateException(code);
                handle.Dispose();
                throw e;
            }

            handle.HoldEngine(engineHandle);
            return new AsrSiteService(handle);
        }

        /// <summary>One scheduling pass: runs the cycles that are due and waits for them.</summary>
        /// <exception cref="AsrFailedPreconditionException">The service is stopped.</exception>
        public void Step() => Native.Check(NativeMethods.asr_site_service_step(Handle, 0));

        /// <summary>
        /// The statistics as JSON: {"cyclesOk", "cyclesFailed", "pointsCommitted",
        /// "running", "protectedItems", "endpointAddress", "nextDueSeconds"}.
        /// </summary>
        public string Stats() =>
            Native.CheckAndTakeString(NativeMethods.asr_site_service_stats(out BufferHandle b, Handle, 0), b);

        /// <summary>Stops scheduling, waits for running cycles, closes trackers and the endpoint. Idempotent.</summary>
        public void Stop() => Native.Check(NativeMethods.asr_site_service_stop(Handle));

        /// <summary>Stops and releases the site service.</summary>
        public void Dispose() => _handle.Dispose();

        private SiteServiceHandle Handle
        {
            get
            {
                if (_handle.IsClosed)
                {
                    throw new ObjectDisposedException(nameof(AsrSiteService));
                }

                return _handle;
            }
        }
    }
}
