/* The protection C API from plain C99: argument checking of the transport,
 * enable/onboard/disable, items and the site service; a version 3 host
 * table whose VM callbacks are reached (a failing get_vm fails the enable
 * job with the host's message); and version 1 and 2 tables still accepted.
 * argv[1] is asrctl, which makes the vault's PKI directory. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr.h"
#include "c_check.h"

static const char* kKek = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int write_key_file(const char* path, const char* hex) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  int ok;
  if (fd < 0) return 0;
  ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && write(fd, "\n", 1) == 1;
  return close(fd) == 0 && ok;
}

static const char* message_has(const char* needle) {
  return strstr(asr_last_error_message(), needle);
}

/* ---- Arguments ------------------------------------------------------------ */

static void test_arguments(void) {
  char dir[512];
  const char* tmp = getenv("TEST_TMPDIR");
  asr_engine_t* engine = NULL;
  asr_buffer_t* buf = NULL;
  asr_site_service_t* site = NULL;

  snprintf(dir, sizeof dir, "%s/protect-args-%ld", tmp ? tmp : "/tmp", (long)getpid());
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);

  /* A fresh engine protects nothing. */
  CHECK(asr_item_list(&buf, engine, 0) == ASR_OK);
  CHECK(buf != NULL && strcmp(asr_buffer_data(buf), "[]") == 0);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_item_get(&buf, engine, "VM1", 0) == ASR_NOT_FOUND);
  CHECK(buf == NULL);
  CHECK(message_has("VM1") != NULL);
  CHECK(asr_item_points(&buf, engine, "VM1", 0) == ASR_NOT_FOUND);

  /* NULL arguments and unknown flags. */
  CHECK(asr_item_list(NULL, engine, 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("out must not be NULL") != NULL);
  CHECK(asr_item_list(&buf, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("engine must not be NULL") != NULL);
  CHECK(asr_item_list(&buf, engine, 0x4) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("unknown flags 0x4") != NULL);
  CHECK(asr_item_get(&buf, engine, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("ref") != NULL);
  CHECK(asr_item_get(&buf, engine, "bad\nref", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_protect_enable(&buf, engine, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("request_json must not be NULL") != NULL);
  CHECK(asr_protect_enable(&buf, engine, "{\"vm\": ", 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("request_json") != NULL);
  CHECK(asr_protect_enable(&buf, engine, "{\"vm\":\"VM1\",\"colour\":\"red\"}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("colour") != NULL);
  CHECK(asr_protect_enable(&buf, engine, "{\"pairing\":\"GoldCloud1\"}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("\"vm\" is required") != NULL);
  CHECK(asr_protect_enable(&buf, engine, "{\"vm\":\"VM1\"}", 0x1) == ASR_INVALID_ARGUMENT);
  CHECK(asr_protect_onboard(&buf, engine, "{\"vm\":\"VM1\",\"recoveryHost\":\"hv-b\"}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("replicaDirs") != NULL);
  CHECK(asr_protect_disable(&buf, engine, "VM1", 0x2) == ASR_INVALID_ARGUMENT);
  CHECK(asr_protect_disable(&buf, engine, NULL, ASR_PROTECT_FORCE) == ASR_INVALID_ARGUMENT);
  CHECK(buf == NULL);
  /* Nothing to enable or disable: the VM and item are unknown. */
  CHECK(asr_protect_enable(&buf, engine, "{\"vm\":\"VM1\"}", 0) == ASR_NOT_FOUND);
  CHECK(message_has("VM1") != NULL);
  CHECK(asr_protect_disable(&buf, engine, "VM1", ASR_PROTECT_FORCE) == ASR_NOT_FOUND);

  /* The transport. */
  CHECK(asr_engine_set_transport(engine, NULL, 0) == ASR_OK);
  CHECK(asr_engine_set_transport(NULL, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_engine_set_transport(engine, "{}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("\"pkiDir\" is required") != NULL);
  CHECK(asr_engine_set_transport(engine, "{\"pkiDir\":\"p\",\"port\":1}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(message_has("port") != NULL);
  CHECK(asr_engine_set_transport(engine, "{\"pkiDir\":\"p\",\"pointIntervalSeconds\":-1}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(asr_engine_set_transport(engine, "{\"pkiDir\":\"p\"}", 0x8) == ASR_INVALID_ARGUMENT);
  /* A PKI directory without the vault's files is refused, naming it. */
  CHECK(asr_engine_set_transport(engine, "{\"pkiDir\":\"/nonexistent/pki\"}", 0) != ASR_OK);
  CHECK(message_has("/nonexistent/pki") != NULL);

  /* The site service. */
  CHECK(asr_site_service_start(NULL, engine, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_site_service_start(&site, NULL, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_site_service_start(&site, engine, "{\"maxConcurrent\":0}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("maxConcurrent") != NULL);
  CHECK(asr_site_service_start(&site, engine, "{\"threads\":\"yes\"}", 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_site_service_start(&site, engine, NULL, 0x1) == ASR_INVALID_ARGUMENT);
  CHECK(site == NULL);
  CHECK(asr_site_service_step(NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("asr_site_service_start") != NULL);
  CHECK(asr_site_service_stats(&buf, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(asr_site_service_stop(NULL) == ASR_INVALID_ARGUMENT);
  asr_site_service_close(NULL);

  /* The write sink. */
  CHECK(asr_write_sink_record(NULL, 0, 512) == ASR_INVALID_ARGUMENT);
  CHECK(message_has("attach_change_tracking") != NULL);

  asr_engine_close(engine);
}

/* ---- A version 3 host ------------------------------------------------------ */

typedef struct host_state {
  int get_vm_calls;
  char last_vm[64];
} host_state_t;

static const char* kInventoryA =
    "{\"clouds\":[{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"capabilityProfiles\":[\"Hyper-V\"],"
    "\"hostGroupIds\":[\"hg-a\"]}],"
    "\"hostGroups\":[{\"id\":\"hg-a\",\"name\":\"HG A\",\"hostIds\":[\"hv-a\"]}],"
    "\"hosts\":[{\"id\":\"hv-a\",\"name\":\"hv-a.contoso.com\",\"hostGroupId\":\"hg-a\","
    "\"osVersion\":\"WINDOWS_SERVER_2012_R2\"}],"
    "\"virtualMachines\":[{\"id\":\"vm1\",\"name\":\"VM1\",\"cloudId\":\"gold1\","
    "\"hostId\":\"hv-a\",\"disks\":[{\"id\":\"d1\",\"name\":\"os\",\"path\":\"/vms/vm1.vhdx\","
    "\"sizeBytes\":\"1048576\",\"isOsDisk\":true}],\"powerState\":\"RUNNING\"}]}";
static const char* kInventoryB =
    "{\"clouds\":[{\"id\":\"gold2\",\"name\":\"GoldCloud2\",\"capabilityProfiles\":[\"Hyper-V\"],"
    "\"hostGroupIds\":[\"hg-b\"]}],"
    "\"hostGroups\":[{\"id\":\"hg-b\",\"name\":\"HG B\",\"hostIds\":[\"hv-b\"]}],"
    "\"hosts\":[{\"id\":\"hv-b\",\"name\":\"hv-b.contoso.com\",\"hostGroupId\":\"hg-b\","
    "\"osVersion\":\"WINDOWS_SERVER_2012_R2\"}]}";

static int get_inventory(asr_buffer_t* out, const char* server_json, void* payload) {
  const char* inv = NULL;
  (void)payload;
  if (strstr(server_json, "\"id\":\"vmm-a\"") != NULL) inv = kInventoryA;
  if (strstr(server_json, "\"id\":\"vmm-b\"") != NULL) inv = kInventoryB;
  if (inv == NULL) return ASR_NOT_FOUND;
  return asr_buffer_set(out, inv, strlen(inv));
}

static int configure_host(asr_buffer_t* out, const char* host_json, const char* policy_json,
                          const char* role, void* payload) {
  (void)out;
  (void)host_json;
  (void)policy_json;
  (void)role;
  (void)payload;
  return ASR_OK;
}

/* The host lost the VM: a permanent error with its own message. */
static int get_vm(asr_buffer_t* out, const char* vm_id, void* payload) {
  host_state_t* state = (host_state_t*)payload;
  const char* msg = "hv-a.contoso.com: the VM's configuration file is locked by a backup job";
  ++state->get_vm_calls;
  snprintf(state->last_vm, sizeof state->last_vm, "%s", vm_id);
  asr_buffer_set(out, msg, strlen(msg));
  return ASR_FAILED_PRECONDITION;
}

static int register_server(asr_engine_t* engine, const char* key, const char* name,
                           const char* site) {
  size_t size = 2 * strlen(key) + 512;
  char* req = malloc(size);
  char* p = req;
  const char* k;
  asr_buffer_t* job = NULL;
  int rc;
  p += sprintf(p, "{\"credentials\":\"");
  for (k = key; *k != '\0'; ++k) {
    if (*k == '"' || *k == '\\') *p++ = '\\';
    if (*k == '\n') {
      *p++ = '\\';
      *p++ = 'n';
      continue;
    }
    *p++ = *k;
  }
  sprintf(p, "\",\"friendlyName\":\"%s\",\"siteId\":\"%s\",\"syncAllCloudMetadata\":true}", name,
          site);
  rc = asr_server_register(&job, engine, req, 0);
  asr_buffer_dispose(job);
  free(req);
  return rc;
}

/* Whether a job call succeeded with a Succeeded job in *job (disposed). */
static int ok_job(int rc, asr_buffer_t** job) {
  int ok = rc == ASR_OK && *job != NULL && strstr(asr_buffer_data(*job), "\"Succeeded\"") != NULL;
  asr_buffer_dispose(*job);
  *job = NULL;
  return ok;
}

static void test_version3_host(const char* asrctl) {
  char dir[512];
  char kek[600];
  char cmd[2048];
  char transport[700];
  const char* tmp = getenv("TEST_TMPDIR");
  asr_engine_t* engine = NULL;
  asr_buffer_t* buf = NULL;
  asr_buffer_t* key = NULL;
  host_state_t state;
  asr_host_callbacks_t callbacks = ASR_HOST_CALLBACKS_INIT;

  memset(&state, 0, sizeof state);
  snprintf(dir, sizeof dir, "%s/protect-host-%ld", tmp ? tmp : "/tmp", (long)getpid());
  snprintf(kek, sizeof kek, "%s.kek", dir);
  CHECK(write_key_file(kek, kKek));
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);
  CHECK(asr_engine_set_key_file(engine, kek, 0) == ASR_OK);

  /* A version 2 table (no VM calls) is still accepted. */
  callbacks.struct_size = (uint32_t)offsetof(asr_host_callbacks_t, get_vm);
  callbacks.get_inventory = get_inventory;
  callbacks.configure_host = configure_host;
  callbacks.payload = &state;
  CHECK(asr_engine_set_host_callbacks(engine, &callbacks, 0) == ASR_OK);

  CHECK(ok_job(asr_vault_create(&buf, engine, "contoso-dr", "westeurope", 0), &buf));
  CHECK(asr_key_generate(&key, engine, 0) == ASR_OK);
  CHECK(register_server(engine, asr_buffer_data(key), "vmm-a", "primary") == ASR_OK);
  CHECK(register_server(engine, asr_buffer_data(key), "vmm-b", "recovery") == ASR_OK);
  CHECK(ok_job(asr_cloud_pair(&buf, engine, "GoldCloud1", "GoldCloud2", 0), &buf));
  CHECK(ok_job(
      asr_policy_create(&buf, engine,
                        "{\"name\":\"gold\",\"replicationProvider\":\"HyperVReplica2012R2\"}", 0),
      &buf));
  CHECK(ok_job(asr_policy_associate(&buf, engine, "gold", "GoldCloud1", 0), &buf));

  /* Replication's transport: the vault's PKI directory. */
  snprintf(cmd, sizeof cmd, "'%s' pki init --dir '%s/pki' --recovery-san 127.0.0.1 >/dev/null",
           asrctl, dir);
  CHECK(system(cmd) == 0);
  snprintf(transport, sizeof transport, "{\"pkiDir\":\"%s/pki\"}", dir);
  CHECK(asr_engine_set_transport(engine, transport, 0) == ASR_OK);

  /* The version 2 table cannot describe VMs: the job says which call is
   * missing. */
  buf = NULL;
  CHECK(asr_protect_enable(&buf, engine, "{\"vm\":\"VM1\"}", 0) == ASR_FAILED_PRECONDITION);
  CHECK(buf == NULL);
  CHECK(message_has("GetVm") != NULL);
  CHECK(message_has("(job job-") != NULL);
  CHECK(strstr(asr_last_error_detail(), "\"jobId\":\"job-") != NULL);
  CHECK(state.get_vm_calls == 0);

  /* The version 3 table's get_vm is reached, and its message fails the job. */
  asr_protect_disable(&buf, engine, "VM1", ASR_PROTECT_FORCE);
  asr_buffer_dispose(buf);
  buf = NULL;
  callbacks.struct_size = sizeof(asr_host_callbacks_t);
  callbacks.get_vm = get_vm;
  CHECK(asr_engine_set_host_callbacks(engine, &callbacks, 0) == ASR_OK);
  CHECK(asr_protect_enable(&buf, engine, "{\"vm\":\"VM1\"}", 0) == ASR_FAILED_PRECONDITION);
  CHECK(buf == NULL);
  CHECK(state.get_vm_calls >= 1);
  CHECK(strcmp(state.last_vm, "vm1") == 0);
  CHECK(message_has("configuration file is locked by a backup job") != NULL);
  CHECK(message_has("(job job-") != NULL);
  CHECK(strstr(asr_last_error_detail(), "\"jobId\":\"job-") != NULL);
  CHECK(asr_job_list(&buf, engine, "{\"state\":\"Failed\",\"scenarioName\":\"EnableProtection\"}",
                     0) == ASR_OK);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "locked by a backup job") != NULL);
  asr_buffer_dispose(buf);
  buf = NULL;

  asr_buffer_dispose(key);
  asr_engine_close(engine);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: c_api_protection_test ASRCTL\n");
    return 2;
  }
  test_arguments();
  test_version3_host(argv[1]);
  return check_summary();
}
