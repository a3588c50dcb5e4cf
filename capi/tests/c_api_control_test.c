/* The control-plane C API from plain C99: host callbacks, vault and keys,
 * registration, inventory, pairing, policies and jobs. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "asr.h"
#include "c_check.h"

static const char* kKek = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* Writes a key file (64 hex digits and a newline, mode 0600) at `path`, as
 * `asrctl key-provider init` does; 1 on success. */
static int write_key_file(const char* path, const char* hex) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  int ok;
  if (fd < 0) return 0;
  ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && write(fd, "\n", 1) == 1;
  return close(fd) == 0 && ok;
}

/* ---- A tiny simulated VMM host -------------------------------------------- */

typedef struct host_state {
  int configure_calls;
  int fail_configure;
  char last_password[64];
} host_state_t;

static const char* kInventoryA =
    "{\"clouds\":[{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"capabilityProfiles\":[\"Hyper-V\"],"
    "\"hostGroupIds\":[\"hg-a\"]}],"
    "\"hostGroups\":[{\"id\":\"hg-a\",\"name\":\"HG A\",\"hostIds\":[\"hv-a\"]}],"
    "\"hosts\":[{\"id\":\"hv-a\",\"name\":\"hv-a.contoso.com\",\"hostGroupId\":\"hg-a\","
    "\"osVersion\":\"WINDOWS_SERVER_2012_R2\"}]}";
static const char* kInventoryB =
    "{\"clouds\":[{\"id\":\"gold2\",\"name\":\"GoldCloud2\",\"capabilityProfiles\":[\"Hyper-V\"],"
    "\"hostGroupIds\":[\"hg-b\"]}],"
    "\"hostGroups\":[{\"id\":\"hg-b\",\"name\":\"HG B\",\"hostIds\":[\"hv-b\"]}],"
    "\"hosts\":[{\"id\":\"hv-b\",\"name\":\"hv-b.contoso.com\",\"hostGroupId\":\"hg-b\","
    "\"osVersion\":\"WINDOWS_SERVER_2016_OR_LATER\"}]}";

static int get_inventory(asr_buffer_t* out, const char* server_json, void* payload) {
  const char* inv = NULL;
  (void)payload;
  if (strstr(server_json, "\"id\":\"vmm-a\"") != NULL) inv = kInventoryA;
  if (strstr(server_json, "\"id\":\"vmm-b\"") != NULL) inv = kInventoryB;
  if (inv == NULL) {
    const char* msg = "unknown server";
    asr_buffer_set(out, msg, strlen(msg));
    return ASR_NOT_FOUND;
  }
  return asr_buffer_set(out, inv, strlen(inv));
}

static int configure_host(asr_buffer_t* out, const char* host_json, const char* policy_json,
                          const char* role, void* payload) {
  host_state_t* state = (host_state_t*)payload;
  (void)host_json;
  (void)policy_json;
  (void)role;
  if (state->fail_configure) {
    const char* msg = "port 8084 is in use";
    asr_buffer_set(out, msg, strlen(msg));
    return ASR_UNAVAILABLE;
  }
  ++state->configure_calls;
  return ASR_OK;
}

static int test_proxy(asr_buffer_t* out, const char* server_json, const char* password,
                      void* payload) {
  host_state_t* state = (host_state_t*)payload;
  (void)out;
  (void)server_json;
  snprintf(state->last_password, sizeof state->last_password, "%s", password);
  return ASR_OK;
}

/* `text` as a JSON string literal in a malloc'd buffer. */
static char* json_string(const char* text) {
  size_t n = strlen(text);
  char* out = malloc(2 * n + 3);
  char* p = out;
  size_t i;
  *p++ = '"';
  for (i = 0; i < n; ++i) {
    char c = text[i];
    if (c == '"' || c == '\\') {
      *p++ = '\\';
      *p++ = c;
    } else if (c == '\n') {
      *p++ = '\\';
      *p++ = 'n';
    } else {
      *p++ = c;
    }
  }
  *p++ = '"';
  *p = '\0';
  return out;
}

static int register_server(asr_engine_t* engine, const char* key, const char* name,
                           const char* site, const char* extra) {
  char* key_literal = json_string(key);
  size_t size = strlen(key_literal) + 512;
  char* req = malloc(size);
  asr_buffer_t* job = NULL;
  int rc;
  snprintf(req, size,
           "{\"credentials\":%s,\"friendlyName\":\"%s\",\"siteId\":\"%s\","
           "\"syncAllCloudMetadata\":true%s}",
           key_literal, name, site, extra);
  rc = asr_server_register(&job, engine, req, 0);
  asr_buffer_dispose(job);
  free(req);
  free(key_literal);
  return rc;
}

