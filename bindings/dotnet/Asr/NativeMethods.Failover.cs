// P/Invoke declarations for the failover section of asr.h, following
// NativeMethods.cs's conventions.

using System.Runtime.InteropServices;

namespace Asr
{
    internal static partial class NativeMethods
    {
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_failover_start(out BufferHandle @out, EngineHandle engine, byte[] operation, byte[] input_json, uint flags);
    }
}
