/* asr.h: the stable C API of asr, an embeddable Site Recovery core.
 *
 * A VMM-hosted provider DLL links this API, and PowerShell reaches it through
 * the .NET binding (bindings/dotnet).
 *
 * Getting started: a provider protects VM1 and fails it over to the
 * recovery site. `host` is its host callback table (version 3 or later, see
 * "Host callbacks" below), the key-encryption key is in the environment
 * variable ASR_KEY_ENCRYPTION_KEY and `pki_dir` holds the vault PKI
 * (`asrctl pki init`). The code between the markers compiles as written;
 * //capi:c_api_getting_started_test compiles it as C99 and runs it over a
 * host table written in C.
 *
 * [getting-started]
 *   #include <stdio.h>
 *
 *   #include "asr.h"
 *
 *   // Reports a failed call, releases its result (a Job as JSON).
 *   static int ok(int rc, asr_buffer_t** out) {
 *     if (rc != ASR_OK) fprintf(stderr, "asr: %s\n", asr_last_error_message());
 *     asr_buffer_dispose(*out);
 *     *out = NULL;
 *     return rc == ASR_OK;
 *   }
 *
 *   int protect_and_fail_over(const char* state_dir, const asr_host_callbacks_t* host,
 *                             const char* pki_dir) {
 *     const char* servers[2] = {"vmm-ny", "vmm-chi"};
 *     const char* sites[2] = {"primary", "recovery"};
 *     asr_engine_t* engine = NULL;
 *     asr_site_service_t* site = NULL;
 *     asr_buffer_t *r = NULL, *key = NULL;
 *     char request[8192], transport[4096];
 *     int i, good;
 *
 *     // 1. Open the state directory with a key provider and the host table.
 *     good = ok(asr_engine_open(&engine, state_dir, NULL, 0), &r) &&
 *            ok(asr_engine_initialize(engine, 0), &r) &&
 *            ok(asr_engine_set_key_file(engine, NULL, ASR_KEY_FROM_ENVIRONMENT), &r) &&
 *            ok(asr_engine_set_host_callbacks(engine, host, 0), &r);
 *
 *     // 2. Register both VMM servers with a registration key of the vault;
 *     //    their inventories come from the host table.
 *     good = good && ok(asr_vault_create(&r, engine, "contoso-dr", "eastus", 0), &r) &&
 *            asr_key_generate(&key, engine, 0) == ASR_OK;
 *     for (i = 0; good && i < 2; ++i) {
 *       const char* c = asr_buffer_data(key);
 *       int n = sprintf(request,
 *                       "{\"friendlyName\":\"%s\",\"siteId\":\"%s\",\"syncAllCloudMetadata\":true,"
 *                       "\"credentials\":\"",
 *                       servers[i], sites[i]);
 *       for (; *c != '\0' && n < 8000; ++c) {  // the key file as a JSON string
 *         if (*c == '"' || *c == '\\') request[n++] = '\\';
 *         if (*c != '\n') request[n++] = *c;
 *       }
 *       sprintf(request + n, "\"}");
 *       good = ok(asr_server_register(&r, engine, request, 0), &r) &&
 *              ok(asr_inventory_sync(&r, engine, servers[i], NULL, NULL, 0), &r);
 *     }
 *
 *     // 3. Pair the clouds under a replication policy; map their VM networks.
 *     good = good && ok(asr_cloud_pair(&r, engine, "GoldCloud1", "GoldCloud2", 0), &r) &&
 *            ok(asr_policy_create(&r, engine,
 *                                 "{\"name\":\"gold\",\"replicationProvider\":"
 *                                 "\"HyperVReplica2012R2\",\"replicationFrequencyInSeconds\":30}",
 *                                 0),
 *               &r) &&
 *            ok(asr_policy_associate(&r, engine, "gold", "GoldCloud1", 0), &r) &&
 *            ok(asr_network_mapping_add(&r, engine,
 *                                       "{\"sourceVmNetworkId\":\"vmn1-ny\","
 *                                       "\"targetVmNetworkId\":\"vmn1-chi\"}",
 *                                       0),
 *               &r);
 *
 *     // 4. Protect VM1: a replica VM on a recovery host and the initial copy
 *     //    over mutual TLS to the site service's replica endpoint. (Call
 *     //    asr_site_service_step every few seconds to keep it replicating, or
 *     //    start the site service with "threads": true.)
 *     snprintf(transport, sizeof transport, "{\"pkiDir\":\"%s\"}", pki_dir);
 *     snprintf(request, sizeof request, "{\"threads\":false,\"transport\":%s}", transport);
 *     good = good && ok(asr_engine_set_transport(engine, transport, 0), &r) &&
 *            ok(asr_site_service_start(&site, engine, request, 0), &r) &&
 *            ok(asr_protect_enable(&r, engine, "{\"vm\":\"VM1\"}", 0), &r);
 *
 *     // 5. Fail over: VM1 shuts down, its last changes cross, the replica
 *     //    starts; commit makes it final.
 *     good = good &&
 *            ok(asr_failover_start(&r, engine, "PlannedFailover", "{\"itemId\":\"VM1\"}", 0),
 *               &r) &&
 *            ok(asr_failover_start(&r, engine, "Commit", "{\"itemId\":\"VM1\"}", 0), &r);
 *
 *     // 6. Close.
 *     asr_buffer_dispose(key);
 *     asr_site_service_close(site);
 *     asr_engine_close(engine);
 *     return good ? 0 : 1;
 *   }
 * [/getting-started]
 *
 * Conventions:
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
 *  - Identifiers (kinds, ids, names, references such as "GoldCloud1") must be
 *    valid UTF-8 (no overlong forms or surrogates) without control
 *    characters (no NUL, tab or newline), 1 to 256 bytes; paths the same,
 *    up to 4096 bytes; and so must the ids and names inside JSON objects
 *    (asr_object_put, asr_inventory_sync). Anything else is
 *    ASR_INVALID_ARGUMENT with a message naming the argument or field, the
 *    rule and an escaped, shortened rendering of the value.
 *  - Option structs start with uint32_t struct_size and are initialized with
 *    their ..._INIT macro (or, from bindings, their ..._init function);
 *    fields are only ever appended. A caller built against an older, smaller
 *    version keeps working: the fields it lacks read as zero; a struct_size
 *    below the struct's first version is ASR_INVALID_ARGUMENT.
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
#define ASR_VERSION_NUMBER (ASR_VERSION_MAJOR * 10000 + ASR_VERSION_MINOR * 100 + ASR_VERSION_PATCH)

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

/* asr_last_error_detail: the last call's outcome on this thread as a JSON
 * object (an ErrorDetail of asr/model/errors.proto in the proto3 JSON
 * mapping), so that callers need not parse the message:
 *   {"code": 9, "codeName": "FAILED_PRECONDITION", "message": "...",
 *    "rule": "CloudInAtMostOnePairing", "recommendedAction": "...",
 *    "jobId": "job-000042"}
 * "rule" names the domain rule broken and "recommendedAction" what to do
 * ("" for both when no rule applies); "jobId" is the job the error happened
 * in ("" when the call ran none), which asr_job_restart can run again. After
 * a successful call: code 0, "OK" and empty strings. Owned by the library;
 * valid until the next asr_ call on the same thread. Never NULL. */
ASR_API const char* asr_last_error_detail(void);

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

#define ASR_ENGINE_OPTIONS_INIT \
  { sizeof(asr_engine_options_t), 0, 1 }

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

/* Writes are fenced: asr_object_put and asr_object_delete accept only the
 * inventory a VMM server reports ("cloud", "host-group", "host", "vm",
 * "vm-network", "logical-network", "storage-classification") and
 * "protected-item". The kinds that domain rules guard ("vault", "site",
 * "server", "pairing", "policy", "network-mapping", "storage-mapping", "job",
 * "recovery-point", "recovery-plan") are written only by their operations
 * (asr_cloud_pair, asr_policy_create, ...): a raw write of one fails with
 * ASR_FAILED_PRECONDITION, rule "RawObjectAccessFenced", and a recommended
 * action naming the call to use (asr_last_error_detail). Reads accept every
 * kind. */

/* asr_object_put: stores an object of `kind` given as JSON; its "id" must be
 * set. Replaces an object with the same id.
 * Errors: ASR_INVALID_ARGUMENT (unknown kind, bad JSON or fields: the message
 * names them), ASR_FAILED_PRECONDITION (read-only engine, or a kind only its
 * operations write, see above). */
ASR_API int asr_object_put(asr_engine_t* engine, const char* kind, const char* json,
                           uint32_t flags);

/* asr_object_get: the object as JSON in a new buffer (*out).
 * Errors: ASR_NOT_FOUND, ASR_INVALID_ARGUMENT. */
ASR_API int asr_object_get(asr_buffer_t** out, asr_engine_t* engine, const char* kind,
                           const char* id, uint32_t flags);

/* asr_object_list: all objects of `kind` as a JSON array, in id order. */
ASR_API int asr_object_list(asr_buffer_t** out, asr_engine_t* engine, const char* kind,
                            uint32_t flags);

/* asr_object_delete: removes an object. Errors: ASR_NOT_FOUND,
 * ASR_FAILED_PRECONDITION (a kind only its operations write, see above). */
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
ASR_API int asr_network_mapping_remove(asr_buffer_t** out, asr_engine_t* engine, const char* ref,
                                       uint32_t flags);

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
ASR_API int asr_storage_mapping_remove(asr_buffer_t** out, asr_engine_t* engine, const char* ref,
                                       uint32_t flags);

