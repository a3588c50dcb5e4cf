/* The layout of every public versioned struct of asr.h as a C99 compiler
 * sees it (LP64), pinned at compile time like capi/capi_layout.cc pins it
 * for C++; and the ..._init functions bindings use instead of the _INIT
 * macros, for every version of each struct. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr.h"
#include "c_check.h"

/* C99 has no static_assert: a negative array size fails to compile. */
#define PIN(name, cond) typedef char pin_##name[(cond) ? 1 : -1]

#if UINTPTR_MAX == UINT64_MAX
PIN(engine_options_size, sizeof(asr_engine_options_t) == 12);

PIN(host_callbacks_get_inventory, offsetof(asr_host_callbacks_t, get_inventory) == 8);
PIN(host_callbacks_configure_host, offsetof(asr_host_callbacks_t, configure_host) == 16);
PIN(host_callbacks_test_proxy, offsetof(asr_host_callbacks_t, test_proxy) == 24);
PIN(host_callbacks_payload, offsetof(asr_host_callbacks_t, payload) == 32);
PIN(host_callbacks_get_key_encryption_key,
    offsetof(asr_host_callbacks_t, get_key_encryption_key) == 40);
/* Version 3. */
PIN(host_callbacks_get_vm, offsetof(asr_host_callbacks_t, get_vm) == 48);
PIN(host_callbacks_create_replica_vm, offsetof(asr_host_callbacks_t, create_replica_vm) == 56);
PIN(host_callbacks_connect_nic, offsetof(asr_host_callbacks_t, connect_nic) == 64);
PIN(host_callbacks_start_vm, offsetof(asr_host_callbacks_t, start_vm) == 72);
PIN(host_callbacks_shutdown_vm, offsetof(asr_host_callbacks_t, shutdown_vm) == 80);
PIN(host_callbacks_turn_off_vm, offsetof(asr_host_callbacks_t, turn_off_vm) == 88);
PIN(host_callbacks_delete_vm, offsetof(asr_host_callbacks_t, delete_vm) == 96);
PIN(host_callbacks_get_power_state, offsetof(asr_host_callbacks_t, get_power_state) == 104);
PIN(host_callbacks_create_point, offsetof(asr_host_callbacks_t, create_point) == 112);
PIN(host_callbacks_release_point, offsetof(asr_host_callbacks_t, release_point) == 120);
PIN(host_callbacks_run_script, offsetof(asr_host_callbacks_t, run_script) == 128);
PIN(host_callbacks_attach_change_tracking,
    offsetof(asr_host_callbacks_t, attach_change_tracking) == 136);
PIN(host_callbacks_detach_change_tracking,
    offsetof(asr_host_callbacks_t, detach_change_tracking) == 144);
/* Version 4. */
PIN(host_callbacks_create_group_point, offsetof(asr_host_callbacks_t, create_group_point) == 152);
/* Version 5. */
PIN(host_callbacks_create_isolated_network,
    offsetof(asr_host_callbacks_t, create_isolated_network) == 160);
PIN(host_callbacks_delete_isolated_network,
    offsetof(asr_host_callbacks_t, delete_isolated_network) == 168);
PIN(host_callbacks_size, sizeof(asr_host_callbacks_t) == 176);

PIN(tls_files_cert_path, offsetof(asr_tls_files_t, cert_path) == 8);
PIN(tls_files_key_path, offsetof(asr_tls_files_t, key_path) == 16);
PIN(tls_files_ca_path, offsetof(asr_tls_files_t, ca_path) == 24);
PIN(tls_files_size, sizeof(asr_tls_files_t) == 32);

PIN(replication_options_mode, offsetof(asr_replication_options_t, mode) == 4);
PIN(replication_options_level, offsetof(asr_replication_options_t, compression_level) == 8);
PIN(replication_options_block_size, offsetof(asr_replication_options_t, block_size) == 12);
PIN(replication_options_app_consistent, offsetof(asr_replication_options_t, app_consistent) == 16);
PIN(replication_options_tracker, offsetof(asr_replication_options_t, tracker) == 24);
PIN(replication_options_progress, offsetof(asr_replication_options_t, progress) == 32);
PIN(replication_options_payload, offsetof(asr_replication_options_t, payload) == 40);
PIN(replication_options_flags, offsetof(asr_replication_options_t, flags) == 48);
PIN(replication_options_reserved, offsetof(asr_replication_options_t, reserved) == 52);
PIN(replication_options_receiver_name,
    offsetof(asr_replication_options_t, expected_receiver_name) == 56);
