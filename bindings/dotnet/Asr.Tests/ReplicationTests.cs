using System;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace Asr.Tests
{
    /// <summary>
    /// The replication binding end to end: an asrctl receiver on loopback mutual
    /// TLS ($ASR_ASRCTL, else bazel-bin/asr/cli/asrctl next to $ASR_NATIVE_DIR),
    /// an initial and a tracked cycle with progress, verification, points and a restore.
    /// </summary>
    public sealed class ReplicationTests : IDisposable
    {
        private readonly string _dir;

        public ReplicationTests()
        {
            _dir = Path.Combine(Path.GetTempPath(), "asr-dotnet-repl-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_dir);
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private static string Asrctl() => AsrctlTool.Path();

        private static string Run(string exe, string args) => AsrctlTool.Run(exe, args);

        [Fact]
        public void MissingReplicaDirectoryIsNotFound()
        {
            Assert.Throws<AsrNotFoundException>(() => AsrReplication.GetRecoveryPointsJson(Path.Combine(_dir, "none")));
            Assert.Throws<AsrNotFoundException>(() => AsrReplication.Restore(Path.Combine(_dir, "none"), 1, Path.Combine(_dir, "x.vhdx")));
            Assert.Throws<AsrNotFoundException>(() => AsrChangeTracker.Open(Path.Combine(_dir, "missing.vhdx")));
        }

        [Fact]
        public void VerifyReplicaChecksItsArguments()
        {
            Assert.Throws<ArgumentNullException>(() => AsrReplication.VerifyReplica(Path.Combine(_dir, "vm.vhdx"), "127.0.0.1", 1, null!));
        }

        [Fact]
        public void CyclesPointsAndRestoreOverMutualTls()
        {
            string asrctl = Asrctl();
            string pki = Path.Combine(_dir, "pki");
            string disk = Path.Combine(_dir, "vm.vhdx");
            string replica = Path.Combine(_dir, "replica");
            string portFile = Path.Combine(_dir, "port");
            // The recovery host's certificate also names the address the tests connect
            // to, which the sender checks by default.
            Run(asrctl, $"pki init --dir \"{pki}\" --recovery-san 127.0.0.1");
            Run(asrctl, $"disk create --format vhdx --type dynamic --size 8M \"{disk}\"");
            Run(asrctl, $"tracker write --disk \"{disk}\" --offset 0 --length 1M --seed 1");
            using var server = Process.Start(new ProcessStartInfo(
                asrctl,
                $"replica serve --listen 127.0.0.1:0 --port-file \"{portFile}\" --dir \"{replica}\" --pki \"{pki}\" --writer primary-host --additional-points 2 --point-interval 0s")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            try
            {
                for (int i = 0; i < 100 && !File.Exists(portFile); i++)
                {
                    System.Threading.Thread.Sleep(100);
                }

                ushort port = ushort.Parse(File.ReadAllText(portFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                var tls = new AsrTlsFiles
                {
                    CertPath = Path.Combine(pki, "primary.pem"),
                    KeyPath = Path.Combine(pki, "primary.key"),
                    CaPath = Path.Combine(pki, "ca.pem"),
                };
                // A receiver must name the expected recovery host: this one is
                // recovery-host, not primary-host.
                var impostorCheck = Assert.Throws<AsrUnauthenticatedException>(() => AsrReplication.RunCycle(
                    disk, "127.0.0.1", port, tls,
                    new AsrReplicationOptions { Mode = AsrReplicationMode.Initial, ExpectedReceiverName = "primary-host" }));
                Assert.Contains("CN=recovery-host", impostorCheck.Message, StringComparison.Ordinal);
                Assert.Contains("primary-host", impostorCheck.Message, StringComparison.Ordinal);
                int progressCalls = 0;
                string initial = AsrReplication.RunCycle(
                    disk, "127.0.0.1", port, tls,
                    new AsrReplicationOptions { Mode = AsrReplicationMode.Initial, ExpectedReceiverName = "recovery-host" },
                    progress: p => progressCalls++);
                Assert.Contains("\"pointId\":\"1\"", initial, StringComparison.Ordinal);
                // One connection: nothing to resume (a broken one is resumed on a new one).
                Assert.Contains("\"attempts\":1", initial, StringComparison.Ordinal);
                Assert.True(progressCalls > 0);

                using (AsrChangeTracker tracker = AsrChangeTracker.Open(disk))
                {
                    tracker.RecordWrite(2 << 20, 10);
                    Assert.Contains("\"changedBlocks\":\"1\"", tracker.GetStatusJson(), StringComparison.Ordinal);
                    string tracked = AsrReplication.RunCycle(
                        disk, "127.0.0.1", port, tls,
                        new AsrReplicationOptions { Mode = AsrReplicationMode.Tracked, AppConsistent = true },
                        tracker);
                    Assert.Contains("\"modeUsed\":\"tracked\"", tracked, StringComparison.Ordinal);
                    Assert.Throws<AsrInvalidArgumentException>(() => tracker.RecordWrite(9 << 20, 1));
                    tracker.Close();
                }

                // Bytes appended to the VHDX behind the tracker's back: it can no longer
                // vouch for the disk. TrackedOnly refuses and says why; otherwise it scans.
                using (FileStream f = new FileStream(disk, FileMode.Append, FileAccess.Write))
                {
                    f.Write(new byte[4096], 0, 4096);
                }

                var refused = Assert.Throws<AsrFailedPreconditionException>(() => AsrReplication.RunCycle(
                    disk, "127.0.0.1", port, tls,
                    new AsrReplicationOptions { Mode = AsrReplicationMode.Tracked, TrackedOnly = true }));
                Assert.Contains("grew from", refused.Message, StringComparison.Ordinal);
                string fallback = AsrReplication.RunCycle(
                    disk, "127.0.0.1", port, tls, new AsrReplicationOptions { Mode = AsrReplicationMode.Tracked });
                Assert.Contains("\"modeUsed\":\"scan\"", fallback, StringComparison.Ordinal);
                Assert.Contains("grew from", fallback, StringComparison.Ordinal);

                string points = AsrReplication.GetRecoveryPointsJson(replica);
                Assert.Contains("\"id\":\"2\"", points, StringComparison.Ordinal);
                Assert.Contains("\"consistency\":\"app\"", points, StringComparison.Ordinal);
                string restored = Path.Combine(_dir, "restored.vhdx");
                AsrReplication.Restore(replica, 1, restored);
                Assert.Throws<AsrAlreadyExistsException>(() => AsrReplication.Restore(replica, 1, restored));
                Run(asrctl, $"disk compare \"{restored}\" \"{disk}\"");

                // The latest point: the fallback scan above committed point 3.
                string verified = AsrReplication.VerifyReplica(disk, "127.0.0.1", port, tls);
                Assert.Contains("\"pointId\":\"3\",", verified, StringComparison.Ordinal);
                Assert.Contains("\"replicaMismatches\":\"0\",", verified, StringComparison.Ordinal);
                Assert.Contains("\"resyncRequired\":false", verified, StringComparison.Ordinal);
                Assert.Contains("\"sourceChecked\":false", AsrReplication.VerifyReplica(disk, "127.0.0.1", port, tls, replicaOnly: true), StringComparison.Ordinal);
                Assert.Throws<AsrFailedPreconditionException>(() => AsrReplication.VerifyReplica(restored, "127.0.0.1", port, tls));

                // The local form on the recovery host, against the replica's own manifest.
                string local = AsrReplicaVerify.VerifyDir(replica);
                Assert.Contains("\"point\":\"3\",", local, StringComparison.Ordinal);
                Assert.Contains("\"manifestRecorded\":true", local, StringComparison.Ordinal);
                Assert.Contains("\"mismatchedBlocks\":\"0\",", local, StringComparison.Ordinal);
                Assert.Contains("\"ok\":true", local, StringComparison.Ordinal);
                Assert.Contains("\"mismatchedBlocks\":\"0\",", AsrReplicaVerify.VerifyDir(replica, 2), StringComparison.Ordinal);
                Assert.Throws<AsrNotFoundException>(() => AsrReplicaVerify.VerifyDir(replica, 99));
                Assert.Throws<AsrNotFoundException>(() => AsrReplicaVerify.VerifyDir(Path.Combine(_dir, "none")));

                var foreign = Path.Combine(_dir, "other");
                Run(asrctl, $"pki init --dir \"{foreign}\"");
                tls.CertPath = Path.Combine(foreign, "primary.pem");
                tls.KeyPath = Path.Combine(foreign, "primary.key");
                Assert.Throws<AsrUnauthenticatedException>(() => AsrReplication.RunCycle(
                    disk, "127.0.0.1", port, tls, new AsrReplicationOptions()));
            }
            finally
            {
                server.Kill();
            }
        }
    }
}
