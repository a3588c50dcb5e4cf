using System;
using System.IO;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Verification and resynchronization through the binding.</summary>
    public sealed class ResyncTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        [Fact]
        public void UnknownItemAndArgumentsAreRefused()
        {
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            Assert.Throws<AsrNotFoundException>(() => AsrResync.VerifyItem(engine, "VM1"));
            Assert.Throws<AsrNotFoundException>(() => AsrResync.ResyncItem(engine, "VM1"));
            Assert.Throws<ArgumentNullException>(() => AsrResync.VerifyItem(engine, null!));
            Assert.Throws<AsrInvalidArgumentException>(() => AsrResync.VerifyItem(engine, "bad\tname"));
        }

        /// <summary>
        /// A VM protected with asrctl: its replicas verified through the binding against a
        /// recovery endpoint of this engine's site service (real VHDX replicas over TLS).
        /// </summary>
        [Fact]
        public void VerifiesTheReplicasOfAProtectedVm()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\" --point-interval 1s");

            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            // Without a transport: refused, saying how to set one.
            var none = Assert.Throws<AsrFailedPreconditionException>(() => AsrResync.VerifyItem(engine, "VM1"));
            Assert.Contains("transport", none.Message);
            string transport = "{\"pkiDir\":" + JsonSerializer.Serialize(pki) + "}";
            using AsrSiteService site = AsrSiteService.Start(
                engine, "{\"threads\":false,\"replicate\":false,\"transport\":" + transport + "}");

            using (JsonDocument v = JsonDocument.Parse(AsrResync.VerifyItem(engine, "VM1")))
            {
                JsonElement r = v.RootElement;
                Assert.False(r.GetProperty("resyncRequired").GetBoolean());
                Assert.Contains("matches what was replicated", r.GetProperty("reason").GetString());
                Assert.True(r.GetProperty("disks").GetArrayLength() >= 1);
                foreach (JsonElement d in r.GetProperty("disks").EnumerateArray())
                {
                    Assert.NotEqual("0", d.GetProperty("blocksChecked").GetString());
                    Assert.Equal("0", d.GetProperty("replicaMismatches").GetString());
                }
            }

            using (JsonDocument item = JsonDocument.Parse(AsrProtection.GetItem(engine, "VM1")))
            {
                Assert.Equal("None", item.RootElement.GetProperty("resyncState").GetString());
                Assert.NotEqual("0", item.RootElement.GetProperty("lastVerificationTimeUnix").GetString());
            }

            // Nothing to repair: RepairReplication is not allowed now.
            var refused = Assert.Throws<AsrFailedPreconditionException>(() => AsrResync.ResyncItem(engine, "VM1"));
            Assert.Contains("RepairReplication", refused.Message);
        }
    }
}