/* asr_storage_mapping_list: *out receives a StorageMappingTable. */
ASR_API int asr_storage_mapping_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_storage_mapping_resolve: where each replica disk of VM `vm_ref` goes
 * on host `host_ref` (NULL: the host placement chooses); *out receives
 * VmDiskResolutions. Errors: ASR_NOT_FOUND, ASR_FAILED_PRECONDITION (no
 * host qualifies: the message says why). */
ASR_API int asr_storage_mapping_resolve(asr_buffer_t** out, asr_engine_t* engine,
                                        const char* vm_ref, const char* host_ref, uint32_t flags);

/* asr_placement_show: the replica placement of VM `vm_ref`: host, per-disk
 * path, per-NIC network and subnet, and every candidate host with the
 * reasons it does not qualify. `pairing_id` may be NULL (the VM's pairing).
 * *out receives a ReplicaPlacement; when no host qualifies the call still
 * succeeds with "placed": false and an "explanation".
 * Errors: ASR_NOT_FOUND (unknown VM or pairing), ASR_FAILED_PRECONDITION
 * (the VM's cloud is not paired). */
ASR_API int asr_placement_show(asr_buffer_t** out, asr_engine_t* engine, const char* vm_ref,
                               const char* pairing_id, uint32_t flags);

/* ---- Host callbacks ----------------------------------------------------- */

/* What asr asks of the VMM host (System Center VMM runs on Windows only, so
 * the host side is a table of callbacks). Each callback returns ASR_OK or
 * another status code; on failure it may write a message into the buffer
 * it is given (asr_buffer_set). Callbacks run on the thread that called the
 * asr_ function that needs them (jobs run on the caller's thread), one at a
 * time per engine (except the version 3 calls of a site service's pool, see
 * "Threads" below); they may call read-only asr_ functions (asr_object_get,
 * asr_job_list) but no state-changing ones. A NULL callback means the host
 * cannot do that: calls needing it fail with ASR_FAILED_PRECONDITION.
 *
 *  get_inventory: write the server's inventory (model Inventory as JSON)
 *    into `out`; `server_json` is the VmmServer.
 *  configure_host: configure a Hyper-V host (`host_json`, a HyperVHost) for
 *    a policy (`policy_json`, a ReplicationPolicy) in `role` "Primary"
 *    (replicating host) or "Recovery" (replica server).
 *  test_proxy: test a registering server's custom proxy (address, port and
 *    user name in server_json's "proxy"); `password` is plain text, only
 *    for this call.
 *  get_key_encryption_key (version 2): the host's key provider. Write the
 *    32-byte key-encryption key (KEK) that wraps the vault's private keys
 *    into `out_key` (raw bytes, e.g. unprotected with DPAPI) and a stable
 *    id for it (printable UTF-8, at most 256 bytes, e.g. "dpapi:asr-kek-1")
 *    into `out_key_id`, for `purpose` ("vault-secrets"). The id is stored
 *    with what the key wraps, so that a different key is reported as such.
 *    On failure return a status code and write a message into `out_key`.
 *    Used when no key file is set (asr_engine_set_key_file takes
 *    precedence).
 *
 * Version 3 adds the VM calls protection and failover need. Each takes
 * and writes JSON in the proto3 mapping of asr/model/fabric.proto and
 * host.proto, returns ASR_OK or a status code with a message in its buffer
 * (as above); ASR_UNAVAILABLE, ASR_DEADLINE_EXCEEDED and ASR_ABORTED are
 * transient and retried, any other code fails the job with the host's
 * message. A NULL one means the host cannot do it (the operation fails with
 * ASR_FAILED_PRECONDITION saying which call is missing).
 *
 *  get_vm: write the VM `vm_id` as its host sees it now (a VirtualMachine:
 *    "hostId", "disks" with paths and sizes, "networkAdapters",
 *    "powerState") into `out`; ASR_NOT_FOUND when the host has no such VM.
 *  create_replica_vm: create a stopped replica VM from `spec_json` (a
 *    ReplicaVmSpec: "replicaVmId", "name", "hostId", "disks" whose files
 *    exist, "networkAdapters") and write it into `out` as get_vm would; the
 *    same spec again succeeds; ASR_ALREADY_EXISTS for a clash.
 *  connect_nic: connect NIC "id" of `nic_json` (a NetworkAdapter) of
 *    `vm_id` to its "vmNetworkId" / "subnetName" ("" disconnects it).
 *  start_vm, shutdown_vm (clean, through the guest; ASR_DEADLINE_EXCEEDED
 *    when it does not stop), turn_off_vm (power off at once).
 *  delete_vm: delete a stopped VM's configuration, and its disk files when
 *    `delete_disks` is 1; ASR_NOT_FOUND when there is no such VM.
 *  get_power_state: write the state's name ("RUNNING", "STOPPED",
 *    "PAUSED", "SAVED") into `out`.
 *  create_point: take a point of all the VM's disks at one instant; `type`
 *    is "CrashConsistent" or "AppConsistent" (guest writers quiesced first,
 *    as VSS does). Write the HostPoint ("id", "vmId", "type", "timeUs",
 *    "disks" with the "readPath" to read each disk at while it is held).
 *  release_point: release the HostPoint `point_json`; hold points briefly.
 *  run_script: run the ScriptRequest `request_json` ("hostId", "path",
 *    "arguments", "timeoutSeconds", "environment": variables to set for
 *    the script, e.g. a recovery plan's ASR_RECOVERY_PLAN_CONTEXT) and
 *    write the ScriptResult
 *    ("exitCode", "output", "timedOut") into `out`.
 *  attach_change_tracking: from now on report every guest write to disk
 *    `disk_id` of `vm_id` with asr_write_sink_record(sink, offset, length)
 *    before completing the write to the guest; `sink` stays valid until
 *    detach_change_tracking for that disk returns (or another attach for it
 *    replaces it).
 *  detach_change_tracking: stop reporting; after it returns the sink is not
 *    called again.
 *
 * Threads: the version 1 and 2 callbacks run on the thread of the asr_ call
 * that needs them. The version 3 callbacks are also called by a site
 * service's replication pool (asr_site_service_start): calls for different
 * VMs may arrive concurrently from several threads, calls for one VM never
 * do; they must not call state-changing asr_ functions.
 *
 * Version 4 adds replication groups (asr_group_*):
 *
 *  create_group_point: take one point of each VM of `request_json`
 *    ({"vmIds": [...], "type": "CrashConsistent" | "AppConsistent"}) at ONE
 *    instant: freeze every VM's writes first, then take the points, so a
 *    write acknowledged to one VM's guest before another VM's write is in
 *    the first's point whenever the second's is. Write {"points": [a
 *    HostPoint per VM, in the order of "vmIds", all with the same
 *    "timeUs"]}; asr releases each with release_point. On failure hold no
 *    point. NULL: groups refuse to cycle (ASR_FAILED_PRECONDITION naming
 *    the call).
 *
 * Version 5 adds test failover's isolated networks (asr_failover_start
 * "TestFailover" with "networkType" "Isolated"):
 *
 *  create_isolated_network: create a VM network named `name` on recovery
 *    host `host_id`'s server that reaches nothing outside the host (no
 *    uplink), for test VMs' NICs; write its id (as connect_nic takes it)
 *    into `out`. The same name again writes the same id.
 *  delete_isolated_network: delete network `network_id` made by
 *    create_isolated_network; ASR_OK when it is gone already,
 *    ASR_FAILED_PRECONDITION while a NIC is connected to it.
 *  NULL: test failover with an isolated network fails (the job names the
 *  call); None and a chosen VM network still work.
 *
 * Versions: 1 (40 bytes on LP64: through payload), 2 (48 bytes: adds
 * get_key_encryption_key), 3 (152 bytes: adds get_vm ..
 * detach_change_tracking), 4 (160 bytes: adds create_group_point), 5 (176
 * bytes: adds create_isolated_network, delete_isolated_network). A caller
 * built against an older version keeps working: the callbacks its table
 * lacks read as NULL. */

/* What a host reports guest writes to (attach_change_tracking): the change
 * tracker of one protected disk. Owned by the library. */
typedef struct asr_write_sink asr_write_sink_t;

