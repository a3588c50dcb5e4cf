// The replication codec from .NET: how a cycle's block groups are
// compressed (the ASR_REPLICATION_CODEC_* flags of asr.h, "Fewer bytes on
// the wire").

namespace Asr
{
    /// <summary>How a replication cycle compresses its blocks (<c>ASR_REPLICATION_CODEC_*</c>).</summary>
    public enum AsrReplicationCodec
    {
        /// <summary>The long codec for every cycle after the initial copy, classic for it.</summary>
        Auto = 0,

        /// <summary>One zstd frame per group of blocks, compressed on every worker (before protocol 6).</summary>
        Classic = 1,

        /// <summary>
        /// One zstd stream per cycle with long-distance matching (window: the cycle's changed
        /// bytes, at most 128 MiB): data repeated anywhere in the cycle is sent once.
        /// A receiver older than protocol 6, and compression level 0, get <see cref="Classic"/>.
        /// </summary>
        Long = 2,
    }

    /// <summary>The codec's flag bits in <c>asr_replication_options_t.flags</c>.</summary>
    internal static class AsrReplicationCodecFlags
    {
        private const uint ClassicFlag = 0x100; // ASR_REPLICATION_CODEC_CLASSIC
        private const uint LongFlag = 0x200; // ASR_REPLICATION_CODEC_LONG

        internal static uint Of(AsrReplicationCodec codec)
        {
            switch (codec)
            {
                case AsrReplicationCodec.Auto:
                    return 0;
                case AsrReplicationCodec.Classic:
                    return ClassicFlag;
                case AsrReplicationCodec.Long:
                    return LongFlag;
                default:
                    throw new System.ArgumentOutOfRangeException(
                        nameof(codec), codec, "unknown codec: use Auto, Classic or Long");
            }
        }
    }
}
