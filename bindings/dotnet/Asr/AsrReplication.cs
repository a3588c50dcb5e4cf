// The replication data plane from .NET: the host's change tracker, one
// replication cycle over mutual TLS with progress, verification of a replica
// against the source, and a replica's recovery points (list, restore). See the "Replication" section of asr.h.

using System;
using System.Runtime.InteropServices;

namespace Asr
{
    /// <summary>How a replication cycle finds what changed (ASR_REPLICATION_MODE_*).</summary>
    public enum AsrReplicationMode : uint
    {
        /// <summary>A full copy that skips unallocated and zero ranges.</summary>
        Initial = 1,

        /// <summary>Only the blocks the change tracker recorded (scans when it cannot be trusted).</summary>
        Tracked = 2,

        /// <summary>The digest of every allocated block against the last replicated state.</summary>
        Scan = 3,

        /// <summary>The blocks a differencing child holds over its replicated parent.</summary>
        Differencing = 4,
    }

    /// <summary>This host's certificate and key and the vault CA (PEM files from <c>asrctl pki init</c>).</summary>
    public sealed class AsrTlsFiles
    {
        /// <summary>This host's certificate (e.g. primary.pem).</summary>
        public string CertPath { get; set; } = string.Empty;

        /// <summary>This host's private key (e.g. primary.key).</summary>
        public string KeyPath { get; set; } = string.Empty;

        /// <summary>The vault CA certificate (ca.pem).</summary>
        public string CaPath { get; set; } = string.Empty;
    }

    /// <summary>Options of one replication cycle (<c>asr_replication_options_t</c>).</summary>
    public sealed class AsrReplicationOptions
    {
        /// <summary>How changes are found.</summary>
        public AsrReplicationMode Mode { get; set; } = AsrReplicationMode.Scan;

        /// <summary>0: compression off (raw blocks); 1..19: zstd level.</summary>
        public int CompressionLevel { get; set; } = 1;

        /// <summary>Block size of an initial replication; 0 for 64 KiB.</summary>
        public uint BlockSize { get; set; }

        /// <summary>Whether the source snapshot was app-consistent.</summary>
        public bool AppConsistent { get; set; }

        /// <summary>
        /// Tracked mode only: refuse the cycle (<see cref="AsrFailedPreconditionException"/>
        /// saying why) instead of scanning when the change map cannot prove it saw every
        /// write (<c>ASR_REPLICATION_TRACKED_ONLY</c>). Without it such a cycle scans, and
        /// its JSON says so in "modeUsed" and "fallbackReason".
        /// </summary>
        public bool TrackedOnly { get; set; }

        /// <summary>
        /// How the cycle's blocks are compressed (<c>ASR_REPLICATION_CODEC_*</c>); the
        /// cycle's JSON says which one ran in "codec".
        /// </summary>
        public AsrReplicationCodec Codec { get; set; } = AsrReplicationCodec.Auto;

        /// <summary>
        /// The recovery host's name as its certificate carries it (a DNS or IP
        /// subjectAltName): the receiver must present a certificate naming it, so that no
        /// other host of the vault can pose as the receiver
        /// (<see cref="AsrUnauthenticatedException"/> naming the certificate's names
        /// otherwise). Null: the host passed to <c>Replicate</c>.
        /// </summary>
        public string? ExpectedReceiverName { get; set; }

        /// <summary>
        /// The vault's certificate revocation list (crl.pem from <c>asrctl pki revoke</c>):
        /// a revoked receiver is refused. Null: no revocation check.
        /// </summary>
        public string? CrlPath { get; set; }
    }

    /// <summary>Progress of a running cycle.</summary>
    public sealed class AsrReplicationProgress
    {
        internal AsrReplicationProgress(in AsrReplicationProgressNative n)
        {
            PlannedReadBytes = n.PlannedReadBytes;
            BytesRead = n.BytesRead;
            BytesSent = n.BytesSent;
            BlocksSent = n.BlocksSent;
        }

        /// <summary>Bytes the cycle plans to read.</summary>
        public ulong PlannedReadBytes { get; }

        /// <summary>Bytes read so far.</summary>
        public ulong BytesRead { get; }

