/* The mapping part of the C API exercised from plain C99: the documents'
 * New York/Chicago example, its inventory put as JSON objects and its clouds
 * paired, then mapped, resolved and
 * placed through asr_network_mapping_*, asr_storage_mapping_* and
 * asr_placement_show. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "c_check.h"

/* Writes a key file (64 hex digits and a newline, mode 0600) at `path`, as
 * `asrctl key-provider init` does; 1 on success. */
static int write_key_file(const char* path, const char* hex) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  int ok;
  if (fd < 0) return 0;
  ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && write(fd, "\n", 1) == 1;
  return close(fd) == 0 && ok;
}

static int contains(const asr_buffer_t* b, const char* text) {
  return b != NULL && strstr(asr_buffer_data(b), text) != NULL;
}

static void put(asr_engine_t* e, const char* kind, const char* json) {
  int rc = asr_object_put(e, kind, json, 0);
  if (rc != ASR_OK) fprintf(stderr, "put %s: %s\n", kind, json);
  CHECK(rc == ASR_OK);
}

/* `text` as a JSON string literal (quotes and backslashes escaped, newlines
 * as \n) in a malloc'd string. */
static char* json_string(const char* text) {
  char* out = malloc(2 * strlen(text) + 3);
  char* o = out;
  CHECK(out != NULL);
  *o++ = '"';
  for (const char* c = text; *c; ++c) {
    if (*c == '"' || *c == '\\') {
      *o++ = '\\';
      *o++ = *c;
    } else if (*c == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else {
      *o++ = *c;
    }
  }
  *o++ = '"';
  *o = 0;
  return out;
}

static void register_server(asr_engine_t* e, const char* key, const char* name, const char* site) {
  char* credentials = json_string(key);
  char* request = malloc(strlen(credentials) + 128);
  asr_buffer_t* job = NULL;
  CHECK(request != NULL);
  sprintf(request, "{\"credentials\":%s,\"friendlyName\":\"%s\",\"siteId\":\"%s\"}", credentials,
          name, site);
  CHECK(asr_server_register(&job, e, request, 0) == ASR_OK);
  asr_buffer_dispose(job);
  free(request);
  free(credentials);
}

/* Pairings are written only by asr_cloud_pair (asr_object_put refuses
 * them): a vault, both servers registered, then the pairing
 * "pair-gold1-gold2". */
static void pair_gold(asr_engine_t* e) {
  asr_buffer_t* b = NULL;
  asr_buffer_t* key = NULL;
  CHECK(asr_vault_create(&b, e, "contoso", "on-premises", 0) == ASR_OK);
  asr_buffer_dispose(b);
  CHECK(asr_key_generate(&key, e, 0) == ASR_OK);
  register_server(e, asr_buffer_data(key), "vmm-ny", "primary");
  register_server(e, asr_buffer_data(key), "vmm-chi", "recovery");
  asr_buffer_dispose(key);
  b = NULL;
  CHECK(asr_cloud_pair(&b, e, "GoldCloud1", "GoldCloud2", 0) == ASR_OK);
  asr_buffer_dispose(b);
}

static void load_example(asr_engine_t* e) {
  put(e, "logical-network",
      "{\"id\":\"ln1-ny\",\"name\":\"LogicalNetwork1-NewYork\",\"serverId\":\"vmm-ny\"}");
  put(e, "logical-network",
      "{\"id\":\"ln1-chi\",\"name\":\"LogicalNetwork1-Chicago\",\"serverId\":\"vmm-chi\"}");
  put(e, "logical-network",
      "{\"id\":\"ln2-chi\",\"name\":\"LogicalNetwork2Chicago\",\"serverId\":\"vmm-chi\"}");
  put(e, "vm-network",
      "{\"id\":\"net1-ny\",\"name\":\"VMNetwork1-NewYork\",\"serverId\":\"vmm-ny\","
      "\"logicalNetworkId\":\"ln1-ny\",\"subnets\":[{\"name\":\"Subnet1\"},{\"name\":\"Subnet3\"}]"
      "}");
  put(e, "vm-network",
      "{\"id\":\"net2-ny\",\"name\":\"VMNetwork2-NewYork\",\"serverId\":\"vmm-ny\","
      "\"logicalNetworkId\":\"ln1-ny\",\"subnets\":[{\"name\":\"Subnet1\"}]}");
  put(e, "vm-network",
      "{\"id\":\"net1-chi\",\"name\":\"VMNetwork1-Chicago\",\"serverId\":\"vmm-chi\","
      "\"logicalNetworkId\":\"ln1-chi\",\"subnets\":[{\"name\":\"Backend\"},{\"name\":\"Subnet1\"}]"
      "}");
  put(e, "vm-network",
      "{\"id\":\"net2-chi\",\"name\":\"VMNetwork2-Chicago\",\"serverId\":\"vmm-chi\","
      "\"logicalNetworkId\":\"ln2-chi\",\"subnets\":[{\"name\":\"Subnet1\"}]}");
  put(e, "cloud",
      "{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"serverId\":\"vmm-ny\","
      "\"metadataSynced\":true,\"capabilityProfiles\":[\"Hyper-V\"],"
      "\"hostGroupIds\":[\"hg-ny\"],\"logicalNetworkIds\":[\"ln1-ny\"]}");
  put(e, "cloud",
      "{\"id\":\"gold2\",\"name\":\"GoldCloud2\",\"serverId\":\"vmm-chi\","
      "\"metadataSynced\":true,\"capabilityProfiles\":[\"Hyper-V\"],"
      "\"hostGroupIds\":[\"hg-chi\"],\"logicalNetworkIds\":[\"ln1-ny\",\"ln1-chi\"],"
      "\"storageClassificationIds\":[\"GOLD_TARGET\"]}");
  put(e, "host-group", "{\"id\":\"hg-chi\",\"serverId\":\"vmm-chi\",\"hostIds\":[\"chicago-h1\"]}");
  put(e, "host",
      "{\"id\":\"chicago-h1\",\"name\":\"chicago-h1\",\"serverId\":\"vmm-chi\","
      "\"defaultStoragePath\":\"D:\\\\Replica\",\"defaultStorageFreeBytes\":\"1099511627776\","
      "\"logicalNetworkIds\":[\"ln1-chi\"],\"storageTargetIds\":[\"TargetVolume1\"]}");
  put(e, "storage-classification",
      "{\"id\":\"GOLD\",\"name\":\"GOLD\",\"serverId\":\"vmm-ny\",\"targets\":[{\"id\":"
      "\"SourceVolume1\","
      "\"name\":\"SourceVolume1\",\"path\":\"C:\\\\ClusterStorage\\\\SourceVolume1\",\"type\":"
      "\"CLUSTER_SHARED_VOLUME\"}]}");
  put(e, "storage-classification",
      "{\"id\":\"GOLD_TARGET\",\"name\":\"GOLD_TARGET\",\"serverId\":\"vmm-chi\",\"targets\":[{"
      "\"id\":\"TargetVolume1\","
      "\"name\":\"TargetVolume1\",\"path\":\"C:\\\\ClusterStorage\\\\TargetVolume1\",\"type\":"
      "\"CLUSTER_SHARED_VOLUME\","
      "\"freeBytes\":\"2199023255552\"}]}");
  put(e, "vm",
      "{\"id\":\"vm1\",\"name\":\"VM1\",\"serverId\":\"vmm-ny\",\"cloudId\":\"gold1\","
      "\"networkAdapters\":[{\"id\":\"vm1-nic0\",\"vmNetworkId\":\"net1-ny\",\"subnetName\":"
      "\"Subnet3\"}],"
      "\"disks\":[{\"id\":\"vm1-d0\",\"name\":\"VM1.vhdx\",\"sizeBytes\":\"107374182400\","
      "\"storageTargetId\":\"SourceVolume1\"}]}");
  pair_gold(e);
  put(e, "protected-item",
      "{\"id\":\"pi-vm1\",\"vmId\":\"vm1\",\"pairingId\":\"pair-gold1-gold2\"}");
}

static void test_network_mappings(asr_engine_t* e) {
  asr_buffer_t* b = NULL;
  CHECK(asr_network_mapping_add(&b, e,
                                "{\"sourceVmNetworkId\":\"VMNetwork1-NewYork\","
                                "\"targetVmNetworkId\":\"VMNetwork1-Chicago\"}",
                                0) == ASR_OK);
  CHECK(contains(b, "\"operation\":\"create\""));
  CHECK(contains(b, "\"nicId\":\"vm1-nic0\""));
  CHECK(contains(b, "\"targetSubnetName\":\"Backend\"")); /* no Subnet3: the first */
  CHECK(contains(b, "\"jobId\":\"job-"));
  asr_buffer_dispose(b);
  b = NULL;

  /* A source network maps to at most one target. */
  CHECK(asr_network_mapping_add(
            &b, e, "{\"sourceVmNetworkId\":\"net1-ny\",\"targetVmNetworkId\":\"net2-chi\"}", 0) ==
        ASR_ALREADY_EXISTS);
  CHECK(b == NULL);
  CHECK(strstr(asr_last_error_message(), "already mapped") != NULL);
  CHECK(asr_network_mapping_add(&b, e, "{}", 0x8000) == ASR_INVALID_ARGUMENT);
  CHECK(asr_network_mapping_add(&b, e, "{\"nope\":1}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_network_mapping_add(NULL, e, "{}", 0) == ASR_INVALID_ARGUMENT);

  CHECK(asr_network_mapping_list(&b, e, 0) == ASR_OK);
  CHECK(contains(b, "\"vmNetworkName\":\"VMNetwork2-NewYork\",\"mapped\":false"));
  asr_buffer_dispose(b);
  b = NULL;

  CHECK(asr_network_mapping_targets(&b, e, "VMNetwork1-NewYork", NULL, 0) == ASR_OK);
  CHECK(contains(b, "\"targetVmNetworkName\":\"VMNetwork2-Chicago\""));
  CHECK(contains(b, "\"available\":false"));
  CHECK(contains(b, "\"available\":true"));
  asr_buffer_dispose(b);
  b = NULL;

  CHECK(asr_network_mapping_resolve(&b, e, "VM1", 0) == ASR_OK);
  CHECK(contains(b, "\"targetVmNetworkId\":\"net1-chi\""));
  asr_buffer_dispose(b);
  b = NULL;

  CHECK(asr_network_mapping_failback(&b, e, "{\"vmId\":\"vm1\",\"replicaVmNetworkId\":\"\"}", 0) ==
        ASR_OK);
  CHECK(contains(b, "FAILBACK_REPLICA_DISCONNECTED"));
  asr_buffer_dispose(b);
  b = NULL;

  /* Change, then remove. */
  CHECK(asr_network_mapping_add(
            &b, e, "{\"sourceVmNetworkId\":\"net1-ny\",\"targetVmNetworkId\":\"net2-chi\"}",
            ASR_MAPPING_REPLACE) == ASR_OK);
  CHECK(contains(b, "\"operation\":\"change\""));
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(asr_network_mapping_remove(&b, e, "net1-ny", 0) == ASR_OK);
  CHECK(contains(b, "\"operation\":\"remove\""));
  CHECK(contains(b, "NIC_UNMAPPED"));
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(asr_network_mapping_remove(&b, e, "net1-ny", 0) == ASR_NOT_FOUND);
  CHECK(asr_network_mapping_add(
            &b, e, "{\"sourceVmNetworkId\":\"net1-ny\",\"targetVmNetworkId\":\"net1-chi\"}", 0) ==
        ASR_OK);
  asr_buffer_dispose(b);
}

static void test_storage_and_placement(asr_engine_t* e) {
  asr_buffer_t* b = NULL;
  CHECK(asr_storage_mapping_add(&b, e,
                                "{\"sourceClassificationId\":\"GOLD\","
                                "\"targetClassificationId\":\"GOLD_TARGET\"}",
                                0) == ASR_OK);
  CHECK(contains(b, "\"operation\":\"create\""));
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(asr_storage_mapping_list(&b, e, 0) == ASR_OK);
  CHECK(contains(b, "\"mappedClassificationName\":\"GOLD_TARGET\""));
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(asr_storage_mapping_resolve(&b, e, "VM1", NULL, 0) == ASR_OK);
  CHECK(contains(b, "\"targetStorageTargetId\":\"TargetVolume1\""));
  asr_buffer_dispose(b);
  b = NULL;

  CHECK(asr_placement_show(&b, e, "VM1", NULL, 0) == ASR_OK);
  CHECK(contains(b, "\"placed\":true"));
  CHECK(contains(b, "\"hostId\":\"chicago-h1\""));
  CHECK(contains(
      b, "\"replicaDiskPath\":\"C:\\\\ClusterStorage\\\\TargetVolume1\\\\VM1\\\\VM1.vhdx\""));
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(asr_placement_show(&b, e, "NoSuchVm", NULL, 0) == ASR_NOT_FOUND);
  CHECK(strstr(asr_last_error_message(), "NoSuchVm") != NULL);

  CHECK(asr_storage_mapping_remove(&b, e, "GOLD", 0) == ASR_OK);
  asr_buffer_dispose(b);
  b = NULL;
  CHECK(asr_storage_mapping_remove(&b, e, "GOLD", 0) == ASR_NOT_FOUND);
}

int main(void) {
  char dir[512];
  char kek[600];
  const char* tmp = getenv("TEST_TMPDIR");
  asr_engine_t* e = NULL;
  snprintf(dir, sizeof dir, "%s/mapping-%ld", tmp ? tmp : "/tmp", (long)getpid());
  CHECK(asr_engine_open(&e, dir, NULL, 0) == ASR_OK);
  CHECK(asr_engine_initialize(e, 0) == ASR_OK);
  /* The key-encryption key of the vault's keys, beside the state directory. */
  snprintf(kek, sizeof kek, "%s.kek", dir);
  CHECK(write_key_file(kek, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
  CHECK(asr_engine_set_key_file(e, kek, 0) == ASR_OK);
  load_example(e);
  test_network_mappings(e);
  test_storage_and_placement(e);
  asr_engine_close(e);
  return check_summary();
}