typedef struct asr_host_callbacks {
  uint32_t struct_size; /* sizeof(asr_host_callbacks_t) */
  uint32_t reserved;    /* 0 */
  int (*get_inventory)(asr_buffer_t* out, const char* server_json, void* payload);
  int (*configure_host)(asr_buffer_t* out_message, const char* host_json, const char* policy_json,
                        const char* role, void* payload);
  int (*test_proxy)(asr_buffer_t* out_message, const char* server_json, const char* password,
                    void* payload);
  void* payload; /* passed last to every callback */
  /* Version 2. */
  int (*get_key_encryption_key)(asr_buffer_t* out_key, asr_buffer_t* out_key_id,
                                const char* purpose, void* payload);
  /* Version 3. */
  int (*get_vm)(asr_buffer_t* out, const char* vm_id, void* payload);
  int (*create_replica_vm)(asr_buffer_t* out, const char* spec_json, void* payload);
  int (*connect_nic)(asr_buffer_t* out_message, const char* vm_id, const char* nic_json,
                     void* payload);
  int (*start_vm)(asr_buffer_t* out_message, const char* vm_id, void* payload);
  int (*shutdown_vm)(asr_buffer_t* out_message, const char* vm_id, void* payload);
  int (*turn_off_vm)(asr_buffer_t* out_message, const char* vm_id, void* payload);
  int (*delete_vm)(asr_buffer_t* out_message, const char* vm_id, uint32_t delete_disks,
                   void* payload);
  int (*get_power_state)(asr_buffer_t* out, const char* vm_id, void* payload);
  int (*create_point)(asr_buffer_t* out, const char* vm_id, const char* type, void* payload);
  int (*release_point)(asr_buffer_t* out_message, const char* point_json, void* payload);
  int (*run_script)(asr_buffer_t* out, const char* request_json, void* payload);
  int (*attach_change_tracking)(asr_buffer_t* out_message, const char* vm_id, const char* disk_id,
                                asr_write_sink_t* sink, void* payload);
  int (*detach_change_tracking)(asr_buffer_t* out_message, const char* vm_id, const char* disk_id,
                                void* payload);
  /* Version 4 (replication groups). */
  int (*create_group_point)(asr_buffer_t* out, const char* request_json, void* payload);
  /* Version 5 (test failover's isolated networks). */
  int (*create_isolated_network)(asr_buffer_t* out, const char* host_id, const char* name,
                                 void* payload);
  int (*delete_isolated_network)(asr_buffer_t* out_message, const char* host_id,
                                 const char* network_id, void* payload);
} asr_host_callbacks_t;

#define ASR_HOST_CALLBACKS_VERSION 5
#define ASR_HOST_CALLBACKS_INIT                                                                  \
  {                                                                                              \
    sizeof(asr_host_callbacks_t), 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL                         \
  }

/* asr_write_sink_record: reports a guest write of `length` bytes at `offset`
 * of the sink's disk; call it from any thread, before the write completes
 * to the guest. ASR_OK means the write is recorded durably enough that a
 * crash of asr is detected and answered with a scan.
 * Errors: ASR_INVALID_ARGUMENT (NULL sink, a write past the end of the
 * disk), ASR_FAILED_PRECONDITION (the tracker is closed: protection of the
 * disk stopped). */
ASR_API int asr_write_sink_record(asr_write_sink_t* sink, uint64_t offset, uint64_t length);

/* asr_engine_set_host_callbacks: installs (a copy of) `callbacks` on the
 * engine; NULL removes them (inventories then arrive only as documents,
 * hosts are not configured and proxies not tested; jobs say so). Do not call
 * it while another call on the engine runs.
 * Errors: ASR_INVALID_ARGUMENT (bad struct_size, unknown flags). */
ASR_API int asr_engine_set_host_callbacks(asr_engine_t* engine,
                                          const asr_host_callbacks_t* callbacks, uint32_t flags);

/* Flag for asr_engine_set_key_file: `path` names an environment variable
 * (NULL: "ASR_KEY_ENCRYPTION_KEY") holding the key as 64 hex digits. */
#define ASR_KEY_FROM_ENVIRONMENT 0x1u

/* asr_engine_set_key_file: the key provider without callbacks. The vault's
 * signing and sealing keys are stored only wrapped (AES-256-GCM) under a
 * key-encryption key (KEK); `path` is a key file holding it as 64 hex digits
 * (and a newline), a regular file readable by its owner only (mode 0600 or
 * 0400, not a symbolic link), kept outside the state directory; create one
 * with `asrctl key-provider init --key-file PATH`. The file is read each time
 * the vault's keys are needed. NULL removes it (the host callback
 * get_key_encryption_key, if any, is used again). On a writable engine, keys
 * an older version stored in the clear are wrapped now.
 * Without a key provider, asr_vault_create, asr_key_generate and a proxy
 * password in asr_server_register fail with ASR_FAILED_PRECONDITION; with
 * the wrong key, with ASR_PERMISSION_DENIED ("the key-encryption key does
 * not open this vault's secrets", naming the key ids); a key file others can
 * read, a link or not a regular file is ASR_FAILED_PRECONDITION.
 * Errors: ASR_INVALID_ARGUMENT (NULL engine, bad path, unknown flags), and
 * the provider's errors when there were clear keys to wrap. */
ASR_API int asr_engine_set_key_file(asr_engine_t* engine, const char* path, uint32_t flags);

/* asr_buffer_set: replaces the contents of `buffer` (one given to a host
 * callback) with `size` bytes of `data`. Errors: ASR_INVALID_ARGUMENT. */
ASR_API int asr_buffer_set(asr_buffer_t* buffer, const char* data, size_t size);

/* ---- Control plane: jobs -------------------------------------------------
 *
 * Every state-changing control-plane call below runs as a job and, on
 * success, returns the finished Job as JSON in *out: "state" (Succeeded or
 * Suspended), "stateDescription" (Completed, PartiallySucceeded,
 * CompletedWithInformation, Skipped), "tasks", and "resultJson" holding the
 * object the operation produced (a Vault, VmmServer, InventoryChangeReport,
 * CloudPairing or ReplicationPolicy, as JSON text). On failure *out is NULL,
 * the code and asr_last_error_message() say which rule was broken and what
 * to do, and the message ends with "(job job-NNNNNN)" naming the Failed job,
 * which asr_job_restart can run again once the cause is fixed;
 * asr_last_error_detail() gives the rule, the action and the job id as
 * separate JSON fields. */

/* asr_job_list: jobs as a JSON array, oldest first. `query_json` may be NULL
 * (all jobs) or a JobQuery: {"state": "Failed", "startedAfterUnix": "...",
 * "startedBeforeUnix": "...", "targetObjectId": "...", "scenarioName": "..."}.
 * Errors: ASR_INVALID_ARGUMENT (bad query). */
ASR_API int asr_job_list(asr_buffer_t** out, asr_engine_t* engine, const char* query_json,
                         uint32_t flags);

/* asr_job_get: one job as JSON. Errors: ASR_NOT_FOUND. */
ASR_API int asr_job_get(asr_buffer_t** out, asr_engine_t* engine, const char* job_id,
                        uint32_t flags);

/* asr_job_cancel: cancels a NotStarted or Suspended job (or requests
 * cancellation of one running on another thread: it stops before its next
 * task); *out receives the job. Errors: ASR_NOT_FOUND,
 * ASR_FAILED_PRECONDITION (the job already finished). */
ASR_API int asr_job_cancel(asr_buffer_t** out, asr_engine_t* engine, const char* job_id,
                           uint32_t flags);

/* asr_job_restart: runs a Failed job again; tasks that succeeded are not
 * repeated. Errors: ASR_FAILED_PRECONDITION (not Failed, or failed on its
 * input), or the job's own error. */
ASR_API int asr_job_restart(asr_buffer_t** out, asr_engine_t* engine, const char* job_id,
                            uint32_t flags);

/* asr_job_resume: continues a Suspended job after the task that suspended
 * it. Errors: ASR_FAILED_PRECONDITION (not Suspended), or the job's error. */
ASR_API int asr_job_resume(asr_buffer_t** out, asr_engine_t* engine, const char* job_id,
                           uint32_t flags);

/* ---- Control plane: vault, servers, inventory, pairing --------------------
 * Objects are named by id or, where unique, by name ("GoldCloud1"). */

/* asr_vault_create: creates the state directory's vault (one per directory)
 * with its signing and sealing keys, stored wrapped under the key provider's
 * key (asr_engine_set_key_file or the get_key_encryption_key callback); job
 * "CreateVault", result a Vault.
 * Errors: ASR_INVALID_ARGUMENT (empty name or region), ASR_ALREADY_EXISTS,
 * ASR_FAILED_PRECONDITION (no key provider: the message says how to set
 * one; a key file others can read), ASR_PERMISSION_DENIED (wrong key). */
ASR_API int asr_vault_create(asr_buffer_t** out, asr_engine_t* engine, const char* name,
                             const char* region, uint32_t flags);

