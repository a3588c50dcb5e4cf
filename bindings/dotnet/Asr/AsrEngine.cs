using System;

namespace Asr
{
    /// <summary>
    /// An asr engine over one state directory (<c>asr_engine_t</c>): the store of
    /// Site Recovery objects (vaults, sites, clouds, policies, ...), which cross
    /// the boundary as UTF-8 JSON in the proto3 JSON mapping of the model.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Thread safety: an engine may be used from several threads at once.
    /// <see cref="Dispose"/> may be called from any thread; the native engine is
    /// closed only after every call already in progress on it has returned,
    /// and calls made after <see cref="Dispose"/> throw
    /// <see cref="ObjectDisposedException"/>.
    /// </para>
    /// <para>
    /// Only one process may open a state directory for writing at a time (a
    /// second open, even in the same process, fails with
    /// <see cref="AsrFailedPreconditionException"/> naming the holder's PID), so
    /// dispose engines promptly.
    /// </para>
    /// <para>
    /// Errors raise <see cref="AsrException"/> subclasses carrying the native
    /// message; null arguments raise <see cref="ArgumentNullException"/>.
    /// </para>
    /// </remarks>
    public sealed partial class AsrEngine : IDisposable
    {
        private readonly EngineHandle _handle;

        private AsrEngine(EngineHandle handle, string stateDirectory)
        {
            _handle = handle;
            StateDirectory = stateDirectory;
        }

        /// <summary>The state directory passed to <see cref="Open(string, AsrEngineOptions)"/>.</summary>
        public string StateDirectory { get; }

        /// <summary>True once <see cref="Dispose"/> has been called.</summary>
        public bool IsDisposed => _handle.IsClosed;

        /// <summary>The native handle, for wrapper classes in this assembly.</summary>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        internal EngineHandle Handle
        {
            get
            {
                if (_handle.IsClosed)
                {
                    throw new ObjectDisposedException(nameof(AsrEngine));
                }

                return _handle;
            }
        }

        /// <summary>
        /// Opens (and recovers) the state in <paramref name="stateDir"/>
        /// (<c>asr_engine_open</c>).
        /// </summary>
        /// <param name="stateDir">
        /// The state directory. A relative path resolves against the process's
        /// current directory (PowerShell callers resolve against $PWD first).
        /// </param>
        /// <param name="options">Options; null for the defaults.</param>
        /// <returns>The open engine; dispose it to release the directory.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="stateDir"/> is null.</exception>
        /// <exception cref="AsrFailedPreconditionException">
        /// The directory is in use by another engine (the message names its PID),
        /// or it was written by a newer version.
        /// </exception>
        /// <exception cref="AsrDataLossException">The state is damaged (the message names file and offset).</exception>
        /// <exception cref="AsrNotFoundException">The directory is missing and <see cref="AsrEngineOptions.CreateIfMissing"/> is false.</exception>
        public static AsrEngine Open(string stateDir, AsrEngineOptions? options = null)
        {
            byte[] dir = Native.Utf8(stateDir, nameof(stateDir));
            options ??= new AsrEngineOptions();
            AsrEngineOptionsNative native = options.ToNative();
            int code = NativeMethods.asr_engine_open(out EngineHandle handle, dir, ref native, 0);
            try
            {
                Native.Check(code);
                if (options.KeyFile != null)
                {
                    byte[] keyFile = Native.Utf8(options.KeyFile, nameof(options.KeyFile));
                    Native.Check(NativeMethods.asr_engine_set_key_file(handle, keyFile, 0));
                }
            }
            catch
            {
                handle.Dispose();
                throw;
            }

            return new AsrEngine(handle, stateDir);
        }

        /// <summary>
        /// Sets (or with null removes) the key file of the key-encryption key
        /// that wraps the vault's keys (<c>asr_engine_set_key_file</c>); see
        /// <see cref="AsrEngineOptions.KeyFile"/>.
        /// </summary>
        /// <param name="path">The key file, or null.</param>
        /// <exception cref="AsrException">The native call failed.</exception>
        public void SetKeyFile(string? path) =>
            Native.Check(NativeMethods.asr_engine_set_key_file(
                Handle, path == null ? null : Native.Utf8(path, nameof(path)), 0));

