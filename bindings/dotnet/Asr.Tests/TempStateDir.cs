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
