using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using Xunit;

namespace Asr.Tests
{
    public sealed class NativeMethodsTests
    {
        /// <summary>
        /// Every symbol libasr exports (capi/exported_symbols.txt) has a DllImport
        /// of the same name in NativeMethods, and nothing else is imported.
        /// </summary>
        [Fact]
        public void DeclaresExactlyTheExportedFunctions()
        {
            string exported = FindInRepo(Path.Combine("capi", "exported_symbols.txt"));
            string[] expected = File.ReadAllLines(exported)
                .Select(l => l.Trim())
                .Where(l => l.Length > 0 && !l.StartsWith('#'))
                .OrderBy(l => l, StringComparer.Ordinal)
                .ToArray();

            string[] declared = typeof(AsrEngine).Assembly.GetType("Asr.NativeMethods", throwOnError: true)!
                .GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
                .Select(m => (Method: m, Import: m.GetCustomAttribute<DllImportAttribute>()))
                .Where(x => x.Import != null)
                .Select(x =>
                {
                    Assert.Equal(CallingConvention.Cdecl, x.Import!.CallingConvention);
                    Assert.Equal("asr", x.Import.Value);
                    return x.Import.EntryPoint ?? x.Method.Name;
                })
                .OrderBy(n => n, StringComparer.Ordinal)
                .ToArray();

            Assert.Equal(expected, declared);
        }

        /// <summary>
        /// The binding's structs have the C layouts asr.h pins (capi/capi_layout.cc).
        /// </summary>
        [Fact]
        public void StructsMatchTheCLayouts()
        {
            Assert.Equal(32, Marshal.SizeOf<AsrTlsFilesNative>());
            Assert.Equal(24, Marshal.OffsetOf<AsrTlsFilesNative>(nameof(AsrTlsFilesNative.CaPath)).ToInt32());
            Assert.Equal(72, Marshal.SizeOf<AsrReplicationOptionsNative>());
            Assert.Equal(16, Marshal.OffsetOf<AsrReplicationOptionsNative>(nameof(AsrReplicationOptionsNative.AppConsistent)).ToInt32());
            Assert.Equal(24, Marshal.OffsetOf<AsrReplicationOptionsNative>(nameof(AsrReplicationOptionsNative.Tracker)).ToInt32());
            Assert.Equal(32, Marshal.OffsetOf<AsrReplicationOptionsNative>(nameof(AsrReplicationOptionsNative.Progress)).ToInt32());
            Assert.Equal(40, Marshal.OffsetOf<AsrReplicationOptionsNative>(nameof(AsrReplicationOptionsNative.Payload)).ToInt32());
            Assert.Equal(48, Marshal.OffsetOf<AsrReplicationOptionsNative>(nameof(AsrReplicationOptionsNative.Flags)).ToInt32());
            Assert.Equal(56, Marshal.OffsetOf<AsrReplicationOptionsNative>(nameof(AsrReplicationOptionsNative.ExpectedReceiverName)).ToInt32());
            Assert.Equal(64, Marshal.OffsetOf<AsrReplicationOptionsNative>(nameof(AsrReplicationOptionsNative.CrlPath)).ToInt32());
            Assert.Equal(40, Marshal.SizeOf<AsrReplicationProgressNative>());
            Assert.Equal(176, Marshal.SizeOf<AsrHostCallbacksNative>());
            Assert.Equal(40, AsrHostCallbacksNative.V1Size);
            Assert.Equal(48, Marshal.OffsetOf<AsrHostCallbacksNative>(nameof(AsrHostCallbacksNative.GetVm)).ToInt32());
            Assert.Equal(144, Marshal.OffsetOf<AsrHostCallbacksNative>(nameof(AsrHostCallbacksNative.DetachChangeTracking)).ToInt32());
            Assert.Equal(152, Marshal.OffsetOf<AsrHostCallbacksNative>(nameof(AsrHostCallbacksNative.CreateGroupPoint)).ToInt32());
            Assert.Equal(160, Marshal.OffsetOf<AsrHostCallbacksNative>(nameof(AsrHostCallbacksNative.CreateIsolatedNetwork)).ToInt32());
            Assert.Equal(168, Marshal.OffsetOf<AsrHostCallbacksNative>(nameof(AsrHostCallbacksNative.DeleteIsolatedNetwork)).ToInt32());
        }

        /// <summary>
        /// The _init functions fill the defaults of the version asked for and refuse unknown versions.
        /// </summary>
        [Fact]
        public void InitFunctionsFillEachVersion()
        {
            var options = default(AsrReplicationOptionsNative);
            Assert.Equal(0, NativeMethods.asr_replication_options_init(ref options, 2));
            Assert.Equal(56u, options.StructSize);
            Assert.Equal(3u, options.Mode); // scan
            Assert.Equal(1, options.CompressionLevel);
            Assert.Equal(IntPtr.Zero, options.Tracker);
            Assert.Equal(0, NativeMethods.asr_replication_options_init(ref options, 3));
            Assert.Equal(72u, options.StructSize);
            Assert.Equal(IntPtr.Zero, options.ExpectedReceiverName);
            Assert.Equal(IntPtr.Zero, options.CrlPath);
            options = default;
            Assert.Equal(0, NativeMethods.asr_replication_options_init(ref options, 1));
            Assert.Equal(20u, options.StructSize);
            Assert.Equal((int)AsrStatusCode.InvalidArgument, NativeMethods.asr_replication_options_init(ref options, 4));
            var tls = default(AsrTlsFilesNative);
            Assert.Equal(0, NativeMethods.asr_tls_files_init(ref tls, 1));
            Assert.Equal(32u, tls.StructSize);
            Assert.Equal((int)AsrStatusCode.InvalidArgument, NativeMethods.asr_tls_files_init(ref tls, 2));
        }

        private static string FindInRepo(string relative)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
        }
    }
}
