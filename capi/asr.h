/* asr.h: the stable C API of asr, an embeddable Site Recovery core.
 *
 * A VMM-hosted provider DLL links this API, and PowerShell reaches it through
 * the .NET binding (bindings/dotnet). Conventions:
 *
 *  - Every function returns an int status code equal to the absl::StatusCode
 *    value (ASR_OK == 0, ...). On failure, asr_last_error_message() returns a
 *    message for the calling thread saying what was wrong and what to do.
 *    No C++ exception ever crosses this boundary.
 *  - Outputs come first and are named `out`; objects are opaque handles made
 *    by a create/open call and released by the matching close/dispose call,
 *    which accepts NULL.
 *  - Data returned to the caller lives in a library-owned asr_buffer_t,
 *    released with asr_buffer_dispose (never free() across the boundary).
 *  - Rich objects (clouds, policies, jobs, ...) cross as UTF-8 JSON in the
 *    proto3 JSON mapping of the model (the .proto files in asr/model).
 *  - Calls that may grow take a uint32_t `flags`; pass 0.
 *  - Option structs start with uint32_t struct_size and are initialized with
 *    their ..._INIT macro; fields are only ever appended.
 *
 * Example:
 *
 *   asr_engine_t* engine = NULL;
 *   asr_engine_options_t options = ASR_ENGINE_OPTIONS_INIT;
 *   if (asr_engine_open(&engine, "/var/lib/asr", &options, 0) != ASR_OK) {
 *     fprintf(stderr, "%s\n", asr_last_error_message());
 *     return 1;
 *   }
 *   asr_object_put(engine, "cloud", "{\"id\":\"c1\",\"name\":\"Gold\"}", 0);
 *   asr_buffer_t* json = NULL;
 *   if (asr_object_get(&json, engine, "cloud", "c1", 0) == ASR_OK) {
 *     fwrite(asr_buffer_data(json), 1, asr_buffer_size(json), stdout);
 *   }
 *   asr_buffer_dispose(json);
 *   asr_engine_close(engine);
 */
#ifndef ASR_H_
#define ASR_H_

#include <stddef.h>
#include <stdint.h>

#include "asr_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ------------------------------------------------------------ */

#define ASR_VERSION_MAJOR 0
#define ASR_VERSION_MINOR 1
#define ASR_VERSION_PATCH 0
#define ASR_VERSION_NUMBER \
  (ASR_VERSION_MAJOR * 10000 + ASR_VERSION_MINOR * 100 + ASR_VERSION_PATCH)

/* asr_version: the library's version as MAJOR*10000 + MINOR*100 + PATCH, to
 * compare with ASR_VERSION_NUMBER of the header a caller was built with. */
ASR_API uint32_t asr_version(void);

/* asr_version_string: the version as "MAJOR.MINOR.PATCH"; static storage. */
ASR_API const char* asr_version_string(void);

/* ---- Status codes ------------------------------------------------------- */

/* Equal to absl::StatusCode; pinned: these values never change. */
#define ASR_OK 0
#define ASR_CANCELLED 1
#define ASR_UNKNOWN 2
#define ASR_INVALID_ARGUMENT 3
#define ASR_DEADLINE_EXCEEDED 4
#define ASR_NOT_FOUND 5
#define ASR_ALREADY_EXISTS 6
#define ASR_PERMISSION_DENIED 7
#define ASR_RESOURCE_EXHAUSTED 8
#define ASR_FAILED_PRECONDITION 9
#define ASR_ABORTED 10
#define ASR_OUT_OF_RANGE 11
#define ASR_UNIMPLEMENTED 12
#define ASR_INTERNAL 13
#define ASR_UNAVAILABLE 14
#define ASR_DATA_LOSS 15
#define ASR_UNAUTHENTICATED 16

/* asr_last_error_message: the message of the last failed call on this thread
 * ("" if none failed yet). Owned by the library; valid until the next asr_
 * call on the same thread. Never NULL. */
ASR_API const char* asr_last_error_message(void);

/* asr_status_name: the name of a status code ("OK", "NOT_FOUND", ...);
 * "UNKNOWN_CODE" for values outside 0..16. Static storage. */
