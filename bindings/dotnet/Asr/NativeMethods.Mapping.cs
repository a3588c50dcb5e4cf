// P/Invoke declarations for the "Network and storage mappings, replica
// placement" section of asr.h, following NativeMethods.cs's conventions.

using System;
using System.Runtime.InteropServices;

namespace Asr
{
    internal static partial class NativeMethods
    {
        /// <summary>ASR_MAPPING_REPLACE: change the source's existing mapping.</summary>
        internal const uint ASR_MAPPING_REPLACE = 0x1;

        // ---- Network mappings ----------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_network_mapping_add(
            out BufferHandle @out, EngineHandle engine, byte[] mapping_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_network_mapping_remove(
            out BufferHandle @out, EngineHandle engine, byte[] @ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_network_mapping_list(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_network_mapping_targets(
            out BufferHandle @out, EngineHandle engine, byte[] source_ref, byte[]? target_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_network_mapping_resolve(
            out BufferHandle @out, EngineHandle engine, byte[] vm_ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_network_mapping_failback(
            out BufferHandle @out, EngineHandle engine, byte[] request_json, uint flags);

        // ---- Storage mappings ----------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_storage_mapping_add(
            out BufferHandle @out, EngineHandle engine, byte[] mapping_json, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_storage_mapping_remove(
            out BufferHandle @out, EngineHandle engine, byte[] @ref, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_storage_mapping_list(out BufferHandle @out, EngineHandle engine, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_storage_mapping_resolve(
            out BufferHandle @out, EngineHandle engine, byte[] vm_ref, byte[]? host_ref, uint flags);

        // ---- Placement -----------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_placement_show(
            out BufferHandle @out, EngineHandle engine, byte[] vm_ref, byte[]? pairing_id, uint flags);
    }
}
