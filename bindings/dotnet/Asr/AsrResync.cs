// Verification and resynchronization of protected VMs' replicas (asr.h,
// asr_item_verify / asr_item_resync).
//
//   using (AsrEngine engine = AsrEngine.Open(stateDir, options))
//   {
//       AsrProtection.SetTransport(engine, "{\"pkiDir\":\"/etc/asr/pki\"}");
//       string v = AsrResync.VerifyItem(engine, "VM1");      // "resyncRequired":true|false
//       // item: "resyncState":"PreparedForResynchronization", health Critical,
//       // "RepairReplication" allowed, until:
//       string r = AsrResync.ResyncItem(engine, "VM1");      // "resynchronized":true, "bytesSent"
//   }

namespace Asr
{
    /// <summary>Verifies a protected VM's replicas and resynchronizes them when they differ.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrResync
    {
        /// <summary>
        /// Verifies every replica of the item (id, or its VM's id or name) against what was
        /// replicated; returns the ItemVerification as JSON ("resyncRequired", "reason",
        /// "disks" with "replicaMismatches" and the first "replicaMismatchBlocks"). A
        /// difference is not an exception: it marks the item for resynchronization.
        /// </summary>
        /// <exception cref="AsrNotFoundException">No such item.</exception>
        /// <exception cref="AsrFailedPreconditionException">No transport, or the item does not replicate.</exception>
        /// <exception cref="AsrUnavailableException">A cycle of the item runs, or the endpoint is unreachable.</exception>
        public static string VerifyItem(AsrEngine engine, string item) =>
            AsrPolicy.Call(NativeMethods.asr_item_verify, engine, item, nameof(item));

        /// <summary>
        /// Resynchronizes the item (RepairReplication): sends only the blocks that differ, as
        /// one new recovery point; returns the ItemVerification with "resynchronized",
        /// "bytesSent" and "pointSequence".
        /// </summary>
        /// <exception cref="AsrFailedPreconditionException">The item needs no resynchronization (the message names its state).</exception>
        public static string ResyncItem(AsrEngine engine, string item) =>
            AsrPolicy.Call(NativeMethods.asr_item_resync, engine, item, nameof(item));
    }
}
