using System;
using System.Collections.Generic;
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

        /// <summary>
        /// A VM protected with asrctl on a simulated fabric (the site service ran with a
        /// workload), read and then unprotected through the binding: the state asrctl
        /// leaves is the state the binding reads.
        /// </summary>
        [Fact]
        public void ReadsAndDisablesWhatAsrctlProtected()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\" --point-interval 1s");
            run($"site run --pki \"{pki}\" --duration 3s --point-interval 1s");

            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            using (JsonDocument item = JsonDocument.Parse(AsrProtection.GetItem(engine, "VM1")))
            {
                JsonElement r = item.RootElement;
                Assert.Equal("Protected", r.GetProperty("protectionState").GetString());
                Assert.NotEqual("0", r.GetProperty("lastRecoveryPointTimeUnix").GetString());
                Assert.Contains(r.GetProperty("allowedOperations").EnumerateArray(), o => o.GetString() == "DisableProtection");
            }

            using (JsonDocument points = JsonDocument.Parse(AsrProtection.ListItemPoints(engine, "VM1")))
            {
                Assert.True(points.RootElement.GetArrayLength() >= 1);
            }

            using (JsonDocument items = JsonDocument.Parse(AsrProtection.ListItems(engine)))
            {
                Assert.Equal(1, items.RootElement.GetArrayLength());
            }

            // This engine has no host: removing the replica VM needs one, so only a
            // forced disable removes the item (the job says what was left).
            string job = AsrProtection.DisableProtection(engine, "VM1", force: true);
            Assert.Contains("\"scenarioName\":\"DisableProtection\"", job);
            Assert.Equal("[]", AsrProtection.ListItems(engine));
        }
    }
}
