using System;
using System.IO;
using System.Linq;
using Asr.Model;
using Xunit;

namespace Asr.Tests
{
    /// <summary>The site service and the transport through the typed settings; finding the native library.</summary>
    public sealed class TypedServiceTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        /// <summary>
        /// Optional settings are sent when set, even to false: Threads = false makes the
        /// service wait for Step; ServeReplicas runs the endpoint on the Listen address.
        /// </summary>
        [Fact]
        public void SiteServiceFromTypedSettings()
        {
            string pki = Path.Combine(Path.GetDirectoryName(_dir.Dir)!, "pki");
            AsrctlTool.Run(AsrctlTool.Path(), $"pki init --dir \"{pki}\" --recovery-san 127.0.0.1");
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            var settings = new SiteServiceSettings
            {
                Threads = false,
                ServeReplicas = true,
                Listen = "127.0.0.1:0",
                MaxConcurrent = 2,
                Transport = new TransportSettings { PkiDir = pki },
            };
            Assert.Contains("\"threads\":false", settings.ToJson());
            using (AsrSiteService site = engine.StartSiteService(settings))
            {
                site.Step();
                SiteServiceStatistics stats = site.Statistics;
                Assert.Equal(0, stats.ProtectedItems);
                Assert.Equal(0UL, stats.CyclesOk);
                Assert.StartsWith("127.0.0.1:", stats.EndpointAddress);
                Assert.Throws<AsrFailedPreconditionException>(() => engine.StartSiteService(settings));
            }

            var bad = Assert.Throws<AsrInvalidArgumentException>(() => engine.StartSiteService(new SiteServiceSettings { MaxConcurrent = 0 }));
            Assert.Contains("maxConcurrent", bad.Message);
            Assert.Contains("pkiDir", Assert.Throws<AsrInvalidArgumentException>(() => engine.SetTransport(new TransportSettings())).Message);
            engine.SetTransport(new TransportSettings { PkiDir = pki, PointIntervalSeconds = 1 });
            engine.SetTransport(null);
        }

        /// <summary>The resolver looks where the package puts the library, and its error names the fix.</summary>
        [Fact]
        public void NativeLibraryIsFoundWhereThePackagePutsIt()
        {
            string here = Path.GetDirectoryName(typeof(AsrEngine).Assembly.Location)!;
            string packaged = Path.Combine(here, "runtimes", NativeLibraryResolver.RuntimeIdentifier, "native", NativeLibraryResolver.FileName);
            Assert.Contains(packaged, NativeLibraryResolver.Candidates());
            Assert.True(File.Exists(packaged), $"{packaged}: the test project copies bazel-bin/capi/libasr.so there");
            Assert.Equal("libasr.so", NativeLibraryResolver.FileName);
            Assert.Equal("linux-x64", NativeLibraryResolver.RuntimeIdentifier);
            string message = NativeLibraryResolver.NotFoundMessage(null);
            Assert.Contains("bazel build //capi:libasr.so", message);
            Assert.Contains(packaged, message);
            Assert.Contains(NativeLibraryResolver.DirVariable, message);
            Assert.Contains("did not load", NativeLibraryResolver.NotFoundMessage("x exists but did not load"));
            // The library the binding loaded is the one of this repository's build.
            Assert.Equal(AsrLibrary.BindingVersionNumber, AsrLibrary.VersionNumber);

            Environment.SetEnvironmentVariable(NativeLibraryResolver.DirVariable, "/opt/elsewhere");
            try
            {
                Assert.Equal(Path.Combine("/opt/elsewhere", "libasr.so"), NativeLibraryResolver.Candidates().First());
            }
            finally
            {
                Environment.SetEnvironmentVariable(NativeLibraryResolver.DirVariable, null);
            }
        }
    }
}
