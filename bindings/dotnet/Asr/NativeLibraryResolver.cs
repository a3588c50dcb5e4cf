// Finds the native library (libasr.so / asr.dll / libasr.dylib) for the
// binding's DllImport("asr"), so that neither LD_LIBRARY_PATH nor PATH has
// to name it. Installed by NativeMethods' static constructor, before the first
// native call.
//
// Where it looks, in order:
//   1. $ASR_NATIVE_DIR, when set (a directory holding the library);
//   2. runtimes/<rid>/native/ next to Asr.dll (the NuGet package's layout,
//      kept there by "dotnet build" of a project that references the package
//      without a RuntimeIdentifier, and by the binding's own test project);
//   3. next to Asr.dll (where a RID-specific publish puts it);
//   4. the platform's usual search (LD_LIBRARY_PATH, PATH, ...).
// When none has it, the DllNotFoundException says where it looked and how to
// build the library.
//
// On .NET (Core) 3.0 and later the resolver is NativeLibrary's
// DllImportResolver, reached by reflection since netstandard2.0 lacks it. On
// .NET Framework (Windows PowerShell 5.1) the library is loaded once with
// LoadLibraryEx, after which DllImport("asr") binds to the loaded module.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Asr
{
    /// <summary>Resolves DllImport("asr") to the native library that ships with the binding.</summary>
    internal static class NativeLibraryResolver
    {
        /// <summary>The environment variable naming a directory that holds the native library.</summary>
        internal const string DirVariable = "ASR_NATIVE_DIR";

        private static int _installed;

        /// <summary>The file name of the native library on this platform.</summary>
        internal static string FileName =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "asr.dll"
            : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libasr.dylib"
            : "libasr.so";

        /// <summary>The runtime identifier of the native folder ("linux-x64", "win-x64", ...).</summary>
        internal static string RuntimeIdentifier
        {
            get
            {
                string os = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win"
                    : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx"
                    : "linux";
                string arch = RuntimeInformation.ProcessArchitecture switch
                {
                    Architecture.X64 => "x64",
                    Architecture.X86 => "x86",
                    Architecture.Arm64 => "arm64",
                    Architecture.Arm => "arm",
                    _ => RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(),
                };
                return os + "-" + arch;
            }
        }

        /// <summary>Installs the resolver once; called by the module initializer.</summary>
        internal static void Install()
        {
            if (System.Threading.Interlocked.Exchange(ref _installed, 1) != 0)
            {
                return;
            }

            Type? nativeLibrary = Type.GetType("System.Runtime.InteropServices.NativeLibrary", throwOnError: false);
            if (nativeLibrary != null)
            {
                InstallResolver(nativeLibrary);
            }
            else if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                // .NET Framework: load it by full path now; DllImport finds the loaded module.
                string? path = Candidates().FirstOrDefault(File.Exists);
                if (path != null)
                {
                    LoadLibraryExW(path, IntPtr.Zero, LoadWithAlteredSearchPath);
                }
            }
        }

        /// <summary>The files tried before the platform's own search, in order.</summary>
        internal static IEnumerable<string> Candidates()
        {
            string? dir = Environment.GetEnvironmentVariable(DirVariable);
            if (!string.IsNullOrEmpty(dir))
            {
                yield return Path.Combine(dir, FileName);
            }

            string? here = AssemblyDirectory();
            if (here != null)
            {
                yield return Path.Combine(here, "runtimes", RuntimeIdentifier, "native", FileName);
                yield return Path.Combine(here, FileName);
            }
        }

        /// <summary>The message of the DllNotFoundException raised when no candidate loads.</summary>
        internal static string NotFoundMessage(string? lastError) =>
            $"The asr native library ({FileName}) was not found. Looked in: " +
            string.Join(", ", Candidates()) + ", then the platform's search path" +
            (lastError == null ? "" : " (" + lastError + ")") + ". " +
            "Install the Asr NuGet package (it carries runtimes/" + RuntimeIdentifier + "/native/" + FileName + "), " +
            "or build it with 'bazel build //capi:libasr.so' and rebuild the project (or set " + DirVariable +
            " to the directory holding it).";

        private static string? AssemblyDirectory()
        {
            string location = typeof(NativeLibraryResolver).Assembly.Location;
            return string.IsNullOrEmpty(location) ? null : Path.GetDirectoryName(location);
        }

        private static void InstallResolver(Type nativeLibrary)
        {
            Type? resolverType = Type.GetType("System.Runtime.InteropServices.DllImportResolver", throwOnError: false);
            MethodInfo? set = nativeLibrary.GetMethod("SetDllImportResolver", new[] { typeof(Assembly), resolverType! });
            MethodInfo? tryLoadPath = nativeLibrary.GetMethod("TryLoad", new[] { typeof(string), typeof(IntPtr).MakeByRefType() });
            MethodInfo? tryLoadSearch = nativeLibrary.GetMethod(
                "TryLoad", new[] { typeof(string), typeof(Assembly), typeof(DllImportSearchPath?), typeof(IntPtr).MakeByRefType() });
            if (resolverType == null || set == null || tryLoadPath == null || tryLoadSearch == null)
            {
                return;
            }

            Func<string, Assembly, DllImportSearchPath?, IntPtr> resolve = (name, assembly, searchPath) =>
            {
                if (name != NativeMethods.LibraryName)
                {
                    return IntPtr.Zero;
                }

                string? lastError = null;
                foreach (string path in Candidates())
                {
                    if (!File.Exists(path))
                    {
                        continue;
                    }

                    object?[] args = { path, IntPtr.Zero };
                    if ((bool)tryLoadPath.Invoke(null, args)!)
                    {
                        return (IntPtr)args[1]!;
                    }

                    lastError = path + " exists but did not load: check that it is built for " + RuntimeIdentifier;
                }

                object?[] search = { name, assembly, searchPath, IntPtr.Zero };
                if ((bool)tryLoadSearch.Invoke(null, search)!)
                {
                    return (IntPtr)search[3]!;
                }

                throw new DllNotFoundException(NotFoundMessage(lastError));
            };
            Delegate resolver = Delegate.CreateDelegate(resolverType, resolve.Target, resolve.Method);
            try
            {
                set.Invoke(null, new object[] { typeof(NativeLibraryResolver).Assembly, resolver });
            }
            catch (TargetInvocationException e) when (e.InnerException is InvalidOperationException)
            {
                // A resolver is already set for this assembly (by the host): keep it.
            }
        }

        private const uint LoadWithAlteredSearchPath = 0x00000008;

        [DllImport("kernel32", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        private static extern IntPtr LoadLibraryExW(string path, IntPtr file, uint flags);
    }
}
