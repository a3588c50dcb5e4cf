using System;

namespace Asr
{
    /// <summary>Facts about the loaded native library (libasr.so / asr.dll).</summary>
    /// <remarks>
    /// The native library is looked for in $ASR_NATIVE_DIR, then in
    /// runtimes/&lt;rid&gt;/native/ and the directory of Asr.dll (where the NuGet
    /// package puts it), then by the platform loader (LD_LIBRARY_PATH, PATH);
    /// when it is nowhere, the DllNotFoundException names the places and the
    /// fix (NativeLibraryResolver). All members are thread-safe.
    /// </remarks>
    public static class AsrLibrary
    {
        /// <summary>
        /// The version of asr.h this binding was written against, as
        /// MAJOR*10000 + MINOR*100 + PATCH (<c>ASR_VERSION_NUMBER</c>).
        /// </summary>
        public const uint BindingVersionNumber = 100;

        /// <summary>The native library's version as MAJOR*10000 + MINOR*100 + PATCH (<c>asr_version()</c>).</summary>
        public static uint VersionNumber => NativeMethods.asr_version();

        /// <summary>The native library's version (from <c>asr_version()</c>).</summary>
        public static Version Version
        {
            get
            {
                uint n = VersionNumber;
                return new Version((int)(n / 10000), (int)(n / 100 % 100), (int)(n % 100));
            }
        }

        /// <summary>The native library's version as "MAJOR.MINOR.PATCH" (<c>asr_version_string()</c>).</summary>
        public static string VersionString =>
            Native.PtrToStringUtf8(NativeMethods.asr_version_string()) ?? string.Empty;

        /// <summary>The C name of a status code ("OK", "NOT_FOUND", ...; <c>asr_status_name()</c>).</summary>
        /// <param name="code">A status code.</param>
        /// <returns>The name, or "UNKNOWN_CODE" for values outside 0..16.</returns>
        public static string StatusName(AsrStatusCode code) => Native.StatusName((int)code);
    }
}
