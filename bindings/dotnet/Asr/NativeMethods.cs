// P/Invoke declarations for asr.h, one per C function, with the exact C names.
//
// Conventions (keep them when adding functions):
//  - Library name "asr": libasr.so on Linux, asr.dll on Windows.
//  - CallingConvention.Cdecl, ExactSpelling = true.
//  - Strings go in as NUL-terminated UTF-8 byte[] made by Native.Utf8(...);
//    returned `const char*` come back as IntPtr and are read with
//    Native.PtrToStringUtf8(...). (netstandard2.0 has no LPUTF8Str on every
//    runtime, so the binding never relies on the marshaller for strings.)
//  - Opaque handles are SafeHandle subclasses: `asr_x_t**` out parameters are
//    `out XHandle`, `asr_x_t*` in parameters are `XHandle` (the marshaller
//    keeps the handle alive for the duration of the call).
//  - size_t is UIntPtr; uint32_t is uint; int status codes are int.
//  - `flags` parameters are uint; callers pass 0.

using System;
using System.Runtime.InteropServices;

namespace Asr
{
    /// <summary>The C layout of <c>asr_engine_options_t</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct AsrEngineOptionsNative
    {
        /// <summary>sizeof(asr_engine_options_t); must stay the first field.</summary>
        public uint StructSize;

        /// <summary>1: no writer lock, writes fail.</summary>
        public uint ReadOnly;

        /// <summary>1: create the state directory if missing.</summary>
        public uint CreateIfMissing;
    }

    /// <summary>Raw entry points of the native library, named exactly as in asr.h.</summary>
    internal static partial class NativeMethods
    {
        /// <summary>The native library name, resolved to libasr.so / asr.dll.</summary>
        internal const string LibraryName = "asr";

        /// <summary>Finds the native library before the first call (NativeLibraryResolver).</summary>
        static NativeMethods() => NativeLibraryResolver.Install();

        // ---- Version -------------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern uint asr_version();

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr asr_version_string();

        // ---- Status codes --------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr asr_last_error_message();

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr asr_last_error_detail();

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr asr_status_name(int code);

        // ---- Buffers -------------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern IntPtr asr_buffer_data(BufferHandle buffer);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern UIntPtr asr_buffer_size(BufferHandle buffer);

        /// <summary>Only BufferHandle.ReleaseHandle calls this.</summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern void asr_buffer_dispose(IntPtr buffer);

        // ---- Engine --------------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_engine_open(
            out EngineHandle @out, byte[] state_dir, ref AsrEngineOptionsNative options, uint flags);

        /// <summary>Only EngineHandle.ReleaseHandle calls this.</summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern void asr_engine_close(IntPtr engine);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_engine_initialize(EngineHandle engine, uint flags);

        // ---- Objects -------------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_object_put(EngineHandle engine, byte[] kind, byte[] json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_object_get(
            out BufferHandle @out, EngineHandle engine, byte[] kind, byte[] id, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_object_list(out BufferHandle @out, EngineHandle engine, byte[] kind, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_object_delete(EngineHandle engine, byte[] kind, byte[] id, uint flags);
    }
}
