// P/Invoke declarations for replication groups (asr_group_* in asr.h),
// following NativeMethods.cs's conventions.

using System.Runtime.InteropServices;

namespace Asr
{
    internal static partial class NativeMethods
    {
        /// <summary>ASR_GROUP_APP_CONSISTENT.</summary>
        internal const uint GroupAppConsistent = 0x1;

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_create(out BufferHandle @out, EngineHandle engine, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_add(out BufferHandle @out, EngineHandle engine, byte[] group_ref, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_remove(out BufferHandle @out, EngineHandle engine, byte[] group_ref, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_set_sync_interval(out BufferHandle @out, EngineHandle engine, byte[] group_ref, int seconds, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_get(out BufferHandle @out, EngineHandle engine, byte[] group_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_list(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_delete(EngineHandle engine, byte[] group_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_points(out BufferHandle @out, EngineHandle engine, byte[] group_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_latest_point(out BufferHandle @out, EngineHandle engine, byte[] group_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_resolve_point(out BufferHandle @out, EngineHandle engine, byte[] item_ref, byte[] option, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_group_replicate_now(out BufferHandle @out, EngineHandle engine, byte[] group_ref, uint flags);
    }
}
