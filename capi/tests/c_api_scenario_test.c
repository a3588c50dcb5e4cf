/* The whole disaster-recovery scenario from plain C99 through asr.h alone,
 * as a VMM provider DLL drives it: the host callback table (version 5) is
 * written in C (c_host_table.h) over VMs whose disks are real VHDX files
 * the test creates and writes (c_vhdx.h), with the power states, replica
 * VMs, points, change-tracking sinks and isolated networks kept by the
 * table. The
 * scenario: open, register both VMM servers with a registration key, sync
 * their inventories from the table, pair the clouds under a policy (the
 * table configures each host), map networks and storage, protect VM1
 * (initial replication over loopback TLS), test failover on an isolated
 * network and its cleanup, planned failover, commit, reverse replication,
 * failback, close, reopen. Every guest write is kept in a shadow copy of
 * each disk, and at each step the disks the running VM uses (or a restored
 * recovery point) must equal it byte for byte.
 *
 * argv[1]: asrctl, used once to make the vault PKI for loopback TLS. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "asr.h"
#include "c_check.h"
#include "c_host_table.h"
#include "c_json.h"

/* ---- Driving asr ------------------------------------------------------------ */

/* A call returning a job: ASR_OK and a Succeeded job. */
static int job_ok(int rc, asr_buffer_t* job, const char* what) {
  int ok = rc == ASR_OK && job != NULL &&
           strstr(asr_buffer_data(job), "\"state\":\"Succeeded\"") != NULL;
  if (!ok) fprintf(stderr, "%s: %s (%s)\n", what, asr_status_name(rc), asr_last_error_message());
  asr_buffer_dispose(job);
  return ok;
}

#define JOB(call, what)              \
  do {                               \
    asr_buffer_t* job = NULL;        \
    int rc_ = (call);                \
    CHECK(job_ok(rc_, job, (what))); \
  } while (0)

/* The protected item of VM1 as a tree (free with cj_free). */
static cj_value* item(asr_engine_t* engine) {
  asr_buffer_t* b = NULL;
  cj_value* v = NULL;
  if (asr_item_get(&b, engine, "VM1", 0) == ASR_OK) v = cj_parse(asr_buffer_data(b));
  asr_buffer_dispose(b);
  return v;
}

/* 1 when VM1's item shows `value` in string field `field`. */
static int item_is(asr_engine_t* engine, const char* field, const char* value) {
  cj_value* v = item(engine);
  int ok = strcmp(cj_str(cj_get(v, field), ""), value) == 0;
  if (!ok)
    fprintf(stderr, "item %s: \"%s\", expected \"%s\"\n", field, cj_str(cj_get(v, field), "(none)"),
            value);
  cj_free(v);
  return ok;
}

static int reversed(asr_engine_t* engine) {
  cj_value* v = item(engine);
  int r = strcmp(cj_str(cj_get(v, "reversed"), "false"), "true") == 0;
  cj_free(v);
  return r;
}

static int failover(asr_engine_t* engine, const char* operation, const char* input) {
  asr_buffer_t* job = NULL;
  int rc = asr_failover_start(&job, engine, operation, input, 0);
  return job_ok(rc, job, operation);
}

static char* quoted(const char* text) {
  cj_buf b = {0, 0, 0};
  cj_quote(&b, text);
  return b.data;
}

