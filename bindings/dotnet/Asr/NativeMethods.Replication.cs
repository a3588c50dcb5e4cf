// P/Invoke declarations for the replication section of asr.h (tracker,
// replication cycle, verification, recovery points), following NativeMethods.cs's
// conventions. Structs mirror the C layouts field by field.

using System;
using System.Runtime.InteropServices;

namespace Asr
{
    /// <summary>The C layout of <c>asr_tls_files_t</c> version 1 (UTF-8 path pointers).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct AsrTlsFilesNative
    {
        /// <summary>sizeof(asr_tls_files_t); must stay the first field.</summary>
        public uint StructSize;

        /// <summary>const char* cert_path.</summary>
        public IntPtr CertPath;

        /// <summary>const char* key_path.</summary>
        public IntPtr KeyPath;

        /// <summary>const char* ca_path.</summary>
        public IntPtr CaPath;
    }

    /// <summary>The C layout of <c>asr_replication_options_t</c> version 2.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct AsrReplicationOptionsNative
    {
        /// <summary>sizeof(asr_replication_options_t); must stay the first field.</summary>
        public uint StructSize;

        /// <summary>ASR_REPLICATION_MODE_*.</summary>
        public uint Mode;

        /// <summary>0: off; 1..19: zstd level.</summary>
        public int CompressionLevel;

        /// <summary>Initial replication's block size; 0: 64 KiB.</summary>
        public uint BlockSize;

        /// <summary>1: app-consistent source snapshot.</summary>
        public uint AppConsistent;

        /// <summary>Version 2: asr_tracker_t* tracker, or zero.</summary>
        public IntPtr Tracker;

        /// <summary>asr_replication_progress_fn progress (a delegate's function pointer), or zero.</summary>
        public IntPtr Progress;

        /// <summary>void* payload, passed to the progress callback.</summary>
        public IntPtr Payload;

        /// <summary>0 or ASR_REPLICATION_TRACKED_ONLY.</summary>
        public uint Flags;

        /// <summary>0.</summary>
        public uint Reserved;

        /// <summary>Version 3: const char* expected_receiver_name, or zero for the host argument.</summary>
        public IntPtr ExpectedReceiverName;

        /// <summary>const char* crl_path, or zero for none.</summary>
        public IntPtr CrlPath;
    }

    /// <summary>The C layout of <c>asr_replication_progress_t</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct AsrReplicationProgressNative
    {
        public uint StructSize;
        public uint Reserved;
        public ulong PlannedReadBytes;
        public ulong BytesRead;
        public ulong BytesSent;
        public ulong BlocksSent;
    }

    /// <summary><c>asr_replication_progress_fn</c>: runs on the thread that called asr_replication_run.</summary>
    /// <param name="progress">Valid only during the call.</param>
    /// <param name="payload">The caller's payload.</param>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void AsrReplicationProgressFn(ref AsrReplicationProgressNative progress, IntPtr payload);

    /// <summary>Owns an <c>asr_tracker_t*</c>; released with <c>asr_tracker_close</c>.</summary>
    internal sealed class TrackerHandle : SafeHandle
    {
        /// <summary>Made by the marshaller for <c>out TrackerHandle</c> parameters.</summary>
        public TrackerHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        /// <summary>The status of the close done by <see cref="ReleaseHandle"/>.</summary>
        internal int CloseStatus { get; private set; }

        /// <inheritdoc />
        public override bool IsInvalid => handle == IntPtr.Zero;

        /// <inheritdoc />
        protected override bool ReleaseHandle()
        {
            CloseStatus = NativeMethods.asr_tracker_close(handle);
            return true;
        }
    }

    internal static partial class NativeMethods
    {
        // ---- Replication ---------------------------------------------------

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_tracker_open(
            out TrackerHandle @out, byte[] disk_path, uint block_size, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_tracker_record_write(
            TrackerHandle tracker, ulong offset, ulong length, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_tracker_status(out BufferHandle @out, TrackerHandle tracker, uint flags);

        /// <summary>Only TrackerHandle.ReleaseHandle calls this.</summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_tracker_close(IntPtr tracker);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_tls_files_init(ref AsrTlsFilesNative files, uint version);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_replication_options_init(ref AsrReplicationOptionsNative options, uint version);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_replication_run(
            out BufferHandle @out,
            byte[] disk_path,
            byte[] host,
            ushort port,
            ref AsrTlsFilesNative tls,
            ref AsrReplicationOptionsNative options);

        /// <summary>The older form of asr_replication_run; the binding calls asr_replication_run.</summary>
        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_replication_cycle(
            out BufferHandle @out,
            byte[] disk_path,
            byte[] host,
            ushort port,
            ref AsrTlsFilesNative tls,
            ref AsrReplicationOptionsNative options,
            IntPtr tracker,
            AsrReplicationProgressFn? progress,
            IntPtr payload,
            uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_replica_verify(
            out BufferHandle @out, byte[] disk_path, byte[] host, ushort port, ref AsrTlsFilesNative tls, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_replica_points(out BufferHandle @out, byte[] replica_dir, uint flags);

        [DllImport(LibraryName, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        internal static extern int asr_replica_restore(
            byte[] replica_dir, ulong point_id, byte[] out_path, uint flags);
    }
}
