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

/* ---- Network and storage mappings, replica placement ------------------- */

/* A network mapping pairs a source VM network (source VMM server) with a
 * target VM network (target server, or the same server when one manages both
 * sites); a storage mapping pairs storage classifications. Replica NICs join
 * the target subnet named like the source subnet, else the target network's
 * first subnet (VmNetwork.subnets order, as VMM lists them); NICs on unmapped
 * networks join no network. Replica disks go to the mapped classification's
 * share/volume with the most free space that holds them (ties: lower name),
 * else to the host's default location. Placement picks the recovery cloud's
 * host that reaches the mapped networks and holds the disks: most disks on
 * mapped storage, then lowest host name.
 *
 * Objects (VMs, networks, classifications, hosts) are named by id or, where
 * unique, by name. Results are JSON of the messages in asr/model/mapping.proto.
 * Changes run as jobs ("MapNetwork", "UnmapNetwork", "MapStorage",
 * "UnmapStorage"); the result names the job in "jobId". Calls are
 * thread-safe; changes from this API are serialized process-wide. */

/* Flag for asr_network_mapping_add / asr_storage_mapping_add: change the
 * source's existing mapping instead of failing with ASR_ALREADY_EXISTS. */
#define ASR_MAPPING_REPLACE 0x1u

/* asr_network_mapping_add: maps a source VM network to a target VM network.
 * `mapping_json` is a NetworkMapping: {"sourceVmNetworkId": "...",
 * "targetVmNetworkId": "..."}, optionally "id", "sourceServerId",
 * "targetServerId" (checked against the networks). Re-resolves every
 * protected VM on the source network; *out receives the MappingChangeReport
 * (operation "create", "change" or "unchanged"; "changes" lists the replica
 * NICs whose network or subnet changes).
 * Errors: ASR_NOT_FOUND (unknown network), ASR_INVALID_ARGUMENT (bad JSON,
 * network mapped to itself, server mismatch, ambiguous name, unknown flags),
 * ASR_ALREADY_EXISTS (source already mapped and no ASR_MAPPING_REPLACE). */
ASR_API int asr_network_mapping_add(asr_buffer_t** out, asr_engine_t* engine,
                                    const char* mapping_json, uint32_t flags);

/* asr_network_mapping_remove: removes the mapping with id `ref`, or the
 * mapping of source network `ref`; *out receives the MappingChangeReport
 * (the replicas that now join no network). Errors: ASR_NOT_FOUND. */
ASR_API int asr_network_mapping_remove(asr_buffer_t** out, asr_engine_t* engine,
                                       const char* ref, uint32_t flags);

/* asr_network_mapping_list: *out receives a NetworkMappingTable: one row per
 * VM network of every server (unmapped ones with "mapped": false) and the
 * mappings. */
ASR_API int asr_network_mapping_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_network_mapping_targets: for source network `source_ref`, which target
 * networks are available for which cloud pairing (a target network is
 * available when its logical network is associated with the recovery
 * cloud). `target_ref` may be NULL for all targets. *out receives a
 * TargetNetworkTable. Errors: ASR_NOT_FOUND. */
ASR_API int asr_network_mapping_targets(asr_buffer_t** out, asr_engine_t* engine,
                                        const char* source_ref, const char* target_ref,
                                        uint32_t flags);

/* asr_network_mapping_resolve: the network and subnet each replica NIC of VM
 * `vm_ref` joins; *out receives VmNicResolutions. Errors: ASR_NOT_FOUND. */
ASR_API int asr_network_mapping_resolve(asr_buffer_t** out, asr_engine_t* engine,
                                        const char* vm_ref, uint32_t flags);

/* asr_network_mapping_failback: what the original VM connects to on reverse
 * replication. `request_json` is a FailbackRequest: {"vmId": "...",
 * "replicaVmNetworkId": "..." ("" = disconnected)} or with
 * "originalVmNetworkId". *out receives a FailbackResolution ("scenario":
 * FAILBACK_NETWORK_UNCHANGED, FAILBACK_REPLICA_DISCONNECTED,
 * FAILBACK_REPLICA_ON_UNMAPPED_NETWORK, FAILBACK_MAPPING_CHANGED, ...). */
ASR_API int asr_network_mapping_failback(asr_buffer_t** out, asr_engine_t* engine,
                                         const char* request_json, uint32_t flags);

/* asr_storage_mapping_add: maps a source storage classification to a target
 * classification (types may differ: SMB share to CSV). `mapping_json` is a
 * StorageMapping: {"sourceClassificationId": "...",
 * "targetClassificationId": "..."}. *out receives a StorageMappingChange.
 * Errors as asr_network_mapping_add. */
ASR_API int asr_storage_mapping_add(asr_buffer_t** out, asr_engine_t* engine,
                                    const char* mapping_json, uint32_t flags);

/* asr_storage_mapping_remove: removes the mapping with id `ref`, or the
 * mapping of source classification `ref`. Errors: ASR_NOT_FOUND. */
ASR_API int asr_storage_mapping_remove(asr_buffer_t** out, asr_engine_t* engine,
                                       const char* ref, uint32_t flags);

/* asr_storage_mapping_list: *out receives a StorageMappingTable. */
ASR_API int asr_storage_mapping_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_storage_mapping_resolve: where each replica disk of VM `vm_ref` goes
 * on host `host_ref` (NULL: the host placement chooses); *out receives
 * VmDiskResolutions. Errors: ASR_NOT_FOUND, ASR_FAILED_PRECONDITION (no
 * host qualifies: the message says why). */
ASR_API int asr_storage_mapping_resolve(asr_buffer_t** out, asr_engine_t* engine,
                                        const char* vm_ref, const char* host_ref,
                                        uint32_t flags);

/* asr_placement_show: the replica placement of VM `vm_ref`: host, per-disk
 * path, per-NIC network and subnet, and every candidate host with the
 * reasons it does not qualify. `pairing_id` may be NULL (the VM's pairing).
 * *out receives a ReplicaPlacement; when no host qualifies the call still
 * succeeds with "placed": false and an "explanation".
 * Errors: ASR_NOT_FOUND (unknown VM or pairing), ASR_FAILED_PRECONDITION
 * (the VM's cloud is not paired). */
ASR_API int asr_placement_show(asr_buffer_t** out, asr_engine_t* engine, const char* vm_ref,
                               const char* pairing_id, uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif /* ASR_H_ */