static void test_control_plane(void) {
  char dir[512];
  const char* tmp = getenv("TEST_TMPDIR");
  asr_engine_t* engine = NULL;
  asr_buffer_t* buf = NULL;
  asr_buffer_t* key = NULL;
  host_state_t state;
  asr_host_callbacks_t callbacks = ASR_HOST_CALLBACKS_INIT;
  char failed_job[32] = "";
  char kek[600];
  const char* p;

  memset(&state, 0, sizeof state);
  snprintf(dir, sizeof dir, "%s/control-%ld", tmp ? tmp : "/tmp", (long)getpid());
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);

  /* No vault yet. */
  CHECK(asr_key_generate(&key, engine, 0) == ASR_NOT_FOUND);
  CHECK(strstr(asr_last_error_message(), "has no vault yet") != NULL);
  /* No key provider: no vault, and the message says how to configure one. */
  CHECK(asr_vault_create(&buf, engine, "contoso-dr", "westeurope", 0) == ASR_FAILED_PRECONDITION);
  CHECK(strstr(asr_last_error_message(), "no key provider is configured") != NULL);
  CHECK(strstr(asr_last_error_message(), "asr_engine_set_key_file") != NULL);
  /* A key file other users can read is refused. */
  snprintf(kek, sizeof kek, "%s.kek", dir);
  CHECK(write_key_file(kek, kKek));
  CHECK(chmod(kek, 0644) == 0);
  CHECK(asr_engine_set_key_file(engine, kek, 0) == ASR_OK);
  CHECK(asr_vault_create(&buf, engine, "contoso-dr", "westeurope", 0) == ASR_FAILED_PRECONDITION);
  CHECK(strstr(asr_last_error_message(), "has mode 0644: other users may read it") != NULL);
  CHECK(chmod(kek, 0600) == 0);
  CHECK(asr_vault_create(&buf, engine, "contoso-dr", "westeurope", 0) == ASR_OK);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "\"scenarioName\":\"CreateVault\"") != NULL);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "\"state\":\"Succeeded\"") != NULL);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_vault_create(&buf, engine, "again", "westeurope", 0) == ASR_ALREADY_EXISTS);
  CHECK(buf == NULL);
  CHECK(strstr(asr_last_error_message(), "(job job-") != NULL);
  CHECK(asr_vault_get(&buf, engine, 0) == ASR_OK);
  CHECK(strstr(asr_buffer_data(buf), "\"signingAlgorithm\":\"Ed25519\"") != NULL);
  asr_buffer_dispose(buf);
  buf = NULL;

  CHECK(asr_key_generate(&key, engine, 0) == ASR_OK);
  CHECK(asr_key_verify(&buf, engine, asr_buffer_data(key), 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_key_verify(&buf, engine, "{\"vaultId\":\"x\"}", 0) == ASR_INVALID_ARGUMENT);

  /* The host. */
  callbacks.get_inventory = get_inventory;
  callbacks.configure_host = configure_host;
  callbacks.test_proxy = test_proxy;
  callbacks.payload = &state;
  CHECK(asr_engine_set_host_callbacks(engine, &callbacks, 0) == ASR_OK);

  CHECK(register_server(engine, asr_buffer_data(key), "", "primary", "") == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "/FriendlyName is mandatory") != NULL);
  CHECK(register_server(engine, asr_buffer_data(key), "vmm-a", "primary",
                        ",\"proxyAddress\":\"proxy\",\"proxyPort\":3128,"
                        "\"proxyPassword\":\"s3cret\"") == ASR_OK);
  CHECK(strcmp(state.last_password, "s3cret") == 0);
  CHECK(register_server(engine, asr_buffer_data(key), "vmm-b", "recovery", "") == ASR_OK);
  CHECK(asr_object_get(&buf, engine, "server", "vmm-a", 0) == ASR_OK);
  CHECK(strstr(asr_buffer_data(buf), "s3cret") == NULL);
  asr_buffer_dispose(buf);
  buf = NULL;

  /* Pairing. */
  CHECK(asr_cloud_pair(&buf, engine, "GoldCloud1", "GoldCloud1", 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "cannot pair with itself") != NULL);
  /* The detail names the rule and the action without parsing the message. */
  CHECK(strstr(asr_last_error_detail(), "\"code\":3,\"codeName\":\"INVALID_ARGUMENT\"") != NULL);
  CHECK(strstr(asr_last_error_detail(), "\"rule\":\"CloudNotPairedWithItself\"") != NULL);
  CHECK(strstr(asr_last_error_detail(), "\"recommendedAction\":\"pair it with another cloud") !=
        NULL);
  CHECK(strstr(asr_last_error_detail(), "\"jobId\":\"job-") != NULL); /* its Failed job */
  CHECK(asr_cloud_pair(&buf, engine, "GoldCloud1", "GoldCloud2", 0) == ASR_OK);
  CHECK(strstr(asr_buffer_data(buf), "pair-gold1-gold2") != NULL);
  CHECK(strstr(asr_last_error_detail(), "\"code\":0,\"codeName\":\"OK\"") != NULL);
  asr_buffer_dispose(buf);
  buf = NULL;
  /* A pairing cannot be deleted behind asr_cloud_unpair's back. */
  CHECK(asr_object_delete(engine, "pairing", "pair-gold1-gold2", 0) == ASR_FAILED_PRECONDITION);
  CHECK(strstr(asr_last_error_detail(), "\"rule\":\"RawObjectAccessFenced\"") != NULL);
  CHECK(strstr(asr_last_error_detail(), "asr_cloud_unpair") != NULL);
  CHECK(asr_object_put(engine, "pairing", "{\"id\":\"pair-x\"}", 0) == ASR_FAILED_PRECONDITION);
  CHECK(asr_object_get(&buf, engine, "pairing", "pair-gold1-gold2", 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;

  /* Policies. */
  CHECK(asr_policy_create(&buf, engine,
                          "{\"name\":\"gold\",\"replicationProvider\":\"HyperVReplica2012R2\","
                          "\"replicationFrequencyInSeconds\":45}",
                          0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "copy frequency 45 s is not allowed") != NULL);
  CHECK(asr_policy_create(&buf, engine,
                          "{\"name\":\"gold\",\"replicationProvider\":\"HyperVReplica2012R2\","
                          "\"numberOfRecoveryPointsToRetain\":4}",
                          0) == ASR_OK);
  CHECK(strstr(asr_buffer_data(buf), "replicationPort") != NULL); /* in resultJson */
  asr_buffer_dispose(buf);
  buf = NULL;

  state.fail_configure = 1;
  CHECK(asr_policy_associate(&buf, engine, "gold", "GoldCloud1", 0) == ASR_UNAVAILABLE);
  CHECK(strstr(asr_last_error_message(), "port 8084 is in use") != NULL);
  p = strstr(asr_last_error_message(), "(job ");
  CHECK(p != NULL);
  if (p != NULL) {
    snprintf(failed_job, sizeof failed_job, "%.10s", p + 5);
  }
  {
    /* The same job id, as a field of the detail. */
    char want[64];
    snprintf(want, sizeof want, "\"jobId\":\"%s\"", failed_job);
    CHECK(strstr(asr_last_error_detail(), want) != NULL);
    CHECK(strstr(asr_last_error_detail(), "\"codeName\":\"UNAVAILABLE\"") != NULL);
  }
  /* Nor can a job be deleted. */
  CHECK(asr_object_delete(engine, "job", failed_job, 0) == ASR_FAILED_PRECONDITION);
  CHECK(strstr(asr_last_error_message(), "asr_job_cancel") != NULL);
  CHECK(asr_job_list(&buf, engine, "{\"state\":\"Failed\"}", 0) == ASR_OK);
  CHECK(strstr(asr_buffer_data(buf), "\"scenarioName\":\"AssociatePolicy\"") != NULL);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_job_list(&buf, engine, "{\"state\":\"Finished\"}", 0) == ASR_INVALID_ARGUMENT);

  state.fail_configure = 0;
  CHECK(asr_job_restart(&buf, engine, failed_job, 0) == ASR_OK);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "\"state\":\"Succeeded\"") != NULL);
  CHECK(state.configure_calls == 2);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_job_cancel(&buf, engine, failed_job, 0) == ASR_FAILED_PRECONDITION);
  CHECK(asr_job_get(&buf, engine, "job-999999", 0) == ASR_NOT_FOUND);

  CHECK(asr_policy_delete(&buf, engine, "gold", 0) == ASR_FAILED_PRECONDITION);
  CHECK(strstr(asr_last_error_message(), "dissociate it first") != NULL);
  CHECK(asr_policy_dissociate(&buf, engine, "GoldCloud1", 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_policy_delete(&buf, engine, "gold", 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_cloud_unpair(&buf, engine, "GoldCloud1", 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_server_unregister(&buf, engine, "vmm-a", 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;

  /* Without callbacks, inventories come as documents. */
  CHECK(asr_engine_set_host_callbacks(engine, NULL, 0) == ASR_OK);
  CHECK(asr_inventory_sync(&buf, engine, "vmm-b", NULL, NULL, 0) == ASR_FAILED_PRECONDITION);
  CHECK(strstr(asr_last_error_message(), "no host callback is installed") != NULL);
  CHECK(asr_inventory_sync(&buf, engine, "vmm-b", kInventoryB, NULL, 0) == ASR_OK);
  CHECK(buf != NULL && strstr(asr_buffer_data(buf), "\"stateDescription\":\"Skipped\"") != NULL);
  asr_buffer_dispose(buf);
  buf = NULL;

  asr_buffer_dispose(key);
  asr_engine_close(engine);

  /* Everything above is in the store. */
  engine = NULL;
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_job_list(&buf, engine, NULL, 0) == ASR_OK);
  CHECK(strstr(asr_buffer_data(buf), "\"scenarioName\":\"UnregisterServer\"") != NULL);
  asr_buffer_dispose(buf);
  asr_engine_close(engine);
}

/* ---- The host's key provider, and identifiers ------------------------------ */

static const char kKekBytes[33] = "0123456789abcdef0123456789abcdef";

static int get_kek(asr_buffer_t* out_key, asr_buffer_t* out_key_id, const char* purpose,
                   void* payload) {
  const char* id = (const char*)payload;
  if (strcmp(purpose, "vault-secrets") != 0) {
    asr_buffer_set(out_key, "unknown purpose", 15);
    return ASR_INVALID_ARGUMENT;
  }
  asr_buffer_set(out_key, kKekBytes, 32);
  return asr_buffer_set(out_key_id, id, strlen(id));
}

static void test_key_callback_and_identifiers(void) {
  char dir[512];
  char long_id[300];
  const char* tmp = getenv("TEST_TMPDIR");
  asr_engine_t* engine = NULL;
  asr_buffer_t* buf = NULL;
  asr_host_callbacks_t callbacks = ASR_HOST_CALLBACKS_INIT;

  snprintf(dir, sizeof dir, "%s/keys-%ld", tmp ? tmp : "/tmp", (long)getpid());
  CHECK(asr_engine_open(&engine, dir, NULL, 0) == ASR_OK);
  CHECK(asr_engine_initialize(engine, 0) == ASR_OK);
  /* A version-1 table (no key callback) installs fine, and gives no key. */
  callbacks.struct_size = (uint32_t)offsetof(asr_host_callbacks_t, get_key_encryption_key);
  callbacks.get_key_encryption_key = get_kek; /* past its struct_size: not read */
  callbacks.payload = (void*)"dpapi:asr-kek-1";
  CHECK(asr_engine_set_host_callbacks(engine, &callbacks, 0) == ASR_OK);
  CHECK(asr_vault_create(&buf, engine, "v", "r", 0) == ASR_FAILED_PRECONDITION);
  /* Version 2: the host's callback supplies the key and its id. */
  callbacks.struct_size = sizeof callbacks;
  CHECK(asr_engine_set_host_callbacks(engine, &callbacks, 0) == ASR_OK);
  CHECK(asr_vault_create(&buf, engine, "v", "r", 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;
  CHECK(asr_key_generate(&buf, engine, 0) == ASR_OK);
  asr_buffer_dispose(buf);
  buf = NULL;
  /* Another key id: the wrong key, named. */
  callbacks.payload = (void*)"dpapi:asr-kek-2";
  CHECK(asr_engine_set_host_callbacks(engine, &callbacks, 0) == ASR_OK);
  CHECK(asr_key_generate(&buf, engine, 0) == ASR_PERMISSION_DENIED);
  CHECK(strstr(asr_last_error_message(), "does not open this vault's secrets") != NULL);
  CHECK(strstr(asr_last_error_message(), "wrapped with key dpapi:asr-kek-1") != NULL);
  CHECK(buf == NULL);

  /* Identifiers: a non-UTF-8 and an over-long one, refused naming the field. */
  CHECK(asr_cloud_pair(&buf, engine, "Gold\xff", "GoldCloud2", 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "primary_cloud is not valid UTF-8") != NULL);
  memset(long_id, 'a', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  CHECK(asr_object_get(&buf, engine, "cloud", long_id, 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "id is 299 bytes long; at most 256") != NULL);
  CHECK(asr_job_get(&buf, engine, "job-1\n", 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "job_id contains a control character") != NULL);
  CHECK(asr_object_put(engine, "cloud", "{\"id\":\"gold\\u0007\",\"name\":\"G\"}", 0) ==
        ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "cloud.id contains a control character") != NULL);
  CHECK(asr_inventory_sync(&buf, engine, "vmm\xc0\xaf", NULL, NULL, 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "server is not valid UTF-8") != NULL);
  CHECK(asr_engine_set_key_file(engine, "/tmp/k\x80", 0) == ASR_INVALID_ARGUMENT);
  CHECK(strstr(asr_last_error_message(), "path is not valid UTF-8") != NULL);
  CHECK(asr_object_list(&buf, engine, "cloud", 0) == ASR_OK);
  CHECK(buf != NULL && strcmp(asr_buffer_data(buf), "[]") == 0);
  asr_buffer_dispose(buf);
  asr_engine_close(engine);
}

int main(void) {
  test_control_plane();
  test_key_callback_and_identifiers();
  return check_summary();
}
