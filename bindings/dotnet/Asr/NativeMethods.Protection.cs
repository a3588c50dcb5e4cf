// P/Invoke declarations for the Protection section of asr.h (transport,
// enable/onboard/disable, protected items, the site service), following
// NativeMethods.cs's conventions.

using System;
using System.Runtime.InteropServices;

namespace Asr
{
    internal static partial class NativeMethods
    {
        /// <summary>ASR_PROTECT_FORCE.</summary>
        internal const uint ProtectForce = 0x1;

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_engine_set_transport(EngineHandle engine, byte[]? transport_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_protect_enable(out BufferHandle @out, EngineHandle engine, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_protect_onboard(out BufferHandle @out, EngineHandle engine, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_protect_disable(out BufferHandle @out, EngineHandle engine, byte[] item_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_item_get(out BufferHandle @out, EngineHandle engine, byte[] @ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_item_list(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_item_points(out BufferHandle @out, EngineHandle engine, byte[] @ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_site_service_start(
            out SiteServiceHandle @out, EngineHandle engine, byte[]? options_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_site_service_step(SiteServiceHandle service, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_site_service_stats(out BufferHandle @out, SiteServiceHandle service, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_site_service_stop(SiteServiceHandle service);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern void asr_site_service_close(IntPtr service);

        /// <summary>
        /// For a host's attach_change_tracking (host table version 3): reports a guest
        /// write into the sink asr handed the host.
        /// </summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_write_sink_record(IntPtr sink, ulong offset, ulong length);
    }
}
