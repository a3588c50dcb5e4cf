// Local verification of a replica directory on the recovery host against
// the block digests recorded at each commit (asr.h, asr_replica_verify_dir).
//
//   string r = AsrReplicaVerify.VerifyDir("/replicas/vm1-disk0");
//   // {"point":"7","manifestRecorded":true,"blocks":"384","mismatchedBlocks":"0",
//   //  "firstMismatches":[],"bytesRead":"..","ok":true,"message":".."}

namespace Asr
{
    /// <summary>Re-reads a replica's latest point and compares it with its recorded block digests.</summary>
    /// <remarks>Thread safety: static and stateless; a running receiver is not disturbed.</remarks>
    public static class AsrReplicaVerify
    {
        /// <summary>
        /// Verifies the latest point of the replica in <paramref name="replicaDir"/> (or the
        /// kept point <paramref name="pointId"/>, read as a restore reads it); returns the
        /// result as JSON.
        /// Differing blocks are not an exception: "ok" is false and "firstMismatches" names
        /// their byte offsets.
        /// </summary>
        /// <exception cref="AsrNotFoundException">Not a replica directory, or no such point.</exception>
        /// <exception cref="AsrDataLossException">The manifest file is damaged.</exception>
        public static string VerifyDir(string replicaDir, ulong pointId = 0)
        {
            int code = NativeMethods.asr_replica_verify_dir(
                out BufferHandle buffer, Native.Utf8(replicaDir, nameof(replicaDir)), pointId, 0);
            return Native.CheckAndTakeString(code, buffer);
        }
    }
}
