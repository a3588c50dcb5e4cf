// Points the binding's DllImport("asr") at $ASR_NATIVE_DIR when it is set
// (test.sh sets it to bazel-bin/capi). Without it, the platform loader's
// usual search applies (LD_LIBRARY_PATH on Linux). The binding itself targets
// netstandard2.0, which has no NativeLibrary, so the resolver lives here.

using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Asr.Tests
{
    internal static class NativeLibraryLoader
    {
        /// <summary>The environment variable naming the directory holding libasr.so.</summary>
        internal const string DirVariable = "ASR_NATIVE_DIR";

        [ModuleInitializer]
        internal static void Install() =>
            NativeLibrary.SetDllImportResolver(typeof(AsrEngine).Assembly, Resolve);

        private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (libraryName != "asr")
            {
                return IntPtr.Zero;
            }

            string? dir = Environment.GetEnvironmentVariable(DirVariable);
            if (string.IsNullOrEmpty(dir))
            {
                return IntPtr.Zero; // default search
            }

            string file = OperatingSystem.IsWindows() ? "asr.dll"
                : OperatingSystem.IsMacOS() ? "libasr.dylib"
                : "libasr.so";
            string path = Path.Combine(dir, file);
            if (!File.Exists(path))
            {
                throw new DllNotFoundException($"{DirVariable} is '{dir}' but {path} does not exist; build it with 'bazel build //capi:libasr.so'");
            }

            return NativeLibrary.Load(path);
        }
    }
}
