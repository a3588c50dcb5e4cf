using System;
using System.IO;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Protection through the binding: errors, items, the site service.</summary>
    public sealed class ProtectionTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        private AsrEngine OpenInitialized()
        {
            AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            return engine;
        }

        [Fact]
        public void FreshEngineHasNoItems()
        {
            using AsrEngine engine = OpenInitialized();
            Assert.Equal("[]", AsrProtection.ListItems(engine));
            var e = Assert.Throws<AsrNotFoundException>(() => AsrProtection.GetItem(engine, "VM1"));
            Assert.Contains("VM1", e.Message);
            Assert.Throws<AsrNotFoundException>(() => AsrProtection.ListItemPoints(engine, "VM1"));
        }

        [Fact]
        public void ErrorsMapToTheirExceptions()
        {
            using AsrEngine engine = OpenInitialized();
            // An unknown VM: the job's refusal, NOT_FOUND.
            Assert.Throws<AsrNotFoundException>(() => AsrProtection.EnableProtection(engine, "VM1"));
            Assert.Throws<AsrNotFoundException>(() => AsrProtection.DisableProtection(engine, "VM1", force: true));
            // Arguments the C API refuses.
            var bad = Assert.Throws<AsrInvalidArgumentException>(() => AsrProtection.EnableProtection(engine, "bad\tname"));
            Assert.Contains("request_json.vm", bad.Message);
            var onboard = Assert.Throws<AsrInvalidArgumentException>(
                () => AsrProtection.OnboardProtection(engine, "VM1", "hv-b", Array.Empty<string>()));
            Assert.Contains("replicaDirs", onboard.Message);
            var transport = Assert.Throws<AsrInvalidArgumentException>(() => AsrProtection.SetTransport(engine, "{}"));
            Assert.Contains("pkiDir", transport.Message);
            Assert.Throws<AsrInvalidArgumentException>(() => AsrProtection.SetTransport(engine, "{\"pkiDir\":"));
            AsrProtection.SetTransport(engine, null);
            var options = Assert.Throws<AsrInvalidArgumentException>(() => AsrSiteService.Start(engine, "{\"maxConcurrent\":0}"));
            Assert.Contains("maxConcurrent", options.Message);
            // Managed argument checks happen before the native call.
            Assert.Throws<ArgumentNullException>(() => AsrProtection.EnableProtection(engine, null!));
            Assert.Throws<ArgumentNullException>(() => AsrProtection.OnboardProtection(engine, "VM1", "hv-b", null!));
        }

        [Fact]
        public void SiteServiceStepsAndStops()
        {
            string pki = Path.Combine(Path.GetDirectoryName(_dir.Dir)!, "pki");
            AsrctlTool.Run(AsrctlTool.Path(), $"pki init --dir \"{pki}\" --recovery-san 127.0.0.1");
            using AsrEngine engine = OpenInitialized();
            string settings = "{\"threads\":false,\"transport\":{\"pkiDir\":" + JsonSerializer.Serialize(pki) + "}}";
            using (AsrSiteService site = AsrSiteService.Start(engine, settings))
            {
                // One per engine.
                Assert.Throws<AsrFailedPreconditionException>(() => AsrSiteService.Start(engine, settings));
                site.Step();
                using (JsonDocument stats = JsonDocument.Parse(site.Stats()))
                {
                    Assert.Equal(0, stats.RootElement.GetProperty("protectedItems").GetInt32());
                    Assert.Equal("0", stats.RootElement.GetProperty("cyclesOk").GetString());
                    // The recovery endpoint listens on loopback.
                    Assert.StartsWith("127.0.0.1:", stats.RootElement.GetProperty("endpointAddress").GetString());
                }

                site.Stop();
                site.Stop();
                Assert.Throws<AsrFailedPreconditionException>(() => site.Step());
            }

            // Closed: another may start.
            using AsrSiteService again = AsrSiteService.Start(engine, settings);
            again.Step();
        }

        [Fact]
        public void SiteServiceKeepsItsEngineOpen()
        {
            string pki = Path.Combine(Path.GetDirectoryName(_dir.Dir)!, "pki");
            AsrctlTool.Run(AsrctlTool.Path(), $"pki init --dir \"{pki}\" --recovery-san 127.0.0.1");
            AsrEngine engine = OpenInitialized();
            AsrSiteService site = AsrSiteService.Start(
                engine, "{\"threads\":false,\"transport\":{\"pkiDir\":" + JsonSerializer.Serialize(pki) + "}}");
            // Disposing the engine first does not pull it from under the site service.
            engine.Dispose();
            site.Step();
            site.Dispose();
            Assert.Throws<ObjectDisposedException>(() => site.Step());
        }
    }
}
