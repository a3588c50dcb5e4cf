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
        /// <summary>The asrctl executable; fails the test when it is not built.</summary>
        internal static string Path()
        {
            string? path = Environment.GetEnvironmentVariable("ASR_ASRCTL");
            if (string.IsNullOrEmpty(path))
            {
                string? native = Environment.GetEnvironmentVariable(NativeLibraryLoader.DirVariable);
                path = native == null ? "asrctl" : System.IO.Path.Combine(native, "..", "asr", "cli", "asrctl");
            }

            Assert.True(File.Exists(path), $"asrctl not found at {path}; build //asr/cli:asrctl or set ASR_ASRCTL");
            return path!;
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
    }
}
