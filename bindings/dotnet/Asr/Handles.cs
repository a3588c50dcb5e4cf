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
}