        /// <summary>Bytes on the wire so far.</summary>
        public ulong BytesSent { get; }

        /// <summary>Changed blocks sent so far.</summary>
        public ulong BlocksSent { get; }
    }

    /// <summary>
    /// The change tracker of one virtual disk (<c>asr_tracker_t</c>): report every
    /// guest write with <see cref="RecordWrite"/> before completing it.
    /// </summary>
    /// <remarks>
    /// Thread safety: <see cref="RecordWrite"/> and <see cref="GetStatusJson"/>
    /// may be called from several threads at once. Close (or dispose) it once;
    /// a tracker that is not closed cleanly makes the next tracked cycle scan.
    /// </remarks>
    public sealed class AsrChangeTracker : IDisposable
    {
        private readonly TrackerHandle _handle;

        private AsrChangeTracker(TrackerHandle handle) => _handle = handle;

        internal TrackerHandle Handle =>
            _handle.IsClosed ? throw new ObjectDisposedException(nameof(AsrChangeTracker)) : _handle;

        /// <summary>Opens (or creates) the tracker of <paramref name="diskPath"/> (<c>asr_tracker_open</c>).</summary>
        /// <param name="diskPath">The virtual disk (VHD/VHDX).</param>
        /// <param name="blockSize">0: the disk's replication block size (64 KiB when none).</param>
        /// <returns>The open tracker.</returns>
        public static AsrChangeTracker Open(string diskPath, uint blockSize = 0)
        {
            int code = NativeMethods.asr_tracker_open(
                out TrackerHandle handle, Native.Utf8(diskPath, nameof(diskPath)), blockSize, 0);
            if (code != (int)AsrStatusCode.Ok)
            {
                handle.Dispose();
                Native.Check(code);
            }

            return new AsrChangeTracker(handle);
        }

        /// <summary>Records a guest write (<c>asr_tracker_record_write</c>).</summary>
        /// <param name="offset">Byte offset of the write.</param>
        /// <param name="length">Bytes written.</param>
        public void RecordWrite(ulong offset, ulong length) =>
            Native.Check(NativeMethods.asr_tracker_record_write(Handle, offset, length, 0));

        /// <summary>{"needsScan", "reason", "changedBlocks", "blockSize"} (<c>asr_tracker_status</c>).</summary>
        /// <returns>The status as JSON.</returns>
        public string GetStatusJson()
        {
            int code = NativeMethods.asr_tracker_status(out BufferHandle buffer, Handle, 0);
            return Native.CheckAndTakeString(code, buffer);
        }

        /// <summary>Persists the map and closes the tracker; throws when persisting failed.</summary>
        public void Close()
        {
            if (_handle.IsClosed)
            {
                return;
            }

            _handle.Dispose();
            Native.Check(_handle.CloseStatus);
        }

        /// <summary>Closes the tracker, ignoring errors (use <see cref="Close"/> to see them).</summary>
        public void Dispose() => _handle.Dispose();
    }

    /// <summary>Replication cycles and recovery points.</summary>
    public static class AsrReplication
    {
        private const uint TrackedOnlyFlag = 0x1; // ASR_REPLICATION_TRACKED_ONLY
        private const uint TlsFilesVersion = 1; // ASR_TLS_FILES_VERSION
        private const uint ReplicationOptionsVersion = 3; // ASR_REPLICATION_OPTIONS_VERSION

