// libFuzzer entry point for the C API's JSON inputs: every asr_* function
// that takes JSON text is called with the fuzzed text on an engine opened
// once per process on a temporary state directory (on tmpfs when there is
// one; the test's own directory under a test), with a vault, a registered
// server "vmm-fuzz" and its inventory. Each call must return a status code
// (never crash or leak: run under ASan), set a message when it fails, and
// hand back a buffer only when it succeeds.
//
// Input: selector u8 (which function; for asr_object_put also the kind),
// then the JSON text (cut at its first NUL, as C strings are). The engine is
// remade every 2000 inputs so that its store, which keeps every job, stays
// small.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "asr.h"
#include "asr/platform/env.h"

namespace {

const char* const kKinds[] = {"cloud",
                              "host-group",
                              "host",
                              "vm",
                              "vm-network",
                              "logical-network",
                              "storage-classification",
                              "protected-item",
                              "policy",
                              "site"};

void Fail(const char* what) {
  std::fprintf(stderr, "capi_json_fuzz: %s: %s\n", what, asr_last_error_message());
  std::abort();
}

std::string Base() {
  asr::platform::Env* env = asr::platform::Env::Default();
  // Under a test, the test's own directory (removed after it); else tmpfs.
  const char* t = std::getenv("TEST_TMPDIR");
  if (t != nullptr) return t;
  return env->Stat("/dev/shm").ok() ? "/dev/shm" : "/tmp";
}

void RemoveTree(const std::string& dir) {
  asr::platform::Env* env = asr::platform::Env::Default();
  auto names = env->ListDirectory(dir);
  if (names.ok()) {
    for (const std::string& n : *names) (void)env->Unlink(dir + "/" + n);
  }
}

class Engine {
 public:
  Engine() {
    auto d = asr::platform::Env::Default()->MakeTempDirectory(Base() + "/asr-capi-fuzz-");
    if (!d.ok()) std::abort();
    dir_ = *d + "/state";
    Open();
  }

  asr_engine_t* Next() {
    if (++uses_ % 2000 == 0) {
      asr_engine_close(engine_);
      RemoveTree(dir_);
      Open();
    }
    return engine_;
  }

 private:
  void Open() {
    // The vault's keys are wrapped with a key-encryption key from the
    // environment (a fixed test key).
    setenv("ASR_KEY_ENCRYPTION_KEY", std::string(64, 'a').c_str(), 0);
    asr_engine_options_t options = ASR_ENGINE_OPTIONS_INIT;
    if (asr_engine_open(&engine_, dir_.c_str(), &options, 0) != ASR_OK) Fail("open");
    if (asr_engine_set_key_file(engine_, nullptr, ASR_KEY_FROM_ENVIRONMENT) != ASR_OK) Fail("kek");
    asr_buffer_t* out = nullptr;
    if (asr_vault_create(&out, engine_, "fuzz-vault", "westeurope", 0) != ASR_OK) Fail("vault");
    asr_buffer_dispose(out);
    out = nullptr;
    if (asr_key_generate(&out, engine_, 0) != ASR_OK) Fail("key");
    std::string key(asr_buffer_data(out), asr_buffer_size(out));
    asr_buffer_dispose(out);
    std::string request = "{\"credentials\":\"";
    for (char c : key) {
      if (c == '"' || c == '\\') request += '\\';
      if (c == '\n') {
        request += "\\n";
        continue;
      }
      request += c;
    }
    request += "\",\"friendlyName\":\"vmm-fuzz\"}";
    out = nullptr;
    if (asr_server_register(&out, engine_, request.c_str(), 0) != ASR_OK) Fail("register");
    asr_buffer_dispose(out);
    out = nullptr;
    const char* inventory =
        "{\"clouds\":[{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"capabilityProfiles\":"
        "[\"Hyper-V\"],\"hostGroupIds\":[\"hg-a\"]}],\"hostGroups\":[{\"id\":\"hg-a\","
        "\"name\":\"HG A\",\"hostIds\":[\"hv-a\"]}],\"hosts\":[{\"id\":\"hv-a\",\"name\":"
        "\"hv-a.contoso.com\",\"hostGroupId\":\"hg-a\"}]}";
    if (asr_inventory_sync(&out, engine_, "vmm-fuzz", inventory, nullptr, 0) != ASR_OK) {
      Fail("inventory");
    }
    asr_buffer_dispose(out);
  }

  std::string dir_;
  asr_engine_t* engine_ = nullptr;
  uint64_t uses_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static Engine* engine = new Engine();
  asr_engine_t* e = engine->Next();
  const std::string json(reinterpret_cast<const char*>(data + 1), size - 1);
  const char* j = json.c_str();
  asr_buffer_t* out = nullptr;
  int rc = 0;
  const uint8_t sel = data[0];
  switch (sel % 10) {
    case 0:
      rc = asr_object_put(e, kKinds[(sel / 10) % (sizeof(kKinds) / sizeof(kKinds[0]))], j, 0);
      break;
    case 1:
      rc = asr_network_mapping_add(&out, e, j, 0);
      break;
    case 2:
      rc = asr_network_mapping_failback(&out, e, j, 0);
      break;
    case 3:
      rc = asr_storage_mapping_add(&out, e, j, 0);
      break;
    case 4:
      rc = asr_job_list(&out, e, j, 0);
      break;
    case 5:
      rc = asr_key_verify(&out, e, j, 0);
      break;
    case 6:
      rc = asr_server_register(&out, e, j, 0);
      break;
    case 7:
      rc = asr_inventory_sync(&out, e, "vmm-fuzz", j, (sel / 10) % 2 ? "gold1" : nullptr, 0);
      break;
    case 8:
      rc = asr_policy_create(&out, e, j, 0);
      break;
    case 9:
      rc = asr_policy_update(&out, e, j, 0);
      break;
  }
  if (rc < 0 || rc > 16) {
    std::fprintf(stderr, "status %d is not a status code\n", rc);
    std::abort();
  }
  if (rc != ASR_OK) {
    const char* msg = asr_last_error_message();
    if (msg == nullptr || msg[0] == '\0') {
      std::fprintf(stderr, "status %d without a message\n", rc);
      std::abort();
    }
  }
  asr_buffer_dispose(out);
  return 0;
}
