namespace Asr
{
    /// <summary>
    /// Status codes of the asr C API. The values equal the <c>ASR_*</c> codes in
    /// asr.h (and absl::StatusCode) and never change.
    /// </summary>
    public enum AsrStatusCode
    {
        /// <summary>ASR_OK: success.</summary>
        Ok = 0,

        /// <summary>ASR_CANCELLED: the operation was cancelled.</summary>
        Cancelled = 1,

        /// <summary>ASR_UNKNOWN: an unknown error.</summary>
        Unknown = 2,

        /// <summary>ASR_INVALID_ARGUMENT: a bad argument (unknown kind, bad JSON, ...).</summary>
        InvalidArgument = 3,

        /// <summary>ASR_DEADLINE_EXCEEDED: a deadline expired.</summary>
        DeadlineExceeded = 4,

        /// <summary>ASR_NOT_FOUND: the object or directory does not exist.</summary>
        NotFound = 5,

        /// <summary>ASR_ALREADY_EXISTS: the object already exists.</summary>
        AlreadyExists = 6,

        /// <summary>ASR_PERMISSION_DENIED: the caller may not do this.</summary>
        PermissionDenied = 7,

        /// <summary>ASR_RESOURCE_EXHAUSTED: out of memory or another resource.</summary>
        ResourceExhausted = 8,

        /// <summary>ASR_FAILED_PRECONDITION: the system is not in a state to do this.</summary>
        FailedPrecondition = 9,

        /// <summary>ASR_ABORTED: the operation was aborted (e.g. a conflict).</summary>
        Aborted = 10,

        /// <summary>ASR_OUT_OF_RANGE: a value was out of range.</summary>
        OutOfRange = 11,

        /// <summary>ASR_UNIMPLEMENTED: not implemented.</summary>
        Unimplemented = 12,

        /// <summary>ASR_INTERNAL: an internal error.</summary>
        Internal = 13,

        /// <summary>ASR_UNAVAILABLE: a service is unavailable; retrying may help.</summary>
        Unavailable = 14,

        /// <summary>ASR_DATA_LOSS: stored data is damaged.</summary>
        DataLoss = 15,

        /// <summary>ASR_UNAUTHENTICATED: the caller is not authenticated.</summary>
        Unauthenticated = 16,
    }
}
