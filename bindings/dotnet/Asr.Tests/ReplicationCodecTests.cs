using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;
using Xunit;

namespace Asr.Tests
{
    /// <summary>
    /// The replication codec from .NET: scan cycles whose changes repeat the same
    /// 512 KiB at two places, with the classic and the long codec, against an asrctl
    /// receiver on loopback mutual TLS; the JSON names the codec, the long one sends
    /// fewer bytes, and the replica equals the disk after each.
    /// </summary>
    public sealed class ReplicationCodecTests : IDisposable
    {
        private readonly string _dir;

        public ReplicationCodecTests()
        {
            _dir = Path.Combine(Path.GetTempPath(), "asr-dotnet-codec-" + Guid.NewGuid().ToString("N"));
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

        private static ulong BytesSent(string json) =>
            ulong.Parse(Regex.Match(json, "\"bytesSent\":\"(\\d+)\"").Groups[1].Value, CultureInfo.InvariantCulture);

        [Fact]
        public void LongCodecSendsRepeatedDataOnce()
        {
            string asrctl = AsrctlTool.Path();
            string pki = Path.Combine(_dir, "pki");
            string disk = Path.Combine(_dir, "vm.vhdx");
            string replica = Path.Combine(_dir, "replica");
            string portFile = Path.Combine(_dir, "port");
            AsrctlTool.Run(asrctl, $"pki init --dir \"{pki}\" --recovery-san 127.0.0.1");
            AsrctlTool.Run(asrctl, $"disk create --format vhdx --type dynamic --size 8M \"{disk}\"");
            AsrctlTool.Run(asrctl, $"tracker write --disk \"{disk}\" --offset 0 --length 1M --seed 1");
            using var server = Process.Start(new ProcessStartInfo(
                asrctl,
                $"replica serve --listen 127.0.0.1:0 --port-file \"{portFile}\" --dir \"{replica}\" --pki \"{pki}\" --writer primary-host --point-interval 0s")
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

                ushort port = ushort.Parse(File.ReadAllText(portFile).Trim(), CultureInfo.InvariantCulture);
                var tls = new AsrTlsFiles
                {
                    CertPath = Path.Combine(pki, "primary.pem"),
                    KeyPath = Path.Combine(pki, "primary.key"),
                    CaPath = Path.Combine(pki, "ca.pem"),
                };
                string initial = AsrReplication.RunCycle(
                    disk, "127.0.0.1", port, tls,
                    new AsrReplicationOptions { Mode = AsrReplicationMode.Initial, ExpectedReceiverName = "recovery-host" });
                Assert.Contains("\"codec\":\"classic\"", initial, StringComparison.Ordinal);
                Assert.Throws<ArgumentOutOfRangeException>(() => AsrReplication.RunCycle(
                    disk, "127.0.0.1", port, tls,
                    new AsrReplicationOptions { Mode = AsrReplicationMode.Scan, ExpectedReceiverName = "recovery-host", Codec = (AsrReplicationCodec)7 }));

                ulong[] sent = new ulong[2];
                AsrReplicationCodec[] codecs = { AsrReplicationCodec.Classic, AsrReplicationCodec.Long };
                for (int round = 0; round < 2; round++)
                {
                    AsrctlTool.Run(asrctl, $"tracker write --disk \"{disk}\" --offset 2M --length 512K --seed {10 + round}");
                    AsrctlTool.Run(asrctl, $"tracker write --disk \"{disk}\" --offset 6M --length 512K --seed {10 + round}");
                    string json = AsrReplication.RunCycle(
                        disk, "127.0.0.1", port, tls,
                        new AsrReplicationOptions { Mode = AsrReplicationMode.Scan, ExpectedReceiverName = "recovery-host", Codec = codecs[round] });
                    string name = codecs[round] == AsrReplicationCodec.Long ? "long" : "classic";
                    Assert.Contains($"\"codec\":\"{name}\"", json, StringComparison.Ordinal);
                    Assert.Contains("\"bytesChanged\":\"1048576\"", json, StringComparison.Ordinal);
                    sent[round] = BytesSent(json);
                    AsrctlTool.Run(asrctl, $"disk compare \"{disk}\" \"{Path.Combine(replica, "replica.vhdx")}\"");
                }

                Assert.True(sent[1] * 4 < sent[0] * 3, $"long sent {sent[1]} bytes, classic {sent[0]}");
            }
            finally
            {
                if (!server.HasExited)
                {
                    server.Kill();
                }

                server.WaitForExit();
            }
        }
    }
}
