// Exceptions raised for non-OK status codes. Native.Check maps each code to
// one of these types via AsrException.Create; codes without a dedicated type
// become a plain AsrException carrying the code.

using System;

namespace Asr
{
    /// <summary>
    /// An error reported by the asr native library. <see cref="Exception.Message"/>
    /// is the library's message for the failed call, which says what was wrong
    /// and what to do.
    /// </summary>
    public class AsrException : Exception
    {
        /// <summary>Creates an exception for <paramref name="statusCode"/> with <paramref name="message"/>.</summary>
        /// <param name="statusCode">The status code returned by the native call.</param>
        /// <param name="message">The native error message.</param>
        public AsrException(AsrStatusCode statusCode, string message)
            : base(message)
        {
            StatusCode = statusCode;
        }

        /// <summary>The status code returned by the native call.</summary>
        public AsrStatusCode StatusCode { get; }

        /// <summary>
        /// The domain rule that was broken, e.g. "CloudInAtMostOnePairing"
        /// ("" when no rule applies). From asr_last_error_detail().
        /// </summary>
        public string Rule { get; internal set; } = string.Empty;

        /// <summary>What to do about the error ("" when nothing specific).</summary>
        public string RecommendedAction { get; internal set; } = string.Empty;

        /// <summary>
        /// The job the error happened in, e.g. "job-000042", which
        /// <see cref="AsrJobs.Restart"/> runs again once the cause is fixed
        /// ("" when the call ran no job).
        /// </summary>
        public string JobId { get; internal set; } = string.Empty;

        /// <summary>Makes the exception type that matches <paramref name="statusCode"/>.</summary>
        /// <param name="statusCode">A non-OK status code.</param>
        /// <param name="message">The native error message.</param>
        /// <returns>The matching subclass, or a plain <see cref="AsrException"/>.</returns>
        public static AsrException Create(AsrStatusCode statusCode, string message)
        {
            switch (statusCode)
            {
                case AsrStatusCode.InvalidArgument:
                    return new AsrInvalidArgumentException(message);
                case AsrStatusCode.NotFound:
                    return new AsrNotFoundException(message);
                case AsrStatusCode.AlreadyExists:
                    return new AsrAlreadyExistsException(message);
                case AsrStatusCode.PermissionDenied:
                    return new AsrPermissionDeniedException(message);
                case AsrStatusCode.FailedPrecondition:
                    return new AsrFailedPreconditionException(message);
                case AsrStatusCode.Unavailable:
                    return new AsrUnavailableException(message);
                case AsrStatusCode.DataLoss:
                    return new AsrDataLossException(message);
                case AsrStatusCode.Unauthenticated:
                    return new AsrUnauthenticatedException(message);
                default:
                    return new AsrException(statusCode, message);
            }
        }
    }

    /// <summary>ASR_INVALID_ARGUMENT: a bad argument; the message names it.</summary>
    public class AsrInvalidArgumentException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrInvalidArgumentException(string message)
            : base(AsrStatusCode.InvalidArgument, message)
        {
        }
    }

    /// <summary>ASR_NOT_FOUND: the object (or state directory) does not exist.</summary>
    public class AsrNotFoundException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrNotFoundException(string message)
            : base(AsrStatusCode.NotFound, message)
        {
        }
    }

    /// <summary>ASR_ALREADY_EXISTS: the object already exists.</summary>
    public class AsrAlreadyExistsException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrAlreadyExistsException(string message)
            : base(AsrStatusCode.AlreadyExists, message)
        {
        }
    }

    /// <summary>ASR_PERMISSION_DENIED: the caller may not do this.</summary>
    public class AsrPermissionDeniedException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrPermissionDeniedException(string message)
            : base(AsrStatusCode.PermissionDenied, message)
        {
        }
    }

    /// <summary>
    /// ASR_FAILED_PRECONDITION: the state does not allow this (e.g. the state
    /// directory is in use by another process, or the engine is read-only).
    /// </summary>
    public class AsrFailedPreconditionException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrFailedPreconditionException(string message)
            : base(AsrStatusCode.FailedPrecondition, message)
        {
        }
    }

    /// <summary>ASR_UNAVAILABLE: a service is unavailable; retrying later may help.</summary>
    public class AsrUnavailableException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrUnavailableException(string message)
            : base(AsrStatusCode.Unavailable, message)
        {
        }
    }

    /// <summary>ASR_DATA_LOSS: stored state is damaged; the message names file and offset.</summary>
    public class AsrDataLossException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrDataLossException(string message)
            : base(AsrStatusCode.DataLoss, message)
        {
        }
    }

    /// <summary>ASR_UNAUTHENTICATED: the caller is not authenticated.</summary>
    public class AsrUnauthenticatedException : AsrException
    {
        /// <summary>Creates the exception with the native <paramref name="message"/>.</summary>
        /// <param name="message">The native error message.</param>
        public AsrUnauthenticatedException(string message)
            : base(AsrStatusCode.Unauthenticated, message)
        {
        }
    }
}
