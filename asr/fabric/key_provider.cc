#include "asr/fabric/key_provider.h"

#include <openssl/sha.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/common/file_util.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/crypto.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

namespace asr::fabric {
namespace {

using platform::AddContext;
using platform::Env;
using platform::ErrorKind;
using platform::ErrorKindOf;
using platform::File;
using platform::OpenOptions;

// A key file is 64 hex digits and a newline; anything much larger is not one.
constexpr size_t kMaxKeyFileBytes = 4096;

std::string OctalMode(platform::FileMode mode) { return absl::StrFormat("%04o", mode); }

}  // namespace

std::string HowToConfigureKeyProvider() {
  return "configure a key provider for the key-encryption key that wraps the vault's keys: "
         "create a key file outside the state directory with 'asrctl key-provider init "
         "--key-file PATH' and pass '--key-file PATH' (or set ASR_KEY_FILE=PATH, or "
         "ASR_KEY_ENCRYPTION_KEY to 64 hex digits); from the C API call asr_engine_set_key_file "
         "or install a get_key_encryption_key host callback; from .NET set "
         "AsrEngineOptions.KeyFile";
}

std::string KeyIdFor(absl::string_view key) {
  static constexpr char kLabel[] = "asr-key-encryption-key-id/v1";
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, kLabel, sizeof kLabel - 1);
  SHA256_Update(&ctx, key.data(), key.size());
  SHA256_Final(digest, &ctx);
  return absl::StrCat(
      "kek-", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8)));
}

absl::StatusOr<std::string> ParseHexKey(absl::string_view text, absl::string_view source) {
  absl::string_view hex = text;
  if (!hex.empty() && hex.back() == '\n') hex.remove_suffix(1);
  if (!hex.empty() && hex.back() == '\r') hex.remove_suffix(1);
  bool all_hex = true;
  for (char c : hex) all_hex = all_hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
  if (hex.size() != 2 * kKeyEncryptionKeySize || !all_hex) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " does not hold a key-encryption key: it must be exactly ",
                     2 * kKeyEncryptionKeySize, " hexadecimal characters (", kKeyEncryptionKeySize,
                     " bytes), optionally followed by a newline, but it has ", text.size(),
                     " bytes", all_hex ? "" : " with characters that are not hexadecimal",
                     "; create a key file with 'asrctl key-provider init --key-file PATH'"));
  }
  return absl::HexStringToBytes(hex);
}

absl::Status CheckKeyEncryptionKey(const KeyEncryptionKey& kek, const KeyProvider& provider) {
  if (kek.key.size() != kKeyEncryptionKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key-encryption key from ", provider.Describe(), " is ", kek.key.size(),
                     " bytes long; it must be ", kKeyEncryptionKeySize, " bytes (AES-256)"));
  }
  absl::Status id = ValidateIdentifier("the key id", kek.key_id);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key-encryption key from ", provider.Describe(), ": ", id.message()));
  }
  return absl::OkStatus();
}

std::string KeyFileProvider::Describe() const { return absl::StrCat("key file ", path_); }