/* asr_vault_get: the vault as JSON. Errors: ASR_NOT_FOUND (none yet). */
ASR_API int asr_vault_get(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_key_generate: a new registration key file (RegistrationKey JSON,
 * signed with Ed25519), valid for 5 days; write it to a file for the VMM
 * server. Not a job: it changes no state. Errors: ASR_NOT_FOUND (no vault). */
ASR_API int asr_key_generate(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_key_verify: checks a key file against the vault; *out receives the
 * RegistrationKey. Errors: ASR_INVALID_ARGUMENT (not a key file),
 * ASR_PERMISSION_DENIED (another vault's key), ASR_UNAUTHENTICATED
 * (tampered, or expired: the message says when). */
ASR_API int asr_key_verify(asr_buffer_t** out, asr_engine_t* engine, const char* key_file_json,
                           uint32_t flags);

/* asr_server_register: registers a VMM server (or cluster node) with the
 * vault. `request_json` is a ServerRegistrationRequest: {"credentials":
 * <key file text>, "friendlyName": "...", "siteId": "primary"|"recovery",
 * "providerVersion", "proxyAddress", "proxyPort", "proxyUserName",
 * "proxyPassword" (sealed with the vault's key before anything is stored),
 * "syncAllCloudMetadata", "encryptionCertificate" (accepted and ignored for
 * a secondary site), "isCluster", "nodeName", "isActiveNode"}. Job
 * "RegisterServer", result a VmmServer.
 * Errors: ASR_INVALID_ARGUMENT (credentials or friendly name missing),
 * key errors as asr_key_verify, ASR_ALREADY_EXISTS (name taken),
 * ASR_FAILED_PRECONDITION (cluster: active node not first, or another
 * provider version: the message names both), ASR_UNAVAILABLE (proxy test). */
ASR_API int asr_server_register(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                                uint32_t flags);

/* asr_server_unregister: removes a server and its clouds, hosts, VMs,
 * networks, storage, pairings and mappings; job "UnregisterServer".
 * Errors: ASR_NOT_FOUND, ASR_FAILED_PRECONDITION (VMs still protected). */
ASR_API int asr_server_unregister(asr_buffer_t** out, asr_engine_t* engine, const char* server,
                                  uint32_t flags);

/* asr_inventory_sync: applies a server's inventory; `inventory_json` (an
 * Inventory) NULL asks the host callback. `cloud` NULL syncs everything,
 * otherwise that cloud alone. Job "SyncInventory", result an
 * InventoryChangeReport (added, updated, removed).
 * Errors: ASR_NOT_FOUND, ASR_INVALID_ARGUMENT (inconsistent inventory: the
 * message names the dangling reference), ASR_FAILED_PRECONDITION (a paired
 * cloud or protected VM would disappear; no host callback). */
ASR_API int asr_inventory_sync(asr_buffer_t** out, asr_engine_t* engine, const char* server,
                               const char* inventory_json, const char* cloud, uint32_t flags);

/* asr_cloud_pair: pairs a primary cloud with a recovery cloud; job
 * "PairClouds", result a CloudPairing. Errors: ASR_NOT_FOUND,
 * ASR_INVALID_ARGUMENT (a cloud with itself), ASR_ALREADY_EXISTS,
 * ASR_FAILED_PRECONDITION (a cloud already paired, one server with fewer
 * than two clouds, metadata not synced, no Hyper-V capability profile,
 * primary cloud without host group). */
ASR_API int asr_cloud_pair(asr_buffer_t** out, asr_engine_t* engine, const char* primary_cloud,
                           const char* recovery_cloud, uint32_t flags);

/* asr_cloud_unpair: removes a pairing (by id or primary cloud); job
 * "UnpairClouds". Errors: ASR_NOT_FOUND, ASR_FAILED_PRECONDITION (VMs of
 * the pairing are protected). */
ASR_API int asr_cloud_unpair(asr_buffer_t** out, asr_engine_t* engine, const char* pairing,
                             uint32_t flags);

/* ---- Control plane: replication policies -------------------------------- */

/* asr_policy_create: creates a policy from `policy_json` (a
 * ReplicationPolicy: "name", "replicationProvider" HyperVReplica2012 |
 * HyperVReplica2012R2, "replicationFrequencyInSeconds" 30|300|900,
 * "numberOfRecoveryPointsToRetain", "applicationConsistentSnapshotFrequencyInHours",
 * "compressionEnabled", "authentication" Certificate|Kerberos,
 * "replicationPort", "replicationMethod" OverNetwork|Offline,
 * "replicationStartTimeUnix", "offlineExportPath", "offlineImportPath",
 * "replicaDeletion" Required|NotRequired). Job "SavePolicy", result the
 * stored policy with defaults filled in.
 * Errors: ASR_INVALID_ARGUMENT (a value outside its set: the message names
 * the rule), ASR_ALREADY_EXISTS, ASR_FAILED_PRECONDITION (offline path on a
 * Hyper-V host). */
ASR_API int asr_policy_create(asr_buffer_t** out, asr_engine_t* engine, const char* policy_json,
                              uint32_t flags);

/* asr_policy_update: replaces an existing policy (by "id", else "name") and
 * reconfigures the hosts of every pairing it is associated with.
 * Errors: as asr_policy_create, ASR_NOT_FOUND, ASR_FAILED_PRECONDITION
 * (provider change while associated). */
ASR_API int asr_policy_update(asr_buffer_t** out, asr_engine_t* engine, const char* policy_json,
                              uint32_t flags);

/* asr_policy_delete: deletes a policy. Errors: ASR_NOT_FOUND,
 * ASR_FAILED_PRECONDITION (used by protected VMs, or associated). */
ASR_API int asr_policy_delete(asr_buffer_t** out, asr_engine_t* engine, const char* policy,
                              uint32_t flags);

/* asr_policy_associate: associates a policy with a pairing (by id or primary
 * cloud), configuring each host of both clouds through the host callback
 * (one task per host); job "AssociatePolicy", result the CloudPairing.
 * Errors: ASR_NOT_FOUND, ASR_FAILED_PRECONDITION (hosts of the primary cloud
 * on another OS version: the message lists them), a host's error. */
ASR_API int asr_policy_associate(asr_buffer_t** out, asr_engine_t* engine, const char* policy,
                                 const char* pairing, uint32_t flags);

/* asr_policy_dissociate: removes the policy from a pairing.
 * Errors: ASR_NOT_FOUND, ASR_FAILED_PRECONDITION (the pairing protects VMs). */
ASR_API int asr_policy_dissociate(asr_buffer_t** out, asr_engine_t* engine, const char* pairing,
                                  uint32_t flags);

/* ---- Protection ---------------------------------------------------------
 *
 * Protecting a VM creates its replica VM on a recovery host (through the
 * version 3 host callbacks) and replicates all its disks there as one unit,
 * on its policy's schedule, with the policy's retention, compression and
 * transport, until protection is disabled. A protected item (kind
 * "protected-item", id "pi-<vm id>") moves through the states
 *
 *   EnablingProtection -> InitialReplicationInProgress -> Protected
 *     -> DisablingProtection -> (removed)
 *
 * (EnablingFailed, InitialReplicationFailed, DisablingFailed when a step
 * fails: restart the job or disable). Replication after the initial copy is
 * the site service's work (asr_site_service_start), in this process or in
 * `asrctl site run`.
 *
 *   asr_engine_set_host_callbacks(engine, &host_table, 0);        (version 3)
 *   asr_engine_set_transport(engine, "{\"pkiDir\": \"/etc/asr/pki\"}", 0);
 *   asr_site_service_t* site = NULL;
 *   asr_site_service_start(&site, engine, "{\"threads\": false}", 0);
 *   asr_protect_enable(&job, engine, "{\"vm\": \"VM1\"}", 0);
 *   for (;;) { asr_site_service_step(site, 0); ... }                (every few seconds)
 *   asr_item_get(&item, engine, "VM1", 0);        ("protectionState": "Protected")
 *   asr_site_service_close(site);
 *
 * The operations (enable, onboard, disable) run as jobs and return the
 * finished Job like the control-plane calls above (on failure the message
 * ends with "(job job-NNNNNN)" and asr_last_error_detail names the job). */

/* asr_engine_set_transport: how protection reaches the recovery endpoint
 * that holds the replicas, as JSON {"pkiDir": the vault PKI directory
 * (ca.pem, crl.pem if any, SENDER.pem/.key, RECEIVER.pem/.key; `asrctl pki
 * init` makes it), "senderCertificate" (default "primary"),
 * "receiverCertificate" (default "recovery"), "address" ("host[:port]" every
 * sender connects to; default: the replica host and the policy's port),
 * "receiverName" (the name the receiver's certificate must carry),
 * "pointIntervalSeconds" (spacing of kept recovery points; 0: hourly),
 * "connectTimeoutSeconds" (0: 30)}. NULL removes it (replication then fails
 * with ASR_FAILED_PRECONDITION saying how to set one). A site service
 * started later with serveReplicas points the senders at its own endpoint.
 * Errors: ASR_INVALID_ARGUMENT (NULL engine, bad JSON or field, unknown
 * flags), ASR_NOT_FOUND / ASR_FAILED_PRECONDITION (PKI files missing or not
 * the vault's: the message names the file). */
ASR_API int asr_engine_set_transport(asr_engine_t* engine, const char* transport_json,
                                     uint32_t flags);

/* asr_protect_enable: enables protection of a VM; `request_json` is {"vm":
 * id or name, "pairing": optional (id, or its primary cloud; default the
 * VM's cloud's pairing), "recoveryHost": optional (id or name; default
 * placement's choice)}. Job "EnableProtection" with tasks validate, place,
 * create-replica-vm, initial-replication (or export/import/wait-start-time),
 * finalize; *out receives it Succeeded (the item is Protected, or
 * InitialReplicationCompletedOnPrimary for an offline export) or Suspended
 * (waiting for the policy's start time).
 * Errors: ASR_INVALID_ARGUMENT (NULL, bad JSON, no "vm", unknown flags),
 * ASR_NOT_FOUND (VM, pairing, host), ASR_FAILED_PRECONDITION (cloud not
 * paired, no policy, host OS differs, already protected, host callback
 * missing, no transport), the host's own error (its message). */
ASR_API int asr_protect_enable(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                               uint32_t flags);

/* asr_protect_onboard: adopts a VM that already replicates between a host
 * of the primary cloud and one of the recovery cloud; `request_json` is
 * {"vm", "pairing" (optional), "recoveryHost", "replicaDirs": [one
 * existing replica directory per disk, in the VM's disk order]}. The
 * existing replica data is reused, not copied again. Job
 * "OnboardProtection". Errors: as asr_protect_enable, and
 * ASR_FAILED_PRECONDITION when the replication's settings differ from the
 * policy (the message lists them) or a replica directory does not match
 * its disk. */
ASR_API int asr_protect_onboard(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                                uint32_t flags);

/* Flag for asr_protect_disable: remove the item even when the host cannot
 * remove the replica VM (the job says what was left). */
#define ASR_PROTECT_FORCE 0x1u

/* asr_protect_disable: disables protection of item `item_ref` (the
 * protected item's id, or its VM's id or name): replication stops, the
 * replica VM is removed from the recovery host, and its disks are deleted
 * when the policy's replica deletion is Required. Job "DisableProtection".
 * Errors: ASR_NOT_FOUND, ASR_FAILED_PRECONDITION (not allowed in the item's
 * state: the message names it), the host's error (retry with
 * ASR_PROTECT_FORCE to remove the item anyway). */
ASR_API int asr_protect_disable(asr_buffer_t** out, asr_engine_t* engine, const char* item_ref,
                                uint32_t flags);

/* asr_item_get: the protected item `ref` (its id, or its VM's id or name) as
 * a ProtectedItem (asr/model/protection.proto) with the values computed now:
 * "protectionState", "replicationHealth" and "healthErrors" (code,
 * severity, message, recommendedAction), "allowedOperations",
 * "lastRecoveryPointTimeUnix", "rpoSeconds", "disks", "replicaVmName",
 * "currentScenario", "recentCycles". Errors: ASR_NOT_FOUND. */
ASR_API int asr_item_get(asr_buffer_t** out, asr_engine_t* engine, const char* ref, uint32_t flags);

/* asr_item_list: every protected item, as asr_item_get returns them, as a
 * JSON array in id order ("[]" when none). */
ASR_API int asr_item_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_item_points: the whole-VM recovery points of item `ref` as a JSON array
 * of RecoveryPoint ("id", "sequence", "recoveryPointTimeUnix",
 * "recoveryPointType", "sourceTimeUs", "disks"), oldest first.
 * Errors: ASR_NOT_FOUND. */
ASR_API int asr_item_points(asr_buffer_t** out, asr_engine_t* engine, const char* ref,
                            uint32_t flags);

/* A site service: keeps every protected VM of the engine replicating on its
 * policy's schedule and, with serveReplicas, runs the one recovery endpoint
 * that serves every replica of the site. At most one per engine.
 * Thread safety: step, stats and stop may be called from any thread; step
 * must not run concurrently with itself. Close it before its engine. */
typedef struct asr_site_service asr_site_service_t;

/* asr_site_service_start: starts a site service over `engine`;
 * `options_json` may be NULL for the defaults, or {"replicate": true,
 * "serveReplicas": true, "listen": "127.0.0.1:0", "maxConcurrent": 4,
 * "threads": true, "transport": {as asr_engine_set_transport}}. With
 * "threads": true it schedules on its own threads until stopped; with
 * false the caller drives it with asr_site_service_step. *out is released
 * with asr_site_service_close.
 * Errors: ASR_INVALID_ARGUMENT (NULL, bad JSON or field, maxConcurrent
 * below 1, unknown flags), ASR_FAILED_PRECONDITION (a site service already
 * runs on the engine; no transport: neither set nor in the options),
 * ASR_UNAVAILABLE (cannot listen: the message names the address). */
ASR_API int asr_site_service_start(asr_site_service_t** out, asr_engine_t* engine,
                                   const char* options_json, uint32_t flags);

/* asr_site_service_step: one scheduling pass: runs the cycles that are due
 * and returns when they have finished (a failed cycle is recorded in its
 * item and retried later; it is not this call's error).
 * Errors: ASR_INVALID_ARGUMENT (NULL, unknown flags), ASR_FAILED_PRECONDITION
 * (stopped). */
ASR_API int asr_site_service_step(asr_site_service_t* service, uint32_t flags);

/* asr_site_service_stats: *out receives {"cyclesOk", "cyclesFailed",
 * "pointsCommitted" (64-bit counts as strings), "running",
 * "protectedItems", "endpointAddress" ("" when not serving replicas),
 * "nextDueSeconds"}. */
ASR_API int asr_site_service_stats(asr_buffer_t** out, asr_site_service_t* service, uint32_t flags);

/* asr_site_service_stop: stops scheduling, waits for running cycles, closes
 * the change trackers and the endpoint. Idempotent.
 * Errors: ASR_INVALID_ARGUMENT (NULL). */
ASR_API int asr_site_service_stop(asr_site_service_t* service);

/* asr_site_service_close: stops (as asr_site_service_stop) and releases the
 * site service. Accepts NULL. */
ASR_API void asr_site_service_close(asr_site_service_t* service);

/* ---- Replication (data plane) ------------------------------------------- */

/* The change tracker of one virtual disk (DISK.asrcbt next to it): the host
 * reports every guest write before completing it, and tracked replication
 * cycles then read only those blocks. A tracker that cannot prove it saw
 * every write (the process died while it was open, its map is missing or
 * corrupt) reports needsScan, and a tracked cycle scans instead.
 * Thread safety: asr_tracker_record_write and asr_tracker_status may be
 * called from any threads at once; close once, after all other calls. One
 * process at a time may have a disk's tracker open. */
typedef struct asr_tracker asr_tracker_t;

/* asr_tracker_open: opens (or creates) the tracker of `disk_path` and marks
 * it in use. `block_size` 0 takes the replication block size recorded for
 * the disk (64 KiB when none). *out is released with asr_tracker_close.
 * Errors: ASR_NOT_FOUND / ASR_INVALID_ARGUMENT (disk), I/O errors. */
ASR_API int asr_tracker_open(asr_tracker_t** out, const char* disk_path, uint32_t block_size,
                             uint32_t flags);

/* asr_tracker_record_write: records a guest write of `length` bytes at
 * `offset`. Errors: ASR_INVALID_ARGUMENT (past the end of the disk),
 * ASR_FAILED_PRECONDITION (closed). */
ASR_API int asr_tracker_record_write(asr_tracker_t* tracker, uint64_t offset, uint64_t length,
                                     uint32_t flags);

/* asr_tracker_status: *out receives {"needsScan": bool, "reason": "...",
 * "changedBlocks": "N" (a string, as 64-bit integers are in the proto3 JSON
 * mapping), "blockSize": N}. */
ASR_API int asr_tracker_status(asr_buffer_t** out, asr_tracker_t* tracker, uint32_t flags);

/* asr_tracker_close: persists the map, marks it cleanly closed and releases
 * the tracker (also when persisting fails; the code says whether it did).
 * Accepts NULL. */
ASR_API int asr_tracker_close(asr_tracker_t* tracker);

/* Replication modes (asr_replication_options_t.mode). */
#define ASR_REPLICATION_MODE_INITIAL 1      /* full copy, skips unallocated/zero ranges */
#define ASR_REPLICATION_MODE_TRACKED 2      /* the tracker's blocks only */
#define ASR_REPLICATION_MODE_SCAN 3         /* each block's digest vs. the last state */
#define ASR_REPLICATION_MODE_DIFFERENCING 4 /* a differencing child's own blocks */

/* This host's certificate, key and the vault CA (PEM files, e.g. from
 * `asrctl pki init`) for mutual TLS 1.3.
 * Versions: 1 (struct_size 4 * pointer size: through ca_path). */
typedef struct asr_tls_files {
  uint32_t struct_size; /* sizeof(asr_tls_files_t) */
  const char* cert_path;
  const char* key_path;
  const char* ca_path;
} asr_tls_files_t;

#define ASR_TLS_FILES_VERSION 1
#define ASR_TLS_FILES_INIT \
  { sizeof(asr_tls_files_t), NULL, NULL, NULL }

/* asr_tls_files_init: for bindings that cannot use ASR_TLS_FILES_INIT:
 * fills *files with the defaults of struct version `version` (1 ..
 * ASR_TLS_FILES_VERSION) and sets struct_size to that version's size;
 * *files must be at least that large.
 * Errors: ASR_INVALID_ARGUMENT (NULL files, unknown version). */
ASR_API int asr_tls_files_init(asr_tls_files_t* files, uint32_t version);

typedef struct asr_replication_progress {
  uint32_t struct_size;
  uint32_t reserved;
  uint64_t planned_read_bytes; /* bytes the cycle plans to read */
  uint64_t bytes_read;
  uint64_t bytes_sent; /* on the wire so far */
  uint64_t blocks_sent;
} asr_replication_progress_t;

/* Progress callback: called on the thread that runs the cycle, after each
 * chunk (about 1 MiB read) is sent; `progress` is valid only during the
 * call. It must not call back into the same cycle. */
typedef void (*asr_replication_progress_fn)(const asr_replication_progress_t* progress,
                                            void* payload);

/* Flag for asr_replication_options_t.flags (and asr_replication_cycle's
 * `flags`): in tracked mode, refuse the cycle (ASR_FAILED_PRECONDITION, the
 * message saying why) instead of scanning when the change map cannot prove
 * it saw every write. */
#define ASR_REPLICATION_TRACKED_ONLY 0x1u

/* Options of one replication cycle.
 * Versions: 1 (20 bytes: through app_consistent), 2 (56 bytes: adds
 * tracker, progress, payload, flags), 3 (72 bytes: adds
 * expected_receiver_name, crl_path). A caller built against an older
 * version keeps working: the fields it does not have read as zero (NULL). */
typedef struct asr_replication_options {
  uint32_t struct_size;      /* sizeof(asr_replication_options_t) */
  uint32_t mode;             /* ASR_REPLICATION_MODE_* */
  int32_t compression_level; /* 0: off (raw blocks); 1..19: zstd level */
  uint32_t block_size;       /* initial replication only; 0: 64 KiB */
  uint32_t app_consistent;   /* 1: the source snapshot was app-consistent */
  /* Version 2. */
  asr_tracker_t* tracker;               /* the host's open tracker for tracked cycles, or
                                           NULL: the disk's tracker file is opened for the
                                           cycle */
  asr_replication_progress_fn progress; /* NULL: none */
  void* payload;                        /* passed to `progress` */
  uint32_t flags;                       /* 0 or ASR_REPLICATION_TRACKED_ONLY */
  uint32_t reserved;                    /* 0 */
  /* Version 3. */
  const char* expected_receiver_name; /* the recovery host's name: the receiver's
                                         certificate must name it (a DNS or IP
                                         subjectAltName), else ASR_UNAUTHENTICATED;
                                         NULL: the `host` argument */
  const char* crl_path;               /* the vault's revocation list (crl.pem from
                                         `asrctl pki revoke|crl`): a revoked receiver
                                         is refused; NULL: none */
} asr_replication_options_t;

#define ASR_REPLICATION_OPTIONS_VERSION 3
#define ASR_REPLICATION_OPTIONS_INIT                                                               \
  {                                                                                                \
    sizeof(asr_replication_options_t), ASR_REPLICATION_MODE_SCAN, 1, 0, 0, NULL, NULL, NULL, 0, 0, \
        NULL, NULL                                                                                 \
  }

/* asr_replication_options_init: for bindings that cannot use
 * ASR_REPLICATION_OPTIONS_INIT: fills *options with the defaults of struct
 * version `version` (1 .. ASR_REPLICATION_OPTIONS_VERSION; the mode is
 * scan, the compression level 1) and sets struct_size to that version's
 * size; *options must be at least that large.
 * Errors: ASR_INVALID_ARGUMENT (NULL options, unknown version). */
ASR_API int asr_replication_options_init(asr_replication_options_t* options, uint32_t version);

/* asr_replication_run: connects to the recovery host's receiver at
 * host:port (port 0: 8084) over mutual TLS, checks that its certificate
 * names options->expected_receiver_name (default: `host`; so another host
 * of the vault cannot pose as the receiver) and is not on
 * options->crl_path, and runs one cycle of
 * `disk_path` as `options` say (mode, tracker, progress callback, flags);
 * returns after the receiver has durably committed the new recovery point.
 * *out receives a CycleStats (asr/model/replication.proto) in the proto3
 * JSON mapping: {"disk", "replicationId", "mode", "modeUsed",
 * "fallbackReason", "cycle", "baseCycle", "pointId", "bytesRead",
 * "bytesChanged", "blocksSent", "zeroRanges", "bytesSent",
 * "compressionRatio", "seconds", "bytesResumed", "bytesResent", "attempts"};
 * 64-bit counts are strings ("pointId": "2"). A connection that breaks or
 * stalls (10 minutes) mid-cycle is resumed on a new one, up to 4 in all,
 * sending only what the receiver does not hold (receivers of protocol 5;
 * "attempts", "bytesResumed" and "bytesResent" say what it took). A
 * tracked cycle whose change map cannot prove it saw every write
 * (missing, corrupt or not closed cleanly; the disk written, replaced,
 * resized or restored by anything that did not report to the tracker)
 * scans instead: "modeUsed" is then "scan" and "fallbackReason" says why
 * (empty otherwise), unless options->flags has ASR_REPLICATION_TRACKED_ONLY.
 *
 *   asr_tls_files_t tls = ASR_TLS_FILES_INIT;
 *   asr_replication_options_t opts = ASR_REPLICATION_OPTIONS_INIT;
 *   tls.cert_path = "host.pem"; tls.key_path = "host.key"; tls.ca_path = "ca.pem";
 *   opts.mode = ASR_REPLICATION_MODE_TRACKED;
 *   opts.tracker = tracker;
 *   asr_buffer_t* stats = NULL;
 *   int rc = asr_replication_run(&stats, "vm1.vhdx", "dr-host", 0, &tls, &opts);
 *
 * Errors: ASR_INVALID_ARGUMENT (NULL argument, a struct_size below the
 * struct's first version, unknown flags or mode), ASR_UNAUTHENTICATED
 * (certificate refused either way, revoked, or the receiver's certificate
 * does not name the expected receiver: the message says which name it
 * carries), ASR_FAILED_PRECONDITION also for a revocation list that is not
 * the vault CA's or past its next update, ASR_UNAVAILABLE (cannot connect,
 * connection lost: retry), ASR_FAILED_PRECONDITION (no replication state /
 * the replica is at another point: run an initial replication; with
 * ASR_REPLICATION_TRACKED_ONLY, a change map that cannot be trusted),
 * ASR_DATA_LOSS (corruption detected; nothing was applied). */
ASR_API int asr_replication_run(asr_buffer_t** out, const char* disk_path, const char* host,
                                uint16_t port, const asr_tls_files_t* tls,
                                const asr_replication_options_t* options);

/* asr_replication_cycle: the older form of asr_replication_run, kept for
 * callers built against it: `tracker`, `progress`, `payload` and `flags`
 * are given as parameters and override the same fields of `options` (whose
 * version 1 is enough). New code calls asr_replication_run. */
ASR_API int asr_replication_cycle(asr_buffer_t** out, const char* disk_path, const char* host,
                                  uint16_t port, const asr_tls_files_t* tls,
                                  const asr_replication_options_t* options, asr_tracker_t* tracker,
                                  asr_replication_progress_fn progress, void* payload,
                                  uint32_t flags);

/* asr_replica_points: *out receives the recovery points of a replica
 * directory as a JSON array of {"id", "time", "sourceTime", "consistency"
 * ("crash"|"app"), "latest", "mode"}, oldest first. Does not disturb a
 * running receiver. Errors: ASR_NOT_FOUND (not a replica directory). */
ASR_API int asr_replica_points(asr_buffer_t** out, const char* replica_dir, uint32_t flags);

/* Flag for asr_replica_restore: replace an existing output file. */
#define ASR_RESTORE_OVERWRITE 0x1u

/* asr_replica_restore: writes recovery point `point_id` to a new standalone
 * disk at `out_path` (.vhdx, .vhd or .raw by extension) without disturbing
 * replication. Errors: ASR_NOT_FOUND (unknown point), ASR_ALREADY_EXISTS. */
ASR_API int asr_replica_restore(const char* replica_dir, uint64_t point_id, const char* out_path,
                                uint32_t flags);

/* Flag for asr_replica_verify: compare only the replica with the disk's
 * replication state; do not read the source disk. */
#define ASR_VERIFY_REPLICA_ONLY 0x1u

/* asr_replica_verify: connects to the recovery host's receiver at host:port
 * (port 0: 8084) over mutual TLS (its certificate must name `host`, as
 * asr_replication_run checks by default) and verifies its latest recovery point of
 * `disk_path`: the receiver digests every block of the point and they are
 * compared with the disk's replication state (DISK.asrrepl); the source
 * disk is read (read-only) and compared too, except for the blocks its
 * change tracker marks as changed since the point. A mismatch is not an
 * error: *out receives {"pointId", "blocksChecked", "replicaMismatches",
 * "replicaMismatchBlocks", "sourceMismatches", "sourceMismatchBlocks",
 * "trackedBlocksSkipped", "flaggedBlocks", "trackerNote", "resyncRequired",
 * "reason", "bytesRead", "seconds", ...}, and when "resyncRequired" is true
 * the mismatching blocks are marked in the replication state (the next scan
 * cycle resends them) and DISK.asrresync records the reason. Must not run
 * at the same time as a cycle of the same disk.
 * Errors: ASR_UNAUTHENTICATED (certificate refused either way),
 * ASR_UNAVAILABLE (cannot connect, connection lost: retry),
 * ASR_FAILED_PRECONDITION (no replication state: run an initial
 * replication; the replica is at another point: run a cycle first; the
 * receiver speaks a protocol older than version 4), ASR_INVALID_ARGUMENT
 * (NULL argument, bad struct_size, unknown flags). */
ASR_API int asr_replica_verify(asr_buffer_t** out, const char* disk_path, const char* host,
                               uint16_t port, const asr_tls_files_t* tls, uint32_t flags);

/* ---- Bandwidth throttles -------------------------------------------------
 * Replication bandwidth limits with a weekly schedule, for the whole site
 * (every replication stream of the site shares it) or one VM (its cycles
 * obey both), stored with the site and applied by the site service
 * (asr_site_service_start) from the next second. Throttles cross as JSON of
 * asr/model/throttle.proto: a Throttle is {"id": "site" | "vm-<vm id>",
 * "vmId", "vmName", "schedule": {"defaultBitsPerSecond": "0", "windows":
 * [{"days": ["Mon", ...], "start": "08:00", "end": "18:00",
 * "bitsPerSecond": "50000000"}]}, "utcOffsetMinutes": 60,
 * "updatedTimeUnix"}; 0 bits per second is unlimited. Items read with
 * asr_item_get carry "throttleInForce" {"bitsPerSecond", "source" ("site" |
 * "vm"), "rule", "nextChangeUnix"} and "expectedRpoSeconds", and a
 * "ThrottleLimitsRpo" health warning when the limit makes the expected RPO
 * exceed 2x the copy frequency. */

/* asr_throttle_set: sets the throttle of the site or of a VM, replacing the
 * one it had. `request_json` is {"vm": "" (the site) | VM id or name,
 * "limits": ["Mon-Fri 08:00-18:00 50Mbit/s", ...], "defaultLimit":
 * "unlimited" | RATE, "utcOffset": "+01:00"} (the human form: DAYS
 * HH:MM-HH:MM RATE; days Mon..Sun, ranges Mon-Fri, lists Sat,Sun, daily;
 * rates in bit/s, kbit/s, Mbit/s, Gbit/s, bps, kbps, Mbps, Gbps, B/s, KB/s,
 * MB/s, GB/s, from 64kbit/s to 100Gbit/s) or, instead of "limits" and
 * "defaultLimit", {"schedule": {as above}}. Windows are in the site's local
 * time, UTC + utcOffset (a fixed offset; "" is UTC). *out receives the
 * stored Throttle. Errors: ASR_INVALID_ARGUMENT (NULL, bad JSON, an unknown
 * unit, day or time, an end not after its start, overlapping windows, a
 * schedule that limits nothing, unknown flags: the message says which),
 * ASR_NOT_FOUND (no such VM). */
ASR_API int asr_throttle_set(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                             uint32_t flags);

/* asr_throttle_get: the throttle of the site (`target` NULL, "" or "site")
 * or of a VM (its id or name) as a Throttle. Errors: ASR_NOT_FOUND (none
 * set: replication is unlimited; or no such VM). */
ASR_API int asr_throttle_get(asr_buffer_t** out, asr_engine_t* engine, const char* target,
                             uint32_t flags);

/* asr_throttle_list: every throttle as a JSON array of Throttle, the
 * site's first ("[]" when none). */
ASR_API int asr_throttle_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_throttle_clear: removes the throttle of the site (`target` NULL, ""
 * or "site") or of a VM: it replicates without that limit from the next
 * second. Errors: ASR_NOT_FOUND (none set, or no such VM). */
ASR_API int asr_throttle_clear(asr_engine_t* engine, const char* target, uint32_t flags);
/* ---- Replication groups (multi-VM consistency) ------------------------- */

/* A replication group's VMs get SHARED recovery points: at the group's sync
 * interval the host freezes every member's disks at one instant (the host
 * table's create_group_point, version 4), every member's disks are sent at
 * it, and the group's point ("group-recovery-point", a GroupRecoveryPoint:
 * "id", "sequence", "sourceTimeUs", "members" with each VM's
 * "recoveryPointId") exists only when every member committed the instant;
 * a failure or crash of any member leaves the previous shared point the
 * latest. A member replicates only with its group (the site service runs
 * the group's cycle instead of the member's own). Groups cross as
 * ReplicationGroup JSON ("id" "rg-<name>", "name", "protectedItemIds",
 * "syncIntervalSeconds", "latestSharedPointId", "recentCycles", ...) of
 * asr/model/groups.proto.
 *
 * Rules: a member is a Protected item of the group's one cloud pairing, in
 * no other group; at most 16 members; the sync interval is 0 (the copy
 * frequency) or 30 .. 86400 s. Errors carry the rule in
 * asr_last_error_detail() (VmInAnotherGroup, GroupMemberNotProtected,
 * GroupSpansPairings, GroupFull, GroupMemberAlreadyAdded). */

/* Flag of asr_group_latest_point, asr_group_resolve_point and
 * asr_group_replicate_now: application-consistent points only / take an
 * application-consistent point. */
#define ASR_GROUP_APP_CONSISTENT 0x1u

/* asr_group_create: a new group from `request_json` {"name", "vms": [VM
 * names or ids, or protected item ids; may be empty], "syncIntervalSeconds":
 * optional}; *out receives the ReplicationGroup.
 * Errors: ASR_INVALID_ARGUMENT (NULL, bad JSON, no name, bad interval),
 * ASR_ALREADY_EXISTS (the name), ASR_NOT_FOUND (a VM not protected),
 * ASR_FAILED_PRECONDITION (a rule above). */
ASR_API int asr_group_create(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                             uint32_t flags);

/* asr_group_add / asr_group_remove: add or remove the VMs of `request_json`
 * {"vms": [...]} to or from group `group_ref` (its id or name); *out
 * receives the group. Errors: as asr_group_create; ASR_NOT_FOUND for a
 * group that does not exist or (remove) a VM that is not a member. */
ASR_API int asr_group_add(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                          const char* request_json, uint32_t flags);
ASR_API int asr_group_remove(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                             const char* request_json, uint32_t flags);

/* asr_group_set_sync_interval: changes the group's sync interval (0: the
 * members' copy frequency); *out receives the group. */
ASR_API int asr_group_set_sync_interval(asr_buffer_t** out, asr_engine_t* engine,
                                        const char* group_ref, int32_t seconds, uint32_t flags);

/* asr_group_get / asr_group_list: a group (by id or name) / all groups as
 * a JSON array. Errors: ASR_NOT_FOUND. */
ASR_API int asr_group_get(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                          uint32_t flags);
ASR_API int asr_group_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_group_delete: removes the group and its shared point records; the
 * VMs stay protected and replicate on their own again. */
ASR_API int asr_group_delete(asr_engine_t* engine, const char* group_ref, uint32_t flags);

/* asr_group_points: the group's shared points that cover every current
 * member and whose instant every member still holds, oldest first, as a
 * JSON array of GroupRecoveryPoint. */
ASR_API int asr_group_points(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                             uint32_t flags);

/* asr_group_latest_point: the newest of asr_group_points (with
 * ASR_GROUP_APP_CONSISTENT the newest application-consistent one): what a
 * failover of the group's VMs uses. Errors: ASR_NOT_FOUND (no shared point
 * yet: the message says how to get one). */
ASR_API int asr_group_latest_point(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                                   uint32_t flags);

/* asr_group_resolve_point: the whole-VM RecoveryPoint a failover of item
 * `item_ref` uses under `option` (Site Recovery's MultiVmSyncPointOption):
 * "UseMultiVmSyncRecoveryPoint" (the VM's point in its group's latest
 * shared point; a VM in no group: its own latest) or
 * "UsePerVmRecoveryPoint" (its own latest). Errors: ASR_INVALID_ARGUMENT
 * (unknown option), ASR_NOT_FOUND (no such item or point yet). */
ASR_API int asr_group_resolve_point(asr_buffer_t** out, asr_engine_t* engine, const char* item_ref,
                                    const char* option, uint32_t flags);

/* asr_group_replicate_now: one group cycle now (what the site service does
 * at the sync interval); needs the transport (asr_engine_set_transport)
 * and a recovery endpoint (a site service). *out receives the
 * GroupCycleOutcome ("ok", "pointSequence", "sourceTimeUs",
 * "committedItemIds", "bytesSent"). Errors: the cycle's error naming the
 * member that failed (the outcome is recorded in the group's
 * "recentCycles"; no shared point was made), ASR_FAILED_PRECONDITION (no
 * members, a member not Protected, the host table has no
 * create_group_point), ASR_UNAVAILABLE (a cycle of the group is running). */
ASR_API int asr_group_replicate_now(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                                    uint32_t flags);
/* ---- Fewer bytes on the wire: the replication codec ---------------------- */

/* Flags for asr_replication_options_t.flags (and asr_replication_cycle's
 * `flags`) that choose how the cycle's block groups are compressed. Neither
 * (the default): the long codec for every cycle after the initial copy.
 *   ASR_REPLICATION_CODEC_CLASSIC: one zstd frame per group of blocks,
 *     compressed on every worker thread (as before protocol 6).
 *   ASR_REPLICATION_CODEC_LONG: one zstd stream per cycle with
 *     long-distance matching (window: the cycle's changed bytes, at most
 *     128 MiB), so data repeated anywhere in the cycle is sent once; also
 *     for an initial copy.
 * A receiver older than protocol version 6 and compression level 0 always
 * get the classic codec. The stats JSON says which one ran: "codec"
 * ("classic" or "long") and "longWindowBytes". Both flags at once:
 * ASR_INVALID_ARGUMENT. */
#define ASR_REPLICATION_CODEC_CLASSIC 0x100u
#define ASR_REPLICATION_CODEC_LONG 0x200u

/* ---- Verification and resynchronization (issue 14: verify/resync) ----------------
 *
 * A protected VM's replicas are verified against what was replicated (the
 * recovery side digests each replica's latest point). A difference (bit
 * rot, a manual edit, a replica cut short) marks the item: "resyncRequired":
 * true, "resyncState": "PreparedForResynchronization", health Critical with
 * the error "ResyncRequired", and "RepairReplication" allowed. A
 * resynchronization sends only the blocks that differ, as one new recovery
 * point ("resynchronizationState": "ResynchronizationCompleted"). The policy
 * fields "autoResynchronizeEnabled", "autoResynchronizeIntervalStart" /
 * "...End" ("HH:MM" UTC) and "verificationFrequencyInHours" let the site
 * service do both by itself. Both calls need the transport
 * (asr_engine_set_transport) and a recovery endpoint (a site service with
 * serveReplicas, here or in `asrctl site run`). */

/* asr_item_verify: verifies every replica of item `ref` (its id, or its VM's
 * id or name). *out receives an ItemVerification {"protectedItemId",
 * "vmName", "resyncRequired", "reason", "disks": [{"diskId", "name",
 * "pointId", "blocksChecked", "blockSize", "replicaMismatches",
 * "replicaMismatchBlocks", "flaggedBlocks", "resyncRequired", "reason"}],
 * "seconds"}. A difference is not an error. Errors: ASR_NOT_FOUND,
 * ASR_FAILED_PRECONDITION (no transport; the item does not replicate; no
 * replication state yet), ASR_UNAVAILABLE (a cycle of the item runs; the
 * endpoint cannot be reached: retry), ASR_INVALID_ARGUMENT. */
ASR_API int asr_item_verify(asr_buffer_t** out, asr_engine_t* engine, const char* ref,
                            uint32_t flags);

/* asr_item_resync: resynchronizes item `ref` (RepairReplication: allowed
 * only while it needs a resynchronization; else ASR_FAILED_PRECONDITION
 * naming the state). *out receives the ItemVerification of the fresh replica
 * digests with "resynchronized": true, "bytesSent" and "pointSequence" (the
 * new VM recovery point). Errors: as asr_item_verify, and the cycle's error
 * (the item then shows "ResynchronizationFailed"). */
ASR_API int asr_item_resync(asr_buffer_t** out, asr_engine_t* engine, const char* ref,
                            uint32_t flags);

/* ------------------------------------------- Verify/resync: local manifests
 *
 * Each commit on the recovery host records one digest per block of the
 * replica's latest point (REPLICA_DIR/replica.digests). */

/* asr_replica_verify_dir: re-reads the latest point of the replica in
 * `replica_dir` (sequential large reads; a running receiver is not
 * disturbed) and compares every block with the recorded digests. `point_id`:
 * 0 for the latest point, or an older kept point, read as
 * asr_replica_restore reads it (the blocks of its reverse deltas checked by
 * their recorded CRC-32C, the others against the digests). *out receives {"point",
 * "manifestRecorded", "blocks", "mismatchedBlocks", "firstMismatches" (byte offsets, at most 8),
 * "bytesRead", "ok", "message"}; differing blocks are not an error ("ok":
 * false), nor is a replica without a manifest yet ("manifestRecorded":
 * false, the next cycle records it). Errors: ASR_NOT_FOUND (not a replica
 * directory, unknown point), ASR_INVALID_ARGUMENT, ASR_FAILED_PRECONDITION
 * (no point yet), ASR_DATA_LOSS (the manifest file, or the structure of a
 * reverse delta the point reads, is damaged), ASR_UNAVAILABLE (a cycle is
 * being applied: retry). */
ASR_API int asr_replica_verify_dir(asr_buffer_t** out, const char* replica_dir, uint64_t point_id,
                                   uint32_t flags);

/* ---- Failover of protected VMs ------------------------------------------ */

/* asr_failover_start: runs failover operation `operation` of one protected
 * VM as a job and returns the job's JSON (Succeeded, or Suspended for a
 * planned failover ForDownTime: asr_job_resume does the rest). Operations
 * (ReplicationProtectedItemOperation names): "TestFailover",
 * "TestFailoverCleanup", "PlannedFailover", "UnplannedFailover", "Commit",
 * "CancelFailover", "ChangePit", "ReverseReplicate" (after a commit: the
 * old source's disks become the replica and only the blocks that differ are
 * sent), "Failback" (of a reversed item: planned failover back, commit and
 * reverse replication again). `input_json` is {"itemId" (the protected
 * item's id, or its VM's id or name), "direction" ("PrimaryToRecovery"
 * default, "RecoveryToPrimary"), "recoveryTag" ("Latest",
 * "LatestAvailable" default, "LatestAvailableApplicationConsistent",
 * "LatestAvailableCrashConsistent" (unplanned)), "recoveryPointId" (instead
 * of the tag), "networkType" (test: "None" default, "Isolated",
 * "VmNetwork" with "networkId"), "optimize" (planned:
 * "ForSynchronization" default, "ForDownTime"), "performSourceSideAction"
 * (unplanned: shut the source down first when it answers)}. The item
 * (asr_item_get) then shows "protectionState", "testFailoverState",
 * "activeLocation", "failoverRecoveryPointId", "dataLossSeconds",
 * "dataLossCycles" and the last failover times. Errors: ASR_INVALID_ARGUMENT
 * (unknown operation or value), ASR_NOT_FOUND (no such item or point),
 * ASR_FAILED_PRECONDITION (not allowed in the item's state: the message
 * names the state and what is allowed; or the VM would run on both sides),
 * ASR_UNAVAILABLE (another operation of the VM runs), the job's error. */
ASR_API int asr_failover_start(asr_buffer_t** out, asr_engine_t* engine, const char* operation,
                               const char* input_json, uint32_t flags);

/* ------------------------------------------------------------- Recovery plans
 *
 * A recovery plan gathers protected VMs of one cloud pairing into ordered
 * groups: "Shutdown" and "Failover" first (they hold no VMs), then the Boot
 * groups "Group 1", "Group 2", ... (named by position) that hold them. A
 * plan operation is one job: each group in order runs its start actions,
 * its VMs' operation in parallel (a task per VM, with a task per step) and
 * its end actions; actions apply when their "failoverTypes" name the
 * operation and their "failoverDirections" the direction. A script action
 * ({"script": {"path", "timeoutSeconds", "fabricLocation": "Primary" |
 * "Recovery"}}) runs through the host table's run_script with the plan's
 * context in its environment: ASR_RECOVERY_PLAN_CONTEXT (JSON: the plan,
 * operation, direction, group and, for every VM, where it runs now and its
 * NICs' addresses, e.g. a replica's new address for a DNS update) and the
 * plain ASR_VM_<N>_NAME / _HOST / _ADDRESS (N = 1..ASR_VM_COUNT); a
 * non-zero exit or a timeout fails the job at that task with the script's
 * output. A
 * manual action ({"manual": {"description"}}) leaves the job Suspended
 * with the description: asr_job_resume continues, asr_job_cancel stops.
 * When VMs of a group fail, the others still finish and the job fails
 * there (its "resultJson" is a RecoveryPlanRunResult listing every VM's
 * outcome); asr_job_restart runs only what did not succeed. Errors carry
 * the rule in asr_last_error_detail() (RecoveryPlanSpansPairings,
 * RecoveryPlanVmNotProtected, RecoveryPlanVmAlreadyInPlan,
 * RecoveryPlanGroupNotEmpty, RecoveryPlanJobActive,
 * OperationNotAllowedInState, ScriptActionFailed, ScriptActionTimedOut,
 * RecoveryPlanVmsFailed, ...). */

/* asr_plan_create: a new plan from `request_json` {"name", "items": [VM
 * names or ids, or protected item ids], "bootGroups": optional, 1 .. 20};
 * the VMs go to Group 1. *out receives the RecoveryPlan. Errors:
 * ASR_INVALID_ARGUMENT (NULL, bad JSON, no name or VMs), ASR_ALREADY_EXISTS
 * (the name), ASR_NOT_FOUND (a VM that is not protected),
 * ASR_FAILED_PRECONDITION (VMs of different pairings). */
ASR_API int asr_plan_create(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                            uint32_t flags);

/* asr_plan_get / asr_plan_list: a plan (by id "rp-NAME" or name) / all
 * plans as a JSON array; "allowedOperations" is what every VM allows now. */
ASR_API int asr_plan_get(asr_buffer_t** out, asr_engine_t* engine, const char* plan_ref,
                         uint32_t flags);
ASR_API int asr_plan_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags);

/* asr_plan_edit: one change from `edit_json` (RecoveryPlanEdit):
 * {"operation": "AppendGroup"} | {"operation": "RemoveGroup", "group"} |
 * {"operation": "AddProtectedItems", "group", "items"} |
 * {"operation": "RemoveProtectedItems", "items", "group": optional} |
 * {"operation": "MoveGroup", "group", "position"} |
 * {"operation": "MoveProtectedItems", "items", "toGroup"} |
 * {"operation": "AddAction", "group", "placement": "Start" | "End",
 *  "action": {"actionName", "failoverTypes", "failoverDirections",
 *  "script" | "manual"}} | {"operation": "RemoveAction", "group",
 * "actionName"}. A group is "Shutdown", "Failover", "Group N" or "N".
 * *out receives the changed plan; a refused edit changes nothing. */
ASR_API int asr_plan_edit(asr_buffer_t** out, asr_engine_t* engine, const char* plan_ref,
                          const char* edit_json, uint32_t flags);

/* asr_plan_delete: removes the plan (its VMs stay protected). Errors:
 * ASR_NOT_FOUND, ASR_FAILED_PRECONDITION while a job of it is in progress
 * or suspended. */
ASR_API int asr_plan_delete(asr_engine_t* engine, const char* plan_ref, uint32_t flags);

/* asr_plan_run: runs the operation of `request_json` (RecoveryPlanRunRequest
 * {"operation": TestFailover | TestFailoverCleanup | PlannedFailover |
 * UnplannedFailover | Commit | CancelFailover | ReverseReplicate | Failback,
 * "direction", "recoveryTag", "networkType", "networkId", "optimize",
 * "performSourceSideAction", "multiVmSyncPoint", "maxParallel"}) over the
 * plan as one job on this thread; *out receives the Job (Succeeded, or
 * Suspended at a manual action). A failed job's error names it (" (job
 * job-NNNNNN)"). Refused before any job when a VM does not allow the
 * operation now, or a job of the plan is active. */
ASR_API int asr_plan_run(asr_buffer_t** out, asr_engine_t* engine, const char* plan_ref,
                         const char* request_json, uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif /* ASR_H_ */
