// One SafeHandle per opaque C type. Each releases its handle with the
// matching close/dispose function, exactly once, after every in-flight call
// that uses it has returned (SafeHandle reference counting guarantees this).
//
// To add a type asr_thing_t released by asr_thing_close: copy EngineHandle,
// rename it ThingHandle, and call asr_thing_close in ReleaseHandle.

using System;
using System.Runtime.InteropServices;

namespace Asr
{
    /// <summary>Owns an <c>asr_engine_t*</c>; released with <c>asr_engine_close</c>.</summary>
    internal sealed class EngineHandle : SafeHandle
    {
        /// <summary>Made by the marshaller for <c>out EngineHandle</c> parameters.</summary>
        public EngineHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        /// <inheritdoc />
        public override bool IsInvalid => handle == IntPtr.Zero;

        /// <inheritdoc />
        protected override bool ReleaseHandle()
        {
            NativeMethods.asr_engine_close(handle);
            return true;
        }
    }

    /// <summary>Owns an <c>asr_buffer_t*</c>; released with <c>asr_buffer_dispose</c>.</summary>
    internal sealed class BufferHandle : SafeHandle
    {
        /// <summary>Made by the marshaller for <c>out BufferHandle</c> parameters.</summary>
        public BufferHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        /// <inheritdoc />
        public override bool IsInvalid => handle == IntPtr.Zero;

        /// <inheritdoc />
        protected override bool ReleaseHandle()
        {
            NativeMethods.asr_buffer_dispose(handle);
            return true;
        }
    }

    /// <summary>
    /// Owns an <c>asr_site_service_t*</c>; released with <c>asr_site_service_close</c>.
    /// It holds a reference on its engine's handle (<see cref="HoldEngine"/>), so the
    /// engine is closed only after the site service that runs over it.
    /// </summary>
    internal sealed class SiteServiceHandle : SafeHandle
    {
        private EngineHandle? _engine;

        /// <summary>Made by the marshaller for <c>out SiteServiceHandle</c> parameters.</summary>
        public SiteServiceHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        /// <inheritdoc />
        public override bool IsInvalid => handle == IntPtr.Zero;

        /// <summary>Keeps <paramref name="engine"/> open until this handle is released.</summary>
        internal void HoldEngine(EngineHandle engine)
        {
            bool added = false;
            engine.DangerousAddRef(ref added);
            if (added)
            {
                _engine = engine;
            }
        }

        /// <inheritdoc />
        protected override bool ReleaseHandle()
        {
            NativeMethods.asr_site_service_close(handle);
            _engine?.DangerousRelease();
            _engine = null;
            return true;
        }
    }
}
