// P/Invoke declarations for recovery plans (asr_plan_* in asr.h),
// following NativeMethods.cs's conventions.

using System.Runtime.InteropServices;

namespace Asr
{
    internal static partial class NativeMethods
    {
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_plan_create(out BufferHandle @out, EngineHandle engine, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_plan_get(out BufferHandle @out, EngineHandle engine, byte[] plan_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_plan_list(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_plan_edit(out BufferHandle @out, EngineHandle engine, byte[] plan_ref, byte[] edit_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_plan_delete(EngineHandle engine, byte[] plan_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_plan_run(out BufferHandle @out, EngineHandle engine, byte[] plan_ref, byte[] request_json, uint flags);
    }
}
