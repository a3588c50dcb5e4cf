// Helpers shared by every wrapper class: status checking, UTF-8 marshalling
// and buffer reading. A typical wrapper method:
//
//   public string GetThing(string id)
//   {
//       int code = NativeMethods.asr_thing_get(out BufferHandle buffer, Handle, Native.Utf8(id, nameof(id)), 0);
//       return Native.CheckAndTakeString(code, buffer);
//   }
//
//   public void DoThing() => Native.Check(NativeMethods.asr_thing_do(Handle, 0));

using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Asr
{
    /// <summary>Marshalling and error helpers for calls into the native library.</summary>
    internal static class Native
    {
        private static readonly UTF8Encoding StrictUtf8 =
            new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        /// <summary>
        /// Throws the exception mapped from <paramref name="code"/> unless it is
        /// ASR_OK. Call it directly after the native call, on the same thread,
        /// before any other asr_ call: it reads asr_last_error_message() and
        /// asr_last_error_detail().
        /// </summary>
        /// <param name="code">The status code returned by the native call.</param>
        internal static void Check(int code)
        {
            if (code == (int)AsrStatusCode.Ok)
            {
                return;
            }

            throw CreateException(code);
        }

        /// <summary>
        /// The exception for a non-OK <paramref name="code"/>, with the thread's
        /// last error message and its detail (rule, recommended action, job id).
        /// </summary>
        /// <param name="code">The status code returned by the native call.</param>
        /// <returns>The mapped exception.</returns>
        internal static AsrException CreateException(int code)
        {
            string message = PtrToStringUtf8(NativeMethods.asr_last_error_message()) ?? string.Empty;
            if (message.Length == 0)
            {
                message = "asr call failed with " + StatusName(code);
            }

            ErrorDetail detail = ErrorDetail.Parse(PtrToStringUtf8(NativeMethods.asr_last_error_detail()));
            AsrException e = AsrException.Create((AsrStatusCode)code, message);
            e.Rule = detail.Rule;
            e.RecommendedAction = detail.RecommendedAction;
            e.JobId = detail.JobId;
            return e;
        }

        /// <summary>The C name of a status code ("NOT_FOUND", ...), from asr_status_name.</summary>
        /// <param name="code">Any status code.</param>
        /// <returns>The name; "UNKNOWN_CODE" for values outside 0..16.</returns>
        internal static string StatusName(int code) =>
            PtrToStringUtf8(NativeMethods.asr_status_name(code)) ?? "UNKNOWN_CODE";

        /// <summary>
        /// Checks <paramref name="code"/> and then returns the buffer's contents as
        /// a string, disposing the buffer in every case.
        /// </summary>
        /// <param name="code">The status code returned by the native call that filled <paramref name="buffer"/>.</param>
        /// <param name="buffer">The buffer from the call's <c>out</c> parameter.</param>
        /// <returns>The buffer's bytes decoded as UTF-8.</returns>
        internal static string CheckAndTakeString(int code, BufferHandle buffer)
        {
            using (buffer)
            {
                Check(code);
                return ReadString(buffer);
            }
        }

        /// <summary>Returns the buffer's contents as a string and disposes the buffer.</summary>
        /// <param name="buffer">A buffer returned by a successful call.</param>
        /// <returns>The buffer's bytes decoded as UTF-8.</returns>
        internal static string TakeString(BufferHandle buffer)
        {
            using (buffer)
            {
                return ReadString(buffer);
            }
        }

        /// <summary>The buffer's contents decoded as UTF-8 ("" for an empty or invalid buffer).</summary>
        /// <param name="buffer">A buffer; not disposed.</param>
        /// <returns>The decoded text.</returns>
        internal static string ReadString(BufferHandle buffer)
        {
            if (buffer == null || buffer.IsInvalid || buffer.IsClosed)
            {
                return string.Empty;
            }

            IntPtr data = NativeMethods.asr_buffer_data(buffer);
            ulong size = NativeMethods.asr_buffer_size(buffer).ToUInt64();
            if (data == IntPtr.Zero || size == 0)
            {
                return string.Empty;
            }

            if (size > int.MaxValue)
            {
                throw new InvalidOperationException("asr buffer of " + size + " bytes is too large for a string");
            }

            var bytes = new byte[(int)size];
            Marshal.Copy(data, bytes, 0, bytes.Length);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>
        /// Encodes <paramref name="value"/> as NUL-terminated UTF-8 for a
        /// <c>const char*</c> parameter.
        /// </summary>
        /// <param name="value">The string; must not be null or contain NUL characters.</param>
        /// <param name="paramName">The caller's parameter name, for exceptions.</param>
        /// <returns>The UTF-8 bytes followed by a single 0 byte.</returns>
        internal static byte[] Utf8(string value, string paramName)
        {
            if (value == null)
            {
                throw new ArgumentNullException(paramName);
            }

            if (value.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("The string must not contain NUL characters.", paramName);
            }

            byte[] bytes;
            try
            {
                bytes = new byte[StrictUtf8.GetByteCount(value) + 1];
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("The string is not valid UTF-16 (unpaired surrogate).", paramName, e);
            }

            StrictUtf8.GetBytes(value, 0, value.Length, bytes, 0);
            return bytes;
        }

        /// <summary>Reads a NUL-terminated UTF-8 <c>const char*</c>; null for a null pointer.</summary>
        /// <param name="ptr">The native string.</param>
        /// <returns>The decoded string, or null.</returns>
        internal static string? PtrToStringUtf8(IntPtr ptr)
        {
            if (ptr == IntPtr.Zero)
            {
                return null;
            }

            int length = 0;
            while (Marshal.ReadByte(ptr, length) != 0)
            {
                length++;
            }

            if (length == 0)
            {
                return string.Empty;
            }

            var bytes = new byte[length];
            Marshal.Copy(ptr, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }
    }
}