absl::StatusOr<KeyEncryptionKey> KeyFileProvider::GetKey(absl::string_view) {
  Env* env = Env::Default();
  OpenOptions o;
  o.no_follow = true;     // a link could point anywhere: refuse it
  o.non_blocking = true;  // a FIFO planted at the name must not hang us
  absl::StatusOr<std::unique_ptr<File>> f = env->Open(path_, o);
  if (!f.ok()) {
    if (ErrorKindOf(f.status()) == ErrorKind::kLoop) {
      return absl::FailedPreconditionError(
          absl::StrCat("key file ", path_,
                       " is a symbolic link; name the key file itself, which must be a regular "
                       "file readable by its owner only"));
    }
    if (ErrorKindOf(f.status()) == ErrorKind::kNotFound) {
      return absl::NotFoundError(absl::StrCat(
          "key file ", path_,
          " does not exist; create it with 'asrctl key-provider init --key-file ", path_,
          "' (only for a new vault: a vault's keys open only with the key that wrapped them)"));
    }
    return AddContext(f.status(), absl::StrCat("cannot open key file ", path_));
  }
  ASR_ASSIGN_OR_RETURN(platform::FileInfo info, (*f)->Stat());
  if (info.type != platform::FileType::kRegular) {
    return absl::FailedPreconditionError(
        absl::StrCat("key file ", path_, " is ", platform::FileTypeName(info.type),
                     ", not a regular file; name a key file made by 'asrctl key-provider init'"));
  }
  if ((info.permissions & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key file ", path_, " has mode ", OctalMode(info.permissions & 0777),
        ": other users may read it, and whoever reads it can open the vault's keys; run "
        "'chmod 600 ",
        path_, "' (and keep it readable by the service's account only)"));
  }
  if (info.size > kMaxKeyFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("key file ", path_, " is ", info.size,
                                                   " bytes, not a key file (64 hex digits)"));
  }
  std::string text(info.size, '\0');
  ASR_ASSIGN_OR_RETURN(size_t n, platform::ReadFully(**f, 0, &text[0], text.size()));
  text.resize(n);
  ASR_ASSIGN_OR_RETURN(std::string key, ParseHexKey(text, absl::StrCat("key file ", path_)));
  return KeyEncryptionKey{key, KeyIdFor(key)};
}

std::string EnvironmentKeyProvider::Describe() const {
  return absl::StrCat("environment variable ", variable_);
}

absl::StatusOr<KeyEncryptionKey> EnvironmentKeyProvider::GetKey(absl::string_view) {
  const char* value = std::getenv(variable_.c_str());
  if (value == nullptr || *value == '\0') {
    return absl::FailedPreconditionError(
        absl::StrCat("environment variable ", variable_,
                     " is not set; set it to the 64 hex digits of the key-encryption key"));
  }
  ASR_ASSIGN_OR_RETURN(std::string key,
                       ParseHexKey(value, absl::StrCat("environment variable ", variable_)));
  return KeyEncryptionKey{key, KeyIdFor(key)};
}

absl::StatusOr<std::string> CreateKeyFile(const std::string& path) {
  ASR_RETURN_IF_ERROR(ValidatePath("--key-file", path));
  Env* env = Env::Default();
  std::string key = RandomBytes(kKeyEncryptionKeySize);
  std::string text = absl::StrCat(absl::BytesToHexString(key), "\n");
  OpenOptions o;
  o.access = OpenOptions::Access::kWrite;
  o.create = o.exclusive = o.no_follow = true;
  o.mode = kSecretFileMode;
  absl::StatusOr<std::unique_ptr<File>> f = env->Open(path, o);
  if (!f.ok()) {
    if (ErrorKindOf(f.status()) == ErrorKind::kExists) {
      return absl::AlreadyExistsError(
          absl::StrCat(path,
                       " already exists; a key file is never overwritten (the vaults whose keys it "
                       "wraps would no longer open): choose another path, or remove it yourself if "
                       "no vault uses it"));
    }
    return AddContext(f.status(), absl::StrCat("cannot create key file ", path));
  }
  absl::Status s = AddContext((*f)->SetPermissions(kSecretFileMode),
                              absl::StrCat("cannot set the mode of ", path));
  if (s.ok()) {
    s = AddContext(platform::WriteFully(**f, text.data(), text.size()),
                   absl::StrCat("cannot write ", path));
  }
  if (s.ok()) s = AddContext((*f)->Sync(), absl::StrCat("cannot fsync ", path));
  if (s.ok()) s = (*f)->Close();
  if (s.ok()) s = FsyncDirectory(DirName(path));
  if (!s.ok()) {
    (void)env->Unlink(path);
    return s;
  }
  return KeyIdFor(key);
}

}  // namespace asr::fabric
