// P/Invoke declarations for the bandwidth throttle section of asr.h,
// following NativeMethods.cs's conventions.

using System.Runtime.InteropServices;

namespace Asr
{
    internal static partial class NativeMethods
    {
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_throttle_set(out BufferHandle @out, EngineHandle engine, byte[] request_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_throttle_get(out BufferHandle @out, EngineHandle engine, byte[]? target, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_throttle_list(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_throttle_clear(EngineHandle engine, byte[]? target, uint flags);
    }
}
