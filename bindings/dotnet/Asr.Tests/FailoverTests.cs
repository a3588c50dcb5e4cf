using System;
using System.Text.Json;
using Xunit;

namespace Asr.Tests
{
    /// <summary>Failover through the binding: errors, and the failover state asrctl leaves read back.</summary>
    public sealed class FailoverTests : IDisposable
    {
        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        [Fact]
        public void ErrorsMapToTheirExceptions()
        {
            using AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options);
            engine.Initialize();
            Assert.Throws<AsrNotFoundException>(() => AsrFailover.PlannedFailover(engine, "VM1"));
            var op = Assert.Throws<AsrInvalidArgumentException>(() => AsrFailover.Start(engine, "Teleport", "{\"itemId\":\"VM1\"}"));
            Assert.Contains("unknown failover operation", op.Message);
            Assert.Throws<AsrInvalidArgumentException>(() => AsrFailover.Start(engine, "Commit", "{\"itemId\":"));
            var item = Assert.Throws<AsrInvalidArgumentException>(() => AsrFailover.Start(engine, "Commit", "{}"));
            Assert.Contains("itemId", item.Message);
            Assert.Throws<ArgumentNullException>(() => AsrFailover.Commit(engine, null!));
        }

        /// <summary>
        /// A VM protected, test-failed-over and failed over with asrctl on a simulated fabric:
        /// the binding reads the item's failover state, and refuses what its state does not allow.
        /// </summary>
        [Fact]
        public void ReadsTheFailoverStateAsrctlLeft()
        {
            string pki = AsrctlTool.PrepareProtection(_dir, out Func<string, string> run);
            run($"protect enable --vm VM1 --pki \"{pki}\" --point-interval 1s");
            run($"failover test VM1 --network Isolated --pki \"{pki}\"");
            using (AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options))
            {
                using JsonDocument doc = JsonDocument.Parse(AsrProtection.GetItem(engine, "VM1"));
                JsonElement r = doc.RootElement;
                Assert.Equal("Protected", r.GetProperty("protectionState").GetString());
                Assert.Equal("TestFailoverCompleted", r.GetProperty("testFailoverState").GetString());
                Assert.Contains(r.GetProperty("allowedOperations").EnumerateArray(), o => o.GetString() == "TestFailoverCleanup");
                var again = Assert.Throws<AsrFailedPreconditionException>(() => AsrFailover.TestFailover(engine, "VM1"));
                Assert.Contains("TestFailover is not allowed", again.Message);
            }

            run($"failover cleanup VM1 --pki \"{pki}\"");
            run($"failover planned VM1 --pki \"{pki}\" --point-interval 1s");
            using (AsrEngine engine = AsrEngine.Open(_dir.Dir, _dir.Options))
            {
                using JsonDocument doc = JsonDocument.Parse(AsrProtection.GetItem(engine, "VM1"));
                JsonElement r = doc.RootElement;
                Assert.Equal("PlannedFailoverCompleted", r.GetProperty("protectionState").GetString());
                Assert.Equal("Recovery", r.GetProperty("activeLocation").GetString());
                Assert.Equal("None", r.GetProperty("testFailoverState").GetString());
                Assert.NotEqual("0", r.GetProperty("lastSuccessfulFailoverTimeUnix").GetString());
                var change = Assert.Throws<AsrFailedPreconditionException>(() => AsrFailover.ChangeRecoveryPoint(engine, "VM1", "pi-vm1-p00000001"));
                Assert.Contains("allowed now: Commit, CancelFailover", change.Message);
            }
        }
    }
}
