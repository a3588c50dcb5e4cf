using System;
using System.IO;

namespace Asr.Tests
{
    /// <summary>A fresh, not yet existing state directory under the temp directory, deleted on dispose.</summary>
    internal sealed class TempStateDir : IDisposable
    {
        private readonly string _root;

        public TempStateDir()
        {
            _root = Path.Combine(Path.GetTempPath(), "asr-dotnet-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_root);
            Dir = Path.Combine(_root, "state");
        }

        /// <summary>The state directory (created by the engine).</summary>
        public string Dir { get; }

        /// <summary>
        /// A key file (mode 0600) beside the state directory, created on first
        /// use, as <c>asrctl key-provider init</c> makes one.
        /// </summary>
        public string KeyFile
        {
            get
            {
                string path = Path.Combine(_root, "kek");
                if (!File.Exists(path))
                {
                    var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                    if (!OperatingSystem.IsWindows())
                    {
                        options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                    }

                    using var stream = new FileStream(path, options);
                    byte[] hex = System.Text.Encoding.ASCII.GetBytes(
                        Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) + "\n");
                    stream.Write(hex, 0, hex.Length);
                }

                return path;
            }
        }

        /// <summary>Engine options with <see cref="KeyFile"/>.</summary>
        public AsrEngineOptions Options => new AsrEngineOptions { KeyFile = KeyFile };

        public void Dispose()
        {
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