ASR_API const char* asr_status_name(int code);

/* ---- Buffers ------------------------------------------------------------ */

/* A library-owned byte buffer holding returned data (UTF-8 JSON unless
 * stated otherwise). Its data ends with a NUL byte not counted in size.
 * Thread safety: a buffer may be read from any thread; dispose it once. */
typedef struct asr_buffer asr_buffer_t;

/* asr_buffer_data: the bytes of `buffer` (NUL-terminated); NULL for NULL. */
ASR_API const char* asr_buffer_data(const asr_buffer_t* buffer);

/* asr_buffer_size: the number of bytes, without the trailing NUL; 0 for NULL. */
ASR_API size_t asr_buffer_size(const asr_buffer_t* buffer);

/* asr_buffer_dispose: releases `buffer`. Accepts NULL. */
ASR_API void asr_buffer_dispose(asr_buffer_t* buffer);

/* ---- Engine ------------------------------------------------------------- */

/* An engine over one state directory.
 * Thread safety: an engine may be used from several threads at once; close
 * it once, after every other call on it has returned. Only one process may
 * open a state directory for writing at a time. */
typedef struct asr_engine asr_engine_t;

typedef struct asr_engine_options {
  uint32_t struct_size;       /* sizeof(asr_engine_options_t) */
  uint32_t read_only;         /* 1: no writer lock, writes fail */
  uint32_t create_if_missing; /* 1: create the state directory if missing */
} asr_engine_options_t;

#define ASR_ENGINE_OPTIONS_INIT {sizeof(asr_engine_options_t), 0, 1}

/* asr_engine_open: opens (and recovers) the state in `state_dir`.
 * `options` may be NULL for the defaults. On success *out is a new engine to
 * release with asr_engine_close.
 * Errors: ASR_INVALID_ARGUMENT (NULL out or state_dir, bad struct_size,
 * unknown flags), ASR_FAILED_PRECONDITION (directory in use by another
 * process: the message names its PID; or written by a newer version),
 * ASR_DATA_LOSS (damaged state: the message names file and offset),
 * ASR_NOT_FOUND (missing and create_if_missing is 0). */
ASR_API int asr_engine_open(asr_engine_t** out, const char* state_dir,
                            const asr_engine_options_t* options, uint32_t flags);

/* asr_engine_close: closes the engine and releases the state directory.
 * Accepts NULL. */
ASR_API void asr_engine_close(asr_engine_t* engine);

/* asr_engine_initialize: makes the state ready for use (the sites "primary"
 * and "recovery"); idempotent. */
ASR_API int asr_engine_initialize(asr_engine_t* engine, uint32_t flags);

/* ---- Objects ------------------------------------------------------------ */

/* Object kinds: "vault", "site", "server", "cloud", "host-group", "host",
 * "vm", "vm-network", "logical-network", "storage-classification",
 * "pairing", "policy", "network-mapping", "storage-mapping",
 * "protected-item", "recovery-point", "recovery-plan", "job". */

/* asr_object_put: stores an object of `kind` given as JSON; its "id" must be
 * set. Replaces an object with the same id.
 * Errors: ASR_INVALID_ARGUMENT (unknown kind, bad JSON or fields: the message
 * names them), ASR_FAILED_PRECONDITION (read-only engine). */
ASR_API int asr_object_put(asr_engine_t* engine, const char* kind, const char* json,
                           uint32_t flags);

/* asr_object_get: the object as JSON in a new buffer (*out).
 * Errors: ASR_NOT_FOUND, ASR_INVALID_ARGUMENT. */
ASR_API int asr_object_get(asr_buffer_t** out, asr_engine_t* engine, const char* kind,
                           const char* id, uint32_t flags);

/* asr_object_list: all objects of `kind` as a JSON array, in id order. */
ASR_API int asr_object_list(asr_buffer_t** out, asr_engine_t* engine, const char* kind,
                            uint32_t flags);

/* asr_object_delete: removes an object. Errors: ASR_NOT_FOUND. */
ASR_API int asr_object_delete(asr_engine_t* engine, const char* kind, const char* id,
                              uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif /* ASR_H_ */
