using System.Runtime.InteropServices;

namespace Asr
{
    /// <summary>
    /// Options for <see cref="AsrEngine.Open(string, AsrEngineOptions)"/>; the
    /// managed form of <c>asr_engine_options_t</c>. The defaults equal
    /// <c>ASR_ENGINE_OPTIONS_INIT</c>.
    /// </summary>
    public sealed class AsrEngineOptions
    {
        /// <summary>
        /// Open without taking the writer lock; writes then fail with
        /// <see cref="AsrFailedPreconditionException"/>. Default: false.
        /// </summary>
        public bool ReadOnly { get; set; }

        /// <summary>
        /// Create the state directory if it is missing; when false, a missing
        /// directory raises <see cref="AsrNotFoundException"/>. Default: true.
        /// </summary>
        public bool CreateIfMissing { get; set; } = true;

        /// <summary>
        /// The key file holding the key-encryption key that wraps the vault's
        /// private keys (64 hex digits, mode 0600, outside the state
        /// directory; create one with <c>asrctl key-provider init --key-file
        /// PATH</c>); set with <c>asr_engine_set_key_file</c> right after the
        /// engine opens. Null: none (creating a vault or a registration key
        /// then raises <see cref="AsrFailedPreconditionException"/>). Default:
        /// null.
        /// </summary>
        public string? KeyFile { get; set; }

        /// <summary>The C struct, with struct_size set to this binding's view of it.</summary>
        /// <returns>The struct to pass to asr_engine_open.</returns>
        internal AsrEngineOptionsNative ToNative() => new AsrEngineOptionsNative
        {
            StructSize = (uint)Marshal.SizeOf<AsrEngineOptionsNative>(),
            ReadOnly = ReadOnly ? 1u : 0u,
            CreateIfMissing = CreateIfMissing ? 1u : 0u,
        };
    }
}
