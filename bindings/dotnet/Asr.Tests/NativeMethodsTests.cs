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