int main(int argc, char** argv) {
  static host_state h;
  const char* tmp = getenv("TEST_TMPDIR");
  char cmd[4096], state[1200], pki[1200], text[2048], options[4096];
  asr_engine_t* engine = NULL;
  asr_site_service_t* site = NULL;
  asr_host_callbacks_t table;
  asr_buffer_t* b = NULL;
  cj_value* v;
  char* credentials;
  char replica_vm[128] = "", test_vm[128] = "", replica_path[MAX_DISKS][1100];
  int k;

  if (argc < 2 || tmp == NULL) {
    fprintf(stderr, "usage: c_api_scenario_test ASRCTL (under bazel test)\n");
    return 2;
  }
  snprintf(h.root, sizeof h.root, "%s/capi-scenario", tmp);
  snprintf(state, sizeof state, "%s/state", h.root);
  snprintf(pki, sizeof pki, "%s/pki", h.root);
  snprintf(cmd, sizeof cmd,
           "rm -rf '%s' && mkdir -p '%s' && '%s' pki init --dir '%s' --recovery-san 127.0.0.1 "
           ">/dev/null",
           h.root, h.root, argv[1], pki);
  if (run(cmd) != 0) return 1;
  CHECK(host_make_dirs(&h));
  CHECK(add_source_vm(&h, "vm1", "VM1", 2));
  CHECK(add_source_vm(&h, "vm2", "VM2", 1));
  CHECK(guest_write(&h, "vm1", 0, 1u << 20, 128u << 10, 11));
  CHECK(guest_write(&h, "vm1", 1, 3u << 20, 64u << 10, 12));

  /* Open, with a key provider and the host table. */
  CHECK(asr_engine_open(&engine, state, NULL, 0) == ASR_OK);
  if (engine == NULL) return check_summary();
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);
  CHECK(setenv("ASR_TEST_KEK", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
               1) == 0);
  CHECK(asr_engine_set_key_file(engine, "ASR_TEST_KEK", ASR_KEY_FROM_ENVIRONMENT) == ASR_OK);
  table = host_table(&h);
  CHECK(asr_engine_set_host_callbacks(engine, &table, 0) == ASR_OK);

  /* Vault, registration key, both VMM servers. */
  JOB(asr_vault_create(&job, engine, "contoso-dr", "eastus", 0), "vault");
  CHECK(asr_key_generate(&b, engine, 0) == ASR_OK);
  credentials = quoted(b != NULL ? asr_buffer_data(b) : "");
  asr_buffer_dispose(b);
  b = NULL;
  {
    cj_buf ny = {0, 0, 0}, chi = {0, 0, 0};
    cj_printf(&ny, "{\"credentials\":%s,\"friendlyName\":\"vmm-ny\",\"siteId\":\"primary\"}",
              credentials);
    cj_printf(&chi, "{\"credentials\":%s,\"friendlyName\":\"vmm-chi\",\"siteId\":\"recovery\"}",
              credentials);
    JOB(asr_server_register(&job, engine, ny.data, 0), "register vmm-ny");
    JOB(asr_server_register(&job, engine, chi.data, 0), "register vmm-chi");
    free(ny.data);
    free(chi.data);
  }
  free(credentials);
  CHECK(asr_object_list(&b, engine, "server", 0) == ASR_OK);
  v = cj_parse(asr_buffer_data(b));
  CHECK(cj_len(v) == 2);
  cj_free(v);
  asr_buffer_dispose(b);

  /* Inventories from the host table. */
  JOB(asr_inventory_sync(&job, engine, "vmm-ny", NULL, NULL, 0), "sync vmm-ny");
  JOB(asr_inventory_sync(&job, engine, "vmm-chi", NULL, NULL, 0), "sync vmm-chi");
  JOB(asr_inventory_sync(&job, engine, "vmm-ny", NULL, "GoldCloud1", 0), "sync GoldCloud1");
  JOB(asr_inventory_sync(&job, engine, "vmm-chi", NULL, "GoldCloud2", 0), "sync GoldCloud2");
  CHECK(h.inventory_calls == 4);
  CHECK(asr_object_get(&b, engine, "vm", "vm1", 0) == ASR_OK);
  v = cj_parse(asr_buffer_data(b));
  CHECK(strcmp(cj_str(cj_get(v, "name"), ""), "VM1") == 0);
  CHECK(cj_len(cj_get(v, "disks")) == 2);
  cj_free(v);
  asr_buffer_dispose(b);

  /* Pairing under a policy: the table configures both clouds' hosts. */
  JOB(asr_cloud_pair(&job, engine, "GoldCloud1", "GoldCloud2", 0), "pair");
  JOB(asr_policy_create(&job, engine,
                        "{\"name\":\"gold\",\"replicationProvider\":\"HyperVReplica2012R2\","
                        "\"replicationFrequencyInSeconds\":30,"
                        "\"numberOfRecoveryPointsToRetain\":2}",
                        0),
      "policy");
  JOB(asr_policy_associate(&job, engine, "gold", "GoldCloud1", 0), "associate");
  CHECK(h.configured_primary >= 1 && h.configured_recovery >= 1);

  /* Network and storage mappings. */
  CHECK(asr_network_mapping_add(
            &b, engine, "{\"sourceVmNetworkId\":\"vmn1-ny\",\"targetVmNetworkId\":\"vmn1-chi\"}",
            0) == ASR_OK);
  asr_buffer_dispose(b);
  CHECK(asr_storage_mapping_add(
            &b, engine,
            "{\"sourceClassificationId\":\"sc-gold\",\"targetClassificationId\":\"sc-gold-t\"}",
            0) == ASR_OK);
  asr_buffer_dispose(b);
  CHECK(asr_network_mapping_resolve(&b, engine, "VM1", 0) == ASR_OK);
  CHECK(b != NULL && strstr(asr_buffer_data(b), "vmn1-chi") != NULL);
  asr_buffer_dispose(b);

  /* Loopback TLS to the site service's replica endpoint. */
  snprintf(text, sizeof text, "{\"pkiDir\":\"%s\",\"pointIntervalSeconds\":1}", pki);
  CHECK(asr_engine_set_transport(engine, text, 0) == ASR_OK);
  snprintf(options, sizeof options, "{\"threads\":false,\"transport\":%s}", text);
  CHECK(asr_site_service_start(&site, engine, options, 0) == ASR_OK);

  /* Protect VM1: a stopped replica VM on the recovery host, initial
   * replication; VM2 stays unprotected. */
  JOB(asr_protect_enable(&job, engine, "{\"vm\":\"VM1\"}", 0), "protect VM1");
  CHECK(item_is(engine, "protectionState", "Protected"));
  v = item(engine);
  COPY(replica_vm, cj_str(cj_get(v, "replicaVmId"), ""));
  for (k = 0; k < MAX_DISKS; ++k) {
    COPY(replica_path[k], cj_str(cj_get(cj_at(cj_get(v, "disks"), (size_t)k), "replicaPath"), ""));
  }
  cj_free(v);
  {
    host_vm* r = find_vm(&h, replica_vm);
    CHECK(r != NULL && !r->running && strcmp(r->host, "hv-chi-01") == 0);
    CHECK(r != NULL && r->ndisks == 2 && strcmp(r->nics[0].network, "vmn1-chi") == 0);
    for (k = 0; r != NULL && k < r->ndisks; ++k) {
      CHECK(strcmp(r->disks[k].path, replica_path[k]) == 0);
      CHECK(disk_matches(r->disks[k].path, k)); /* the initial copy */
    }
  }
  CHECK(asr_item_get(&b, engine, "VM2", 0) == ASR_NOT_FOUND);
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(h.points >= 1 && h.points == h.points_released);

  /* The site service tracks VM1's disks through the table's sinks. */
  CHECK(asr_site_service_step(site, 0) == ASR_OK);
  CHECK(find_sink(&h, "vm1", "vm1-d0") != NULL && find_sink(&h, "vm1", "vm1-d1") != NULL);

  /* Test failover on an isolated network: a running test VM beside
   * production, on the point the guest wrote before protection. */
  CHECK(failover(engine, "TestFailover", "{\"itemId\":\"VM1\",\"networkType\":\"Isolated\"}"));
  CHECK(item_is(engine, "testFailoverState", "TestFailoverCompleted"));
  v = item(engine);
  COPY(test_vm, cj_str(cj_get(v, "testVmId"), ""));
  cj_free(v);
  {
    host_vm* t = find_vm(&h, test_vm);
    host_vm* src = find_vm(&h, "vm1");
    CHECK(t != NULL && t->running && strncmp(t->nics[0].network, "isolated-", 9) == 0);
    CHECK(src != NULL && src->running); /* production goes on */
  }
  /* The point under test holds the guest's data (restored from the replica). */
  CHECK(asr_item_points(&b, engine, "VM1", 0) == ASR_OK);
  v = cj_parse(b != NULL ? asr_buffer_data(b) : "");
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(cj_len(v) >= 1);
  if (cj_len(v) >= 1) {
    cj_value* point = cj_at(v, cj_len(v) - 1);
    cj_value* it = item(engine);
    for (k = 0; k < MAX_DISKS; ++k) {
      char out[1200];
      const char* dir = cj_str(cj_get(cj_at(cj_get(it, "disks"), (size_t)k), "replicaDir"), "");
      const char* id =
          cj_str(cj_get(cj_at(cj_get(point, "disks"), (size_t)k), "replicaPointId"), "0");
      snprintf(out, sizeof out, "%s/tested-%d.raw", h.root, k);
      CHECK(asr_replica_restore(dir, strtoull(id, NULL, 10), out, ASR_RESTORE_OVERWRITE) == ASR_OK);
      CHECK(raw_matches(out, k));
    }
    cj_free(it);
  }
  cj_free(v);
  CHECK(failover(engine, "TestFailoverCleanup", "{\"itemId\":\"VM1\"}"));
  CHECK(item_is(engine, "testFailoverState", "None"));
  CHECK(find_vm(&h, test_vm) == NULL);
  CHECK(h.isolated[0][0] == '\0' && h.isolated[1][0] == '\0');

  /* More guest writes, reported through the sinks; then planned failover:
   * the source shuts down, the last changes cross, the replica starts with
   * every write. */
  CHECK(guest_write(&h, "vm1", 0, 5u << 20, 64u << 10, 21));
  CHECK(guest_write(&h, "vm1", 1, 0, 4096, 22));
  CHECK(g_sink_records == 2);
  CHECK(failover(engine, "PlannedFailover", "{\"itemId\":\"VM1\"}"));
  CHECK(item_is(engine, "protectionState", "PlannedFailoverCompleted"));
  {
    host_vm* src = find_vm(&h, "vm1");
    host_vm* r = find_vm(&h, replica_vm);
    CHECK(src != NULL && !src->running);
    CHECK(r != NULL && r->running && strcmp(r->nics[0].network, "vmn1-chi") == 0);
    for (k = 0; r != NULL && k < r->ndisks; ++k) CHECK(disk_matches(r->disks[k].path, k));
  }
  CHECK(failover(engine, "Commit", "{\"itemId\":\"VM1\"}"));
  CHECK(item_is(engine, "protectionState", "Committed"));

  /* The failed-over VM works in Chicago; reverse replication sends its
   * changes home. */
  CHECK(guest_write(&h, replica_vm, 0, 2u << 20, 64u << 10, 31));
  CHECK(guest_write(&h, replica_vm, 1, 1u << 20, 8192, 32));
  CHECK(failover(engine, "ReverseReplicate", "{\"itemId\":\"VM1\"}"));
  CHECK(item_is(engine, "protectionState", "Protected"));
  CHECK(reversed(engine));
  CHECK(item_is(engine, "vmId", replica_vm));
  CHECK(guest_write(&h, replica_vm, 0, 6u << 20, 4096, 33));

  /* Failback: VM1 runs in New York again with everything the guest wrote
   * on either side, protected in the original direction. */
  CHECK(failover(engine, "Failback", "{\"itemId\":\"VM1\",\"direction\":\"RecoveryToPrimary\"}"));
  CHECK(item_is(engine, "protectionState", "Protected"));
  CHECK(!reversed(engine));
  CHECK(item_is(engine, "vmId", "vm1"));
  {
    host_vm* src = find_vm(&h, "vm1");
    host_vm* r = find_vm(&h, replica_vm);
    CHECK(src != NULL && src->running && r != NULL && !r->running);
    for (k = 0; src != NULL && k < src->ndisks; ++k) CHECK(disk_matches(src->disks[k].path, k));
  }
  CHECK(guest_write(&h, "vm1", 0, 7u << 20, 4096, 41));
  CHECK(h.points == h.points_released);

  /* Every job of the scenario succeeded. */
  CHECK(asr_job_list(&b, engine, "{\"state\":\"Failed\"}", 0) == ASR_OK);
  CHECK(b != NULL && strcmp(asr_buffer_data(b), "[]") == 0);
  asr_buffer_dispose(b);
  b = NULL;

  /* Close; the state survives a reopen. */
  CHECK(asr_site_service_stop(site) == ASR_OK);
  asr_site_service_close(site);
  asr_engine_close(engine);
  engine = NULL;
  CHECK(asr_engine_open(&engine, state, NULL, 0) == ASR_OK);
  CHECK(item_is(engine, "protectionState", "Protected"));
  CHECK(item_is(engine, "replicaVmId", replica_vm));
  asr_engine_close(engine);

  for (k = 0; k < MAX_DISKS; ++k) free(g_shadow[k]);
  return check_summary();
}