        /// <summary>
        /// Makes the state ready for use (creates the sites "primary" and
        /// "recovery"); idempotent (<c>asr_engine_initialize</c>).
        /// </summary>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="AsrException">The native call failed.</exception>
        public void Initialize() => Native.Check(NativeMethods.asr_engine_initialize(Handle, 0));

        /// <summary>
        /// Stores an object of <paramref name="kind"/>, replacing one with the same
        /// id (<c>asr_object_put</c>).
        /// </summary>
        /// <param name="kind">An inventory kind ("cloud", "host-group", "host", "vm", "vm-network",
        /// "logical-network", "storage-classification") or "protected-item"; the kinds that domain
        /// rules guard (pairings, policies, mappings, jobs, ...) are written only by their operations.</param>
        /// <param name="json">The object as JSON (proto3 JSON mapping); its "id" must be set.</param>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="AsrInvalidArgumentException">Unknown kind, bad JSON or fields (the message names them).</exception>
        /// <exception cref="AsrFailedPreconditionException">The engine is read-only, or the kind is written
        /// only by its operations (<see cref="AsrException.Rule"/> "RawObjectAccessFenced",
        /// <see cref="AsrException.RecommendedAction"/> names the call to use).</exception>
        public void PutObject(string kind, string json)
        {
            byte[] kindBytes = Native.Utf8(kind, nameof(kind));
            byte[] jsonBytes = Native.Utf8(json, nameof(json));
            Native.Check(NativeMethods.asr_object_put(Handle, kindBytes, jsonBytes, 0));
        }

        /// <summary>Returns one object as JSON (<c>asr_object_get</c>).</summary>
        /// <param name="kind">The object kind.</param>
        /// <param name="id">The object's id.</param>
        /// <returns>The object in the proto3 JSON mapping.</returns>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="AsrNotFoundException">No object of that kind has that id.</exception>
        /// <exception cref="AsrInvalidArgumentException">Unknown kind or bad id.</exception>
        public string GetObject(string kind, string id)
        {
            byte[] kindBytes = Native.Utf8(kind, nameof(kind));
            byte[] idBytes = Native.Utf8(id, nameof(id));
            int code = NativeMethods.asr_object_get(out BufferHandle buffer, Handle, kindBytes, idBytes, 0);
            return Native.CheckAndTakeString(code, buffer);
        }

        /// <summary>Returns all objects of a kind as a JSON array, in id order (<c>asr_object_list</c>).</summary>
        /// <param name="kind">The object kind.</param>
        /// <returns>A JSON array (proto3 JSON mapping); "[]" when there are none.</returns>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="AsrInvalidArgumentException">Unknown kind.</exception>
        public string ListObjects(string kind)
        {
            byte[] kindBytes = Native.Utf8(kind, nameof(kind));
            int code = NativeMethods.asr_object_list(out BufferHandle buffer, Handle, kindBytes, 0);
            return Native.CheckAndTakeString(code, buffer);
        }

        /// <summary>Removes an object (<c>asr_object_delete</c>).</summary>
        /// <param name="kind">The object kind.</param>
        /// <param name="id">The object's id.</param>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="AsrNotFoundException">No object of that kind has that id.</exception>
        /// <exception cref="AsrInvalidArgumentException">Unknown kind or bad id.</exception>
        /// <exception cref="AsrFailedPreconditionException">The engine is read-only, or the kind is
        /// written only by its operations (see <see cref="PutObject"/>).</exception>
        public void DeleteObject(string kind, string id)
        {
            byte[] kindBytes = Native.Utf8(kind, nameof(kind));
            byte[] idBytes = Native.Utf8(id, nameof(id));
            Native.Check(NativeMethods.asr_object_delete(Handle, kindBytes, idBytes, 0));
        }

        /// <summary>
        /// Closes the engine and releases the state directory
        /// (<c>asr_engine_close</c>) once calls in progress have returned.
        /// Safe to call more than once.
        /// </summary>
        public void Dispose() => _handle.Dispose();
    }
}