PIN(replication_options_crl_path, offsetof(asr_replication_options_t, crl_path) == 64);
PIN(replication_options_size, sizeof(asr_replication_options_t) == 72);

PIN(progress_planned, offsetof(asr_replication_progress_t, planned_read_bytes) == 8);
PIN(progress_bytes_read, offsetof(asr_replication_progress_t, bytes_read) == 16);
PIN(progress_bytes_sent, offsetof(asr_replication_progress_t, bytes_sent) == 24);
PIN(progress_blocks_sent, offsetof(asr_replication_progress_t, blocks_sent) == 32);
PIN(progress_size, sizeof(asr_replication_progress_t) == 40);
#endif

int main(void) {
  asr_replication_options_t opts;
  asr_replication_options_t init = ASR_REPLICATION_OPTIONS_INIT;
  asr_tls_files_t tls;
  unsigned char* v1;

  /* The current version equals the _INIT macro. */
  memset(&opts, 0xab, sizeof(opts));
  CHECK(asr_replication_options_init(&opts, ASR_REPLICATION_OPTIONS_VERSION) == ASR_OK);
  CHECK(opts.struct_size == sizeof(asr_replication_options_t));
  CHECK(opts.mode == init.mode && opts.compression_level == init.compression_level);
  CHECK(opts.block_size == 0 && opts.app_consistent == 0 && opts.tracker == NULL &&
        opts.progress == NULL && opts.payload == NULL && opts.flags == 0 && opts.reserved == 0);
  CHECK(opts.expected_receiver_name == NULL && opts.crl_path == NULL);

  /* Version 1 writes its 20 bytes and nothing after them. */
  v1 = (unsigned char*)malloc(sizeof(asr_replication_options_t));
  CHECK(v1 != NULL);
  if (v1 != NULL) {
    memset(v1, 0xab, sizeof(asr_replication_options_t));
    CHECK(asr_replication_options_init((asr_replication_options_t*)v1, 1) == ASR_OK);
    CHECK(((asr_replication_options_t*)v1)->struct_size == 20);
    CHECK(((asr_replication_options_t*)v1)->mode == ASR_REPLICATION_MODE_SCAN);
    CHECK(v1[20] == 0xab && v1[sizeof(asr_replication_options_t) - 1] == 0xab);
    free(v1);
  }
  /* Version 2 writes its 56 bytes and nothing after them. */
  v1 = (unsigned char*)malloc(sizeof(asr_replication_options_t));
  CHECK(v1 != NULL);
  if (v1 != NULL) {
    memset(v1, 0xab, sizeof(asr_replication_options_t));
    CHECK(asr_replication_options_init((asr_replication_options_t*)v1, 2) == ASR_OK);
    CHECK(((asr_replication_options_t*)v1)->struct_size == 56);
    CHECK(((asr_replication_options_t*)v1)->tracker == NULL);
    CHECK(v1[56] == 0xab && v1[sizeof(asr_replication_options_t) - 1] == 0xab);
    free(v1);
  }
  CHECK(asr_replication_options_init(&opts, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_replication_options_init(&opts, ASR_REPLICATION_OPTIONS_VERSION + 1) ==
        ASR_INVALID_ARGUMENT);
  CHECK(asr_replication_options_init(NULL, 1) == ASR_INVALID_ARGUMENT);

  memset(&tls, 0xab, sizeof(tls));
  CHECK(asr_tls_files_init(&tls, ASR_TLS_FILES_VERSION) == ASR_OK);
  CHECK(tls.struct_size == sizeof(asr_tls_files_t) && tls.cert_path == NULL &&
        tls.key_path == NULL && tls.ca_path == NULL);
  CHECK(asr_tls_files_init(&tls, 2) == ASR_INVALID_ARGUMENT);
  CHECK(asr_tls_files_init(NULL, 1) == ASR_INVALID_ARGUMENT);

  /* A struct smaller than its first version is refused, naming it. */
  tls.struct_size = 4;
  CHECK(asr_replica_verify(NULL, "d.vhdx", "127.0.0.1", 1, &tls, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_replica_points(NULL, "x", 0) == ASR_INVALID_ARGUMENT);
  {
    asr_buffer_t* buf = NULL;
    CHECK(asr_replica_verify(&buf, "d.vhdx", "127.0.0.1", 1, &tls, 0) == ASR_INVALID_ARGUMENT);
    CHECK(strstr(asr_last_error_message(), "asr_tls_files_t") != NULL);
    CHECK(buf == NULL);
  }
  return check_summary();
}
