// The control plane from .NET: vault and registration keys, VMM server
// registration, inventory, cloud pairing, replication policies and jobs.
// Objects cross as JSON strings in the proto3 JSON mapping; every
// state-changing method returns the finished job's JSON (its "resultJson"
// holds the object produced), as the Az Site Recovery cmdlets return jobs.
// A refused operation throws the AsrException subclass of its status code,
// with the rule, the recommended action and "(job job-NNNNNN)" in the message.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Asr
{
    /// <summary>The vault of a state directory and its registration keys.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrVault
    {
        /// <summary>Creates the vault (one per state directory); returns the job's JSON.</summary>
        /// <exception cref="AsrAlreadyExistsException">The directory already holds a vault.</exception>
        public static string Create(AsrEngine engine, string name, string region)
        {
            int code = NativeMethods.asr_vault_create(
                out BufferHandle b, Eng(engine), Native.Utf8(name, nameof(name)), Native.Utf8(region, nameof(region)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>The vault as JSON.</summary>
        /// <exception cref="AsrNotFoundException">No vault yet.</exception>
        public static string Get(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_vault_get(out BufferHandle b, Eng(engine), 0), b);

        /// <summary>A new registration key file (JSON), valid for 5 days.</summary>
        public static string GenerateRegistrationKey(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_key_generate(out BufferHandle b, Eng(engine), 0), b);

        /// <summary>Verifies a key file against the vault; returns the key's JSON.</summary>
        /// <exception cref="AsrUnauthenticatedException">Tampered or expired key.</exception>
        /// <exception cref="AsrPermissionDeniedException">Another vault's key.</exception>
        public static string VerifyRegistrationKey(AsrEngine engine, string keyFileJson)
        {
            int code = NativeMethods.asr_key_verify(out BufferHandle b, Eng(engine), Native.Utf8(keyFileJson, nameof(keyFileJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        internal static EngineHandle Eng(AsrEngine engine) =>
            (engine ?? throw new ArgumentNullException(nameof(engine))).Handle;
    }

    /// <summary>VMM servers, their inventory and cloud pairings.</summary>
    public static class AsrFabric
    {
        /// <summary>
        /// Registers a VMM server; <paramref name="requestJson"/> is a
        /// ServerRegistrationRequest ("credentials", "friendlyName", proxy settings,
        /// "syncAllCloudMetadata", cluster node fields). Returns the job's JSON.
        /// </summary>
        public static string RegisterServer(AsrEngine engine, string requestJson)
        {
            int code = NativeMethods.asr_server_register(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(requestJson, nameof(requestJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Removes a server and what hangs on it (refused while VMs are protected).</summary>
        public static string UnregisterServer(AsrEngine engine, string server)
        {
            int code = NativeMethods.asr_server_unregister(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(server, nameof(server)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>
        /// Applies a server's inventory (null: ask the host callbacks), of all clouds
        /// or of <paramref name="cloud"/> alone; the job's "resultJson" is an
        /// InventoryChangeReport.
        /// </summary>
        public static string SyncInventory(AsrEngine engine, string server, string? inventoryJson = null, string? cloud = null)
        {
            int code = NativeMethods.asr_inventory_sync(
                out BufferHandle b,
                AsrVault.Eng(engine),
                Native.Utf8(server, nameof(server)),
                inventoryJson == null ? null : Native.Utf8(inventoryJson, nameof(inventoryJson)),
                cloud == null ? null : Native.Utf8(cloud, nameof(cloud)),
                0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Pairs a primary cloud with a recovery cloud (by id or name).</summary>
        public static string PairClouds(AsrEngine engine, string primaryCloud, string recoveryCloud)
        {
            int code = NativeMethods.asr_cloud_pair(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(primaryCloud, nameof(primaryCloud)),
                Native.Utf8(recoveryCloud, nameof(recoveryCloud)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Removes a pairing (by id or primary cloud).</summary>
        public static string UnpairClouds(AsrEngine engine, string pairing)
        {
            int code = NativeMethods.asr_cloud_unpair(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(pairing, nameof(pairing)), 0);
            return Native.CheckAndTakeString(code, b);
        }
    }

    /// <summary>Replication policies and their association with cloud pairings.</summary>
    public static class AsrPolicy
    {
        /// <summary>Creates a policy from ReplicationPolicy JSON; returns the job's JSON.</summary>
        /// <exception cref="AsrInvalidArgumentException">A value outside its set (the message names the rule).</exception>
        public static string Create(AsrEngine engine, string policyJson) =>
            Call(NativeMethods.asr_policy_create, engine, policyJson, nameof(policyJson));

        /// <summary>Replaces a policy (by "id", else "name") and reconfigures associated hosts.</summary>
        public static string Update(AsrEngine engine, string policyJson) =>
            Call(NativeMethods.asr_policy_update, engine, policyJson, nameof(policyJson));

        /// <summary>Deletes a policy (refused while in use).</summary>
        public static string Delete(AsrEngine engine, string policy) =>
            Call(NativeMethods.asr_policy_delete, engine, policy, nameof(policy));

        /// <summary>Associates a policy with a pairing, configuring every host of it.</summary>
        /// <exception cref="AsrFailedPreconditionException">Hosts on another OS version (listed in the message).</exception>
        public static string Associate(AsrEngine engine, string policy, string pairing)
        {
            int code = NativeMethods.asr_policy_associate(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(policy, nameof(policy)), Native.Utf8(pairing, nameof(pairing)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Removes the policy from a pairing.</summary>
        public static string Dissociate(AsrEngine engine, string pairing) =>
            Call(NativeMethods.asr_policy_dissociate, engine, pairing, nameof(pairing));

        internal delegate int OneArg(out BufferHandle @out, EngineHandle engine, byte[] arg, uint flags);

        internal static string Call(OneArg fn, AsrEngine engine, string arg, string name)
        {
            int code = fn(out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(arg, name), 0);
            return Native.CheckAndTakeString(code, b);
        }
    }

    /// <summary>Jobs: list, show, cancel, restart, resume.</summary>
    public static class AsrJobs
    {
        /// <summary>
        /// Jobs as a JSON array, oldest first; <paramref name="queryJson"/> is null or a
        /// JobQuery ({"state":"Failed","targetObjectId":"...","startedAfterUnix":"..."}).
        /// </summary>
        public static string List(AsrEngine engine, string? queryJson = null)
        {
            int code = NativeMethods.asr_job_list(
                out BufferHandle b, AsrVault.Eng(engine), queryJson == null ? null : Native.Utf8(queryJson, nameof(queryJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>One job's JSON.</summary>
        public static string Get(AsrEngine engine, string jobId) =>
            AsrPolicy.Call(NativeMethods.asr_job_get, engine, jobId, nameof(jobId));

        /// <summary>Cancels a NotStarted or Suspended job (or asks a running one to stop).</summary>
        public static string Cancel(AsrEngine engine, string jobId) =>
            AsrPolicy.Call(NativeMethods.asr_job_cancel, engine, jobId, nameof(jobId));

        /// <summary>Runs a Failed job again; finished tasks are skipped.</summary>
        public static string Restart(AsrEngine engine, string jobId) =>
            AsrPolicy.Call(NativeMethods.asr_job_restart, engine, jobId, nameof(jobId));

        /// <summary>Continues a Suspended job.</summary>
        public static string Resume(AsrEngine engine, string jobId) =>
            AsrPolicy.Call(NativeMethods.asr_job_resume, engine, jobId, nameof(jobId));
    }

    /// <summary>
    /// The VMM host's side, implemented in .NET. Methods run on the thread that
    /// called the asr method needing them; throw <see cref="AsrException"/> (or
    /// any exception, reported as UNKNOWN) to fail.
    /// </summary>
    public interface IAsrHost
    {
        /// <summary>The server's Inventory as JSON.</summary>
        string GetInventory(string serverJson);

        /// <summary>Configures a host for a policy; role is "Primary" or "Recovery".</summary>
        void ConfigureHost(string hostJson, string policyJson, string role);

        /// <summary>Tests a registering server's proxy; the password is plain text, only for this call.</summary>
        void TestProxy(string serverJson, string password);
    }

    /// <summary>
    /// Installs an <see cref="IAsrHost"/> as an engine's host callbacks
    /// (<c>asr_engine_set_host_callbacks</c>); dispose to remove them. Keep it
    /// alive as long as the callbacks may run. A host that implements
    /// <see cref="IAsrVmHost"/> is installed with the VM calls (a version 3
    /// table); any other with the version 1 calls alone.
    /// </summary>
    public sealed class AsrHostRegistration : IDisposable
    {
        private readonly AsrEngine _engine;
        private readonly IAsrHost _host;
        private readonly AsrGetInventoryFn _getInventory;
        private readonly AsrConfigureHostFn _configureHost;
        private readonly AsrTestProxyFn _testProxy;
        private readonly VmCalls? _vm;
        private bool _disposed;

        private AsrHostRegistration(AsrEngine engine, IAsrHost host)
        {
            _engine = engine;
            _host = host;
            _getInventory = GetInventory;
            _configureHost = ConfigureHost;
            _testProxy = TestProxy;
            _vm = host is IAsrVmHost vmHost ? new VmCalls(vmHost) : null;
        }

        /// <summary>Installs <paramref name="host"/> on <paramref name="engine"/>.</summary>
        public static AsrHostRegistration Install(AsrEngine engine, IAsrHost host)
        {
            var reg = new AsrHostRegistration(
                engine ?? throw new ArgumentNullException(nameof(engine)),
                host ?? throw new ArgumentNullException(nameof(host)));
            var table = new AsrHostCallbacksNative
            {
                StructSize = (uint)Marshal.SizeOf<AsrHostCallbacksNative>(),
                GetInventory = Marshal.GetFunctionPointerForDelegate(reg._getInventory),
                ConfigureHost = Marshal.GetFunctionPointerForDelegate(reg._configureHost),
                TestProxy = Marshal.GetFunctionPointerForDelegate(reg._testProxy),
            };
            if (reg._vm != null)
            {
                reg._vm.Fill(ref table);
            }
            else
            {
                table.StructSize = (uint)AsrHostCallbacksNative.V1Size;
            }
            IntPtr native = Marshal.AllocHGlobal(Marshal.SizeOf<AsrHostCallbacksNative>());
            try
            {
                Marshal.StructureToPtr(table, native, fDeleteOld: false);
                Native.Check(NativeMethods.asr_engine_set_host_callbacks(engine.Handle, native, 0));
            }
            finally
            {
                Marshal.FreeHGlobal(native);
            }

            return reg;
        }

        /// <summary>Removes the callbacks from the engine.</summary>
        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (!_engine.IsDisposed)
            {
                Native.Check(NativeMethods.asr_engine_set_host_callbacks(_engine.Handle, IntPtr.Zero, 0));
            }

            GC.KeepAlive(_getInventory);
            GC.KeepAlive(_configureHost);
            GC.KeepAlive(_testProxy);
            GC.KeepAlive(_vm);
        }

        private int GetInventory(IntPtr @out, IntPtr serverJson, IntPtr payload) =>
            Run(@out, () => _host.GetInventory(Str(serverJson)));

        private int ConfigureHost(IntPtr outMessage, IntPtr hostJson, IntPtr policyJson, IntPtr role, IntPtr payload) =>
            Run(outMessage, () =>
            {
                _host.ConfigureHost(Str(hostJson), Str(policyJson), Str(role));
                return null;
            });

        private int TestProxy(IntPtr outMessage, IntPtr serverJson, IntPtr password, IntPtr payload) =>
            Run(outMessage, () =>
            {
                _host.TestProxy(Str(serverJson), Str(password));
                return null;
            });

        // The version 3 calls of an IAsrVmHost; holds their delegates and the open write sinks.
        private sealed class VmCalls
        {
            private readonly IAsrVmHost _host;
            private readonly AsrHostStringFn _getVm;
            private readonly AsrHostStringFn _createReplicaVm;
            private readonly AsrHostTwoStringsFn _connectNic;
            private readonly AsrHostStringFn _startVm;
            private readonly AsrHostStringFn _shutdownVm;
            private readonly AsrHostStringFn _turnOffVm;
            private readonly AsrDeleteVmFn _deleteVm;
            private readonly AsrHostStringFn _getPowerState;
            private readonly AsrHostTwoStringsFn _createPoint;
            private readonly AsrHostStringFn _releasePoint;
            private readonly AsrHostStringFn _runScript;
            private readonly AsrAttachChangeTrackingFn _attach;
            private readonly AsrHostTwoStringsFn _detach;
            private readonly AsrHostStringFn? _createGroupPoint;
            private readonly AsrHostTwoStringsFn? _createIsolatedNetwork;
            private readonly AsrHostTwoStringsFn? _deleteIsolatedNetwork;
            private readonly Dictionary<(string Vm, string Disk), AsrWriteSink> _sinks =
                new Dictionary<(string Vm, string Disk), AsrWriteSink>();

            internal VmCalls(IAsrVmHost host)
            {
                _host = host;
                _getVm = (o, vm, p) => Run(o, () => _host.GetVm(Str(vm)));
                _createReplicaVm = (o, spec, p) => Run(o, () => _host.CreateReplicaVm(Str(spec)));
                _connectNic = (o, vm, nic, p) => Run(o, () => Void(() => _host.ConnectNic(Str(vm), Str(nic))));
                _startVm = (o, vm, p) => Run(o, () => Void(() => _host.StartVm(Str(vm))));
                _shutdownVm = (o, vm, p) => Run(o, () => Void(() => _host.ShutdownVm(Str(vm))));
                _turnOffVm = (o, vm, p) => Run(o, () => Void(() => _host.TurnOffVm(Str(vm))));
                _deleteVm = (o, vm, disks, p) => Run(o, () => Void(() => _host.DeleteVm(Str(vm), disks != 0)));
                _getPowerState = (o, vm, p) => Run(o, () => _host.GetPowerState(Str(vm)));
                _createPoint = (o, vm, type, p) => Run(o, () => _host.CreatePoint(Str(vm), Str(type)));
                _releasePoint = (o, point, p) => Run(o, () => Void(() => _host.ReleasePoint(Str(point))));
                _runScript = (o, request, p) => Run(o, () => _host.RunScript(Str(request)));
                _attach = (o, vm, disk, sink, p) => Run(o, () => Void(() => Attach(Str(vm), Str(disk), sink)));
                _detach = (o, vm, disk, p) => Run(o, () => Void(() => Detach(Str(vm), Str(disk))));
                if (host is IAsrGroupPointHost groupHost)
                {
                    _createGroupPoint = (o, request, p) => Run(o, () => groupHost.CreateGroupPoint(Str(request)));
                }

                if (host is IAsrIsolatedNetworkHost networkHost)
                {
                    _createIsolatedNetwork = (o, hostId, name, p) => Run(o, () => networkHost.CreateIsolatedNetwork(Str(hostId), Str(name)));
                    _deleteIsolatedNetwork = (o, hostId, id, p) => Run(o, () => Void(() => networkHost.DeleteIsolatedNetwork(Str(hostId), Str(id))));
                }
            }

            internal void Fill(ref AsrHostCallbacksNative t)
            {
                t.GetVm = Marshal.GetFunctionPointerForDelegate(_getVm);
                t.CreateReplicaVm = Marshal.GetFunctionPointerForDelegate(_createReplicaVm);
                t.ConnectNic = Marshal.GetFunctionPointerForDelegate(_connectNic);
                t.StartVm = Marshal.GetFunctionPointerForDelegate(_startVm);
                t.ShutdownVm = Marshal.GetFunctionPointerForDelegate(_shutdownVm);
                t.TurnOffVm = Marshal.GetFunctionPointerForDelegate(_turnOffVm);
                t.DeleteVm = Marshal.GetFunctionPointerForDelegate(_deleteVm);
                t.GetPowerState = Marshal.GetFunctionPointerForDelegate(_getPowerState);
                t.CreatePoint = Marshal.GetFunctionPointerForDelegate(_createPoint);
                t.ReleasePoint = Marshal.GetFunctionPointerForDelegate(_releasePoint);
                t.RunScript = Marshal.GetFunctionPointerForDelegate(_runScript);
                t.AttachChangeTracking = Marshal.GetFunctionPointerForDelegate(_attach);
                t.DetachChangeTracking = Marshal.GetFunctionPointerForDelegate(_detach);
                if (_createGroupPoint != null)
                {
                    t.CreateGroupPoint = Marshal.GetFunctionPointerForDelegate(_createGroupPoint);
                }

                if (_createIsolatedNetwork != null && _deleteIsolatedNetwork != null)
                {
                    t.CreateIsolatedNetwork = Marshal.GetFunctionPointerForDelegate(_createIsolatedNetwork);
                    t.DeleteIsolatedNetwork = Marshal.GetFunctionPointerForDelegate(_deleteIsolatedNetwork);
                }
            }

            private static string? Void(Action call)
            {
                call();
                return null;
            }

            // A new attach for a disk replaces (closes) the sink of the previous one.
            private void Attach(string vm, string disk, IntPtr native)
            {
                var sink = new AsrWriteSink(native, vm, disk);
                lock (_sinks)
                {
                    if (_sinks.TryGetValue((vm, disk), out AsrWriteSink? old))
                    {
                        old.Close();
                    }

                    _sinks[(vm, disk)] = sink;
                }

                try
                {
                    _host.AttachChangeTracking(vm, disk, sink);
                }
                catch
                {
                    lock (_sinks)
                    {
                        sink.Close();
                        _sinks.Remove((vm, disk));
                    }

                    throw;
                }
            }

            // The sink is closed once detach returns, whether or not the host's call succeeded.
            private void Detach(string vm, string disk)
            {
                try
                {
                    _host.DetachChangeTracking(vm, disk);
                }
                finally
                {
                    lock (_sinks)
                    {
                        if (_sinks.TryGetValue((vm, disk), out AsrWriteSink? sink))
                        {
                            sink.Close();
                            _sinks.Remove((vm, disk));
                        }
                    }
                }
            }
        }

        private static string Str(IntPtr p) => Native.PtrToStringUtf8(p) ?? string.Empty;

        // No exception may cross back into native code.
        private static int Run(IntPtr @out, Func<string?> body)
        {
            try
            {
                string? result = body();
                if (result != null)
                {
                    Set(@out, result);
                }

                return 0;
            }
            catch (AsrException e)
            {
                Set(@out, e.Message);
                return e.StatusCode == 0 ? 2 : (int)e.StatusCode;
            }
            catch (Exception e)
            {
                Set(@out, e.Message);
                return 2;
            }
        }

        private static void Set(IntPtr buffer, string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            NativeMethods.asr_buffer_set(buffer, bytes, (UIntPtr)bytes.Length);
        }
    }
}
