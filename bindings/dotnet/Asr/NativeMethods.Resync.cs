// P/Invoke declarations for the verification and resynchronization section
// of asr.h, following NativeMethods.cs's conventions.

namespace Asr
{
    internal static partial class NativeMethods
    {
        [System.Runtime.InteropServices.DllImport(LibraryName, CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_item_verify(out BufferHandle @out, EngineHandle engine, byte[] @ref, uint flags);

        [System.Runtime.InteropServices.DllImport(LibraryName, CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_item_resync(out BufferHandle @out, EngineHandle engine, byte[] @ref, uint flags);
    }
}
