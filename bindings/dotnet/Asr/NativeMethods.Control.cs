// P/Invoke declarations for the control-plane sections of asr.h (host
// callbacks, jobs, vault and keys, servers, inventory, pairing, policies),
// following NativeMethods.cs's conventions.

using System;
using System.Runtime.InteropServices;

namespace Asr
{
    /// <summary><c>get_inventory</c> of <c>asr_host_callbacks_t</c>.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrGetInventoryFn(IntPtr @out, IntPtr serverJson, IntPtr payload);

    /// <summary><c>configure_host</c> of <c>asr_host_callbacks_t</c>.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrConfigureHostFn(
        IntPtr outMessage, IntPtr hostJson, IntPtr policyJson, IntPtr role, IntPtr payload);

    /// <summary><c>test_proxy</c> of <c>asr_host_callbacks_t</c>.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrTestProxyFn(IntPtr outMessage, IntPtr serverJson, IntPtr password, IntPtr payload);

    /// <summary><c>get_key_encryption_key</c> of <c>asr_host_callbacks_t</c> (version 2; not supplied from .NET).</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrGetKeyEncryptionKeyFn(IntPtr outKey, IntPtr outKeyId, IntPtr purpose, IntPtr payload);

    /// <summary>The version 3 calls taking one string (get_vm, create_replica_vm, start_vm, shutdown_vm,
    /// turn_off_vm, get_power_state, release_point, run_script).</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrHostStringFn(IntPtr @out, IntPtr arg, IntPtr payload);

    /// <summary>The version 3 calls taking two strings (connect_nic, create_point, detach_change_tracking).</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrHostTwoStringsFn(IntPtr @out, IntPtr arg1, IntPtr arg2, IntPtr payload);

    /// <summary><c>delete_vm</c> of <c>asr_host_callbacks_t</c>.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrDeleteVmFn(IntPtr outMessage, IntPtr vmId, uint deleteDisks, IntPtr payload);

    /// <summary><c>attach_change_tracking</c> of <c>asr_host_callbacks_t</c>.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int AsrAttachChangeTrackingFn(IntPtr outMessage, IntPtr vmId, IntPtr diskId, IntPtr sink, IntPtr payload);

    /// <summary>
    /// The C layout of <c>asr_host_callbacks_t</c> (version 5). StructSize says
    /// which version a table is: <see cref="V1Size"/> for hosts without the VM
    /// calls (the fields after Payload are then not read), the full size with them.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct AsrHostCallbacksNative
    {
        /// <summary>sizeof(asr_host_callbacks_t); must stay the first field.</summary>
        public uint StructSize;

        /// <summary>0.</summary>
        public uint Reserved;

        /// <summary>AsrGetInventoryFn as a function pointer.</summary>
        public IntPtr GetInventory;

        /// <summary>AsrConfigureHostFn as a function pointer.</summary>
        public IntPtr ConfigureHost;

        /// <summary>AsrTestProxyFn as a function pointer.</summary>
        public IntPtr TestProxy;

        /// <summary>void* payload.</summary>
        public IntPtr Payload;

        /// <summary>Version 2: AsrGetKeyEncryptionKeyFn (zero: the engine's key file is used).</summary>
        public IntPtr GetKeyEncryptionKey;

        // Version 3: the VM calls, in asr.h's order.
        public IntPtr GetVm;
        public IntPtr CreateReplicaVm;
        public IntPtr ConnectNic;
        public IntPtr StartVm;
        public IntPtr ShutdownVm;
        public IntPtr TurnOffVm;
        public IntPtr DeleteVm;
        public IntPtr GetPowerState;
        public IntPtr CreatePoint;
        public IntPtr ReleasePoint;
        public IntPtr RunScript;
        public IntPtr AttachChangeTracking;
        public IntPtr DetachChangeTracking;

        /// <summary>Version 4: create_group_point (AsrHostStringFn; zero when the host is not an IAsrGroupPointHost).</summary>
        public IntPtr CreateGroupPoint;

        /// <summary>Version 5: create_isolated_network (AsrHostTwoStringsFn; zero when the host is not an IAsrIsolatedNetworkHost).</summary>
        public IntPtr CreateIsolatedNetwork;

        /// <summary>Version 5: delete_isolated_network (AsrHostTwoStringsFn; zero when the host is not an IAsrIsolatedNetworkHost).</summary>
        public IntPtr DeleteIsolatedNetwork;

        /// <summary>sizeof a version 1 table (through Payload).</summary>
        internal static readonly int V1Size = (int)Marshal.OffsetOf<AsrHostCallbacksNative>(nameof(GetKeyEncryptionKey));
    }

    internal static partial class NativeMethods
    {
        // ---- Host callbacks ------------------------------------------------

        /// <summary>
        /// <paramref name="callbacks"/> points at an AsrHostCallbacksNative (the
        /// library copies it), or is IntPtr.Zero to remove the callbacks.
        /// </summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_engine_set_host_callbacks(EngineHandle engine, IntPtr callbacks, uint flags);

        /// <summary>A key file (UTF-8, NUL-terminated) or null to remove it.</summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_engine_set_key_file(EngineHandle engine, byte[]? path, uint flags);

        /// <summary>Fills a buffer given to a host callback (not owned by the caller).</summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_buffer_set(IntPtr buffer, byte[] data, UIntPtr size);

        // ---- Jobs ----------------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_job_list(out BufferHandle @out, EngineHandle engine, byte[]? query_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_job_get(out BufferHandle @out, EngineHandle engine, byte[] job_id, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_job_cancel(out BufferHandle @out, EngineHandle engine, byte[] job_id, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_job_restart(out BufferHandle @out, EngineHandle engine, byte[] job_id, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_job_resume(out BufferHandle @out, EngineHandle engine, byte[] job_id, uint flags);

        // ---- Vault, keys, servers, inventory, pairing ------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_vault_create(
            out BufferHandle @out, EngineHandle engine, byte[] name, byte[] region, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_vault_get(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_key_generate(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_key_verify(out BufferHandle @out, EngineHandle engine, byte[] key_file_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_server_register(out BufferHandle @out, EngineHandle engine, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_server_unregister(out BufferHandle @out, EngineHandle engine, byte[] server, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_inventory_sync(
            out BufferHandle @out, EngineHandle engine, byte[] server, byte[]? inventory_json, byte[]? cloud, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_cloud_pair(
            out BufferHandle @out, EngineHandle engine, byte[] primary_cloud, byte[] recovery_cloud, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_cloud_unpair(out BufferHandle @out, EngineHandle engine, byte[] pairing, uint flags);

        // ---- Policies ------------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_policy_create(out BufferHandle @out, EngineHandle engine, byte[] policy_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_policy_update(out BufferHandle @out, EngineHandle engine, byte[] policy_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_policy_delete(out BufferHandle @out, EngineHandle engine, byte[] policy, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_policy_associate(
            out BufferHandle @out, EngineHandle engine, byte[] policy, byte[] pairing, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_policy_dissociate(out BufferHandle @out, EngineHandle engine, byte[] pairing, uint flags);
    }
}
