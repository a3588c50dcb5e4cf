// capi/capi_layout.cc: pins the layout (size and field offsets) of every
// public versioned struct of asr.h on LP64 targets, so that a change that
// would move a field an older caller relies on fails to compile. Fields are
// only ever appended; a new version adds its fields here.
// capi/tests/c_api_layout_test.c pins the same numbers as the C compiler
// sees them.
//
//   static_assert(offsetof(asr_tls_files_t, ca_path) == 24, "...");
#include <cstddef>
#include <cstdint>

#include "asr.h"

#if UINTPTR_MAX == UINT64_MAX

#define ASR_PIN(type, field, offset) \
  static_assert(offsetof(type, field) == (offset), #type "." #field " moved")

ASR_PIN(asr_engine_options_t, struct_size, 0);
static_assert(sizeof(asr_engine_options_t) == 12, "asr_engine_options_t changed size");

ASR_PIN(asr_host_callbacks_t, struct_size, 0);
ASR_PIN(asr_host_callbacks_t, reserved, 4);
ASR_PIN(asr_host_callbacks_t, get_inventory, 8);
ASR_PIN(asr_host_callbacks_t, configure_host, 16);
ASR_PIN(asr_host_callbacks_t, test_proxy, 24);
ASR_PIN(asr_host_callbacks_t, payload, 32);
// Version 2.
ASR_PIN(asr_host_callbacks_t, get_key_encryption_key, 40);
// Version 3.
ASR_PIN(asr_host_callbacks_t, get_vm, 48);
ASR_PIN(asr_host_callbacks_t, create_replica_vm, 56);
ASR_PIN(asr_host_callbacks_t, connect_nic, 64);
ASR_PIN(asr_host_callbacks_t, start_vm, 72);
ASR_PIN(asr_host_callbacks_t, shutdown_vm, 80);
ASR_PIN(asr_host_callbacks_t, turn_off_vm, 88);
ASR_PIN(asr_host_callbacks_t, delete_vm, 96);
ASR_PIN(asr_host_callbacks_t, get_power_state, 104);
ASR_PIN(asr_host_callbacks_t, create_point, 112);
ASR_PIN(asr_host_callbacks_t, release_point, 120);
ASR_PIN(asr_host_callbacks_t, run_script, 128);
ASR_PIN(asr_host_callbacks_t, attach_change_tracking, 136);
ASR_PIN(asr_host_callbacks_t, detach_change_tracking, 144);
// Version 4.
ASR_PIN(asr_host_callbacks_t, create_group_point, 152);
// Version 5.
ASR_PIN(asr_host_callbacks_t, create_isolated_network, 160);
ASR_PIN(asr_host_callbacks_t, delete_isolated_network, 168);
static_assert(sizeof(asr_host_callbacks_t) == 176, "asr_host_callbacks_t changed size");

ASR_PIN(asr_tls_files_t, struct_size, 0);
ASR_PIN(asr_tls_files_t, cert_path, 8);
ASR_PIN(asr_tls_files_t, key_path, 16);
ASR_PIN(asr_tls_files_t, ca_path, 24);
static_assert(sizeof(asr_tls_files_t) == 32, "asr_tls_files_t changed size");

// Version 1 ends after app_consistent (20 bytes).
ASR_PIN(asr_replication_options_t, struct_size, 0);
ASR_PIN(asr_replication_options_t, mode, 4);
ASR_PIN(asr_replication_options_t, compression_level, 8);
ASR_PIN(asr_replication_options_t, block_size, 12);
ASR_PIN(asr_replication_options_t, app_consistent, 16);
// Version 2.
ASR_PIN(asr_replication_options_t, tracker, 24);
ASR_PIN(asr_replication_options_t, progress, 32);
ASR_PIN(asr_replication_options_t, payload, 40);
ASR_PIN(asr_replication_options_t, flags, 48);
ASR_PIN(asr_replication_options_t, reserved, 52);
// Version 3.
ASR_PIN(asr_replication_options_t, expected_receiver_name, 56);
ASR_PIN(asr_replication_options_t, crl_path, 64);
static_assert(sizeof(asr_replication_options_t) == 72, "asr_replication_options_t changed size");

ASR_PIN(asr_replication_progress_t, struct_size, 0);
ASR_PIN(asr_replication_progress_t, reserved, 4);
ASR_PIN(asr_replication_progress_t, planned_read_bytes, 8);
ASR_PIN(asr_replication_progress_t, bytes_read, 16);
ASR_PIN(asr_replication_progress_t, bytes_sent, 24);
ASR_PIN(asr_replication_progress_t, blocks_sent, 32);
static_assert(sizeof(asr_replication_progress_t) == 40, "asr_replication_progress_t changed size");

#undef ASR_PIN

#endif  // LP64
