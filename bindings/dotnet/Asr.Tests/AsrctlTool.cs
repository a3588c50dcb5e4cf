using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace Asr.Tests
{
    /// <summary>
    /// The asrctl the tests drive ($ASR_ASRCTL, else bazel-bin/asr/cli/asrctl next to
    /// $ASR_NATIVE_DIR): PKI directories, receivers, fabrics and state made the way a
    /// user makes them.
    /// </summary>
    internal static class AsrctlTool
    {
        /// <summary>
        /// The asrctl executable: $ASR_ASRCTL, else the one `bazel build //asr/cli:asrctl`
        /// left in the repository's bazel-bin; fails the test when it is not built.
        /// </summary>
        internal static string Path()
        {
            string? path = Environment.GetEnvironmentVariable("ASR_ASRCTL");
            if (string.IsNullOrEmpty(path))
            {
                path = RepoFile(System.IO.Path.Combine("bazel-bin", "asr", "cli", "asrctl")) ?? "bazel-bin/asr/cli/asrctl";
            }

            Assert.True(File.Exists(path), $"asrctl not found at {path}; run 'bazel build //asr/cli:asrctl' or set ASR_ASRCTL");
            return path!;
        }

        /// <summary>A path under the repository holding this test's build output, if it exists.</summary>
        internal static string? RepoFile(string relative)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                string candidate = System.IO.Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            return null;
        }

        /// <summary>
        /// Runs <paramref name="exe"/> with <paramref name="args"/> (and <paramref name="environment"/>
        /// added to the environment); fails the test on a non-zero exit.
        /// </summary>
        /// <returns>Standard output followed by standard error.</returns>
        internal static string Run(string exe, string args, IDictionary<string, string>? environment = null)
        {
            var start = new ProcessStartInfo(exe, args)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (environment != null)
            {
                foreach (KeyValuePair<string, string> e in environment)
                {
                    start.Environment[e.Key] = e.Value;
                }
            }

            using var p = Process.Start(start)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"asrctl {args}: {output}");
            return output;
        }

        /// <summary>
        /// Makes the state in <paramref name="dir"/> ready to protect VM1 with asrctl on a
        /// simulated fabric beside it: vault, both VMM servers registered and synced from the
        /// fabric, GoldCloud1 paired with GoldCloud2 under policy "gold" (30 s), networks and
        /// storage mapped, and the vault's certificates.
        /// </summary>
        /// <returns>The PKI directory, and <paramref name="run"/>: runs asrctl with the state
        /// directory, the key file and the fabric.</returns>
        internal static string PrepareProtection(TempStateDir dir, out Func<string, string> run)
        {
            string root = System.IO.Path.GetDirectoryName(dir.Dir)!;
            string fabric = System.IO.Path.Combine(root, "fabric");
            string pki = System.IO.Path.Combine(root, "pki");
            string key = System.IO.Path.Combine(root, "vault.key");
            string asrctl = Path();
            var env = new Dictionary<string, string> { ["ASR_KEY_FILE"] = dir.KeyFile, ["ASR_FABRIC"] = fabric };
            string state = $"--state-dir \"{dir.Dir}\" ";
            run = args => Run(asrctl, state + args, env);
            Run(asrctl, $"fabric init --dir \"{fabric}\" --example --disk-size 16M", env);
            run("init");
            run($"key generate --output \"{key}\"");
            run($"server register --credentials \"{key}\" --friendly-name vmm-ny");
            run($"server register --credentials \"{key}\" --friendly-name vmm-chi --site recovery");
            run("inventory sync --server vmm-ny");
            run("inventory sync --server vmm-chi");
            run("inventory sync --server vmm-ny --cloud GoldCloud1");
            run("inventory sync --server vmm-chi --cloud GoldCloud2");
            run("cloud pair --primary GoldCloud1 --recovery GoldCloud2");
            run("policy create --name gold --replication-provider HyperVReplica2012R2 --replication-frequency-in-seconds 30");
            run("policy associate --policy gold --pairing GoldCloud1");
            run("network-map add --source vmn1-ny --target vmn1-chi");
            run("storage-map add --source sc-gold --target sc-gold-t");
            Run(asrctl, $"pki init --dir \"{pki}\" --recovery-san 127.0.0.1", env);
            return pki;
        }
    }
}
