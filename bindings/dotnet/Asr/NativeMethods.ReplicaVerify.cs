// P/Invoke declaration for asr_replica_verify_dir (asr.h, "Verify/resync:
// local manifests"), following NativeMethods.cs's conventions.

namespace Asr
{
    internal static partial class NativeMethods
    {
        [System.Runtime.InteropServices.DllImport(LibraryName, CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_replica_verify_dir(out BufferHandle @out, byte[] replica_dir, ulong point_id, uint flags);
    }
}