        /// <summary>
        /// Runs one replication cycle of <paramref name="diskPath"/> to the receiver at
        /// host:port over mutual TLS (<c>asr_replication_cycle</c>) and returns once the
        /// receiver has durably committed the new recovery point.
        /// </summary>
        /// <param name="diskPath">The source disk.</param>
        /// <param name="host">The recovery host's receiver.</param>
        /// <param name="port">Its port; 0 for 8084.</param>
        /// <param name="tls">This host's certificate, key and the vault CA.</param>
        /// <param name="options">Mode, compression, consistency.</param>
        /// <param name="tracker">The host's open tracker for tracked cycles, or null.</param>
        /// <param name="progress">Called on the calling thread after each chunk; may be null.</param>
        /// <returns>The cycle's statistics as JSON ("pointId", "modeUsed", "fallbackReason",
        /// "bytesRead", "bytesSent", ...; a connection lost or stalled mid-cycle is resumed
        /// on a new one: "attempts", "bytesResumed", "bytesResent").</returns>
        public static string RunCycle(
            string diskPath,
            string host,
            ushort port,
            AsrTlsFiles tls,
            AsrReplicationOptions options,
            AsrChangeTracker? tracker = null,
            Action<AsrReplicationProgress>? progress = null)
        {
            if (tls == null)
            {
                throw new ArgumentNullException(nameof(tls));
            }

            if (options == null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            byte[] disk = Native.Utf8(diskPath, nameof(diskPath));
            byte[] hostBytes = Native.Utf8(host, nameof(host));
            GCHandle cert = GCHandle.Alloc(Native.Utf8(tls.CertPath, nameof(tls.CertPath)), GCHandleType.Pinned);
            GCHandle key = GCHandle.Alloc(Native.Utf8(tls.KeyPath, nameof(tls.KeyPath)), GCHandleType.Pinned);
            GCHandle ca = GCHandle.Alloc(Native.Utf8(tls.CaPath, nameof(tls.CaPath)), GCHandleType.Pinned);
            GCHandle receiverName = options.ExpectedReceiverName == null
                ? default
                : GCHandle.Alloc(Native.Utf8(options.ExpectedReceiverName, nameof(options.ExpectedReceiverName)), GCHandleType.Pinned);
            GCHandle crl = options.CrlPath == null
                ? default
                : GCHandle.Alloc(Native.Utf8(options.CrlPath, nameof(options.CrlPath)), GCHandleType.Pinned);
            bool addedRef = false;
            Exception? callbackError = null;
            try
            {
                var tlsNative = default(AsrTlsFilesNative);
                Native.Check(NativeMethods.asr_tls_files_init(ref tlsNative, TlsFilesVersion));
                tlsNative.CertPath = cert.AddrOfPinnedObject();
                tlsNative.KeyPath = key.AddrOfPinnedObject();
                tlsNative.CaPath = ca.AddrOfPinnedObject();
                var optionsNative = default(AsrReplicationOptionsNative);
                Native.Check(NativeMethods.asr_replication_options_init(ref optionsNative, ReplicationOptionsVersion));
                optionsNative.Mode = (uint)options.Mode;
                optionsNative.CompressionLevel = options.CompressionLevel;
                optionsNative.BlockSize = options.BlockSize;
                optionsNative.AppConsistent = options.AppConsistent ? 1u : 0u;
                optionsNative.Flags = (options.TrackedOnly ? TrackedOnlyFlag : 0u) | AsrReplicationCodecFlags.Of(options.Codec);
                optionsNative.ExpectedReceiverName = receiverName.IsAllocated ? receiverName.AddrOfPinnedObject() : IntPtr.Zero;
                optionsNative.CrlPath = crl.IsAllocated ? crl.AddrOfPinnedObject() : IntPtr.Zero;
                if (tracker != null)
                {
                    tracker.Handle.DangerousAddRef(ref addedRef);
                    optionsNative.Tracker = tracker.Handle.DangerousGetHandle();
                }

                // A managed exception must not unwind through native frames:
                // keep the first one and rethrow after the call.
                AsrReplicationProgressFn? callback = progress == null
                    ? null
                    : (ref AsrReplicationProgressNative p, IntPtr payload) =>
                    {
                        if (callbackError != null)
                        {
                            return;
                        }

                        try
                        {
                            progress(new AsrReplicationProgress(p));
                        }
                        catch (Exception e)
                        {
                            callbackError = e;
                        }
                    };
                if (callback != null)
                {
                    optionsNative.Progress = Marshal.GetFunctionPointerForDelegate(callback);
                }

                int code = NativeMethods.asr_replication_run(
                    out BufferHandle buffer, disk, hostBytes, port, ref tlsNative, ref optionsNative);
                GC.KeepAlive(callback);
                string json = Native.CheckAndTakeString(code, buffer);
                if (callbackError != null)
                {
                    throw new InvalidOperationException("the progress callback failed", callbackError);
                }

                return json;
            }
            finally
            {
                if (receiverName.IsAllocated)
                {
                    receiverName.Free();
                }

                if (crl.IsAllocated)
                {
                    crl.Free();
                }

                if (addedRef)
                {
                    tracker!.Handle.DangerousRelease();
                }

                cert.Free();
                key.Free();
                ca.Free();
            }
        }

        /// <summary>
        /// Verifies the receiver's latest recovery point of <paramref name="diskPath"/>
        /// against the disk's replication state and the source disk (<c>asr_replica_verify</c>).
        /// A mismatch is not an exception: the JSON says "resyncRequired": true with a
        /// "reason", and the next scan cycle resends the mismatching blocks.
        /// </summary>
        /// <param name="diskPath">The source disk.</param>
        /// <param name="host">The recovery host's receiver.</param>
        /// <param name="port">Its port; 0 for 8084.</param>
        /// <param name="tls">This host's certificate, key and the vault CA.</param>
        /// <param name="replicaOnly">Compare only the replica; do not read the source disk.</param>
        /// <returns>The result as JSON ("pointId", "blocksChecked", "replicaMismatches",
        /// "sourceMismatches", "resyncRequired", "reason", "bytesRead", "seconds", ...).</returns>
        public static string VerifyReplica(string diskPath, string host, ushort port, AsrTlsFiles tls, bool replicaOnly = false)
        {
            if (tls == null)
            {
                throw new ArgumentNullException(nameof(tls));
            }

            byte[] disk = Native.Utf8(diskPath, nameof(diskPath));
            byte[] hostBytes = Native.Utf8(host, nameof(host));
            GCHandle cert = GCHandle.Alloc(Native.Utf8(tls.CertPath, nameof(tls.CertPath)), GCHandleType.Pinned);
            GCHandle key = GCHandle.Alloc(Native.Utf8(tls.KeyPath, nameof(tls.KeyPath)), GCHandleType.Pinned);
            GCHandle ca = GCHandle.Alloc(Native.Utf8(tls.CaPath, nameof(tls.CaPath)), GCHandleType.Pinned);
            try
            {
                var tlsNative = default(AsrTlsFilesNative);
                Native.Check(NativeMethods.asr_tls_files_init(ref tlsNative, TlsFilesVersion));
                tlsNative.CertPath = cert.AddrOfPinnedObject();
                tlsNative.KeyPath = key.AddrOfPinnedObject();
                tlsNative.CaPath = ca.AddrOfPinnedObject();
                int code = NativeMethods.asr_replica_verify(
                    out BufferHandle buffer, disk, hostBytes, port, ref tlsNative, replicaOnly ? 1u : 0u);
                return Native.CheckAndTakeString(code, buffer);
            }
            finally
            {
                cert.Free();
                key.Free();
                ca.Free();
            }
        }

        /// <summary>
        /// The recovery points of a replica directory as a JSON array of {"id", "time",
        /// "sourceTime", "consistency", "latest", "mode"} (<c>asr_replica_points</c>).
        /// </summary>
        /// <param name="replicaDir">The receiver's replica directory.</param>
        /// <returns>The points, oldest first.</returns>
        public static string GetRecoveryPointsJson(string replicaDir)
        {
            int code = NativeMethods.asr_replica_points(
                out BufferHandle buffer, Native.Utf8(replicaDir, nameof(replicaDir)), 0);
            return Native.CheckAndTakeString(code, buffer);
        }

        /// <summary>
        /// Writes recovery point <paramref name="pointId"/> to a standalone disk without
        /// disturbing replication (<c>asr_replica_restore</c>).
        /// </summary>
        /// <param name="replicaDir">The receiver's replica directory.</param>
        /// <param name="pointId">The point's id.</param>
        /// <param name="outPath">The new disk (.vhdx, .vhd or .raw).</param>
        /// <param name="overwrite">Replace an existing file.</param>
        public static void Restore(string replicaDir, ulong pointId, string outPath, bool overwrite = false) =>
            Native.Check(NativeMethods.asr_replica_restore(
                Native.Utf8(replicaDir, nameof(replicaDir)), pointId, Native.Utf8(outPath, nameof(outPath)),
                overwrite ? 1u : 0u));
    }
}
