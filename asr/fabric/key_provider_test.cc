// Key providers: a key file is refused when another user could read it, when
// it is a link, not a regular file or not a key; key files are created 0600
// and never through a planted link; the environment variable and the key id.
#include "asr/fabric/key_provider.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::fabric {
namespace {

using ::asr::testing::StatusIs;
using ::asr::testing::TestDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHexKey[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string WriteKeyFile(const std::string& dir, const std::string& text, mode_t mode) {
  std::string path = JoinPath(dir, "kek");
  EXPECT_OK(WriteFileAtomically(path, text, 0600));
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

TEST(KeyFileProvider, ReadsAPrivateKeyFile) {
  std::string path = WriteKeyFile(TestDir("kek"), std::string(kHexKey) + "\n", 0600);
  KeyFileProvider p(path);
  ASSERT_OK_AND_ASSIGN(KeyEncryptionKey kek, p.GetKey(kVaultSecretsPurpose));
  EXPECT_EQ(absl::BytesToHexString(kek.key), kHexKey);
  EXPECT_EQ(kek.key_id, KeyIdFor(kek.key));
  EXPECT_THAT(kek.key_id, ::testing::MatchesRegex("kek-[0-9a-f]{16}"));
  EXPECT_EQ(p.Describe(), "key file " + path);
  // 0400 is fine too; the id does not reveal the key.
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_OK(p.GetKey(kVaultSecretsPurpose));
  EXPECT_THAT(kek.key_id, Not(HasSubstr(std::string(kHexKey).substr(0, 16))));
}

TEST(KeyFileProvider, RefusesAKeyFileOthersCanRead) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    std::string path = WriteKeyFile(TestDir("kek"), kHexKey, mode);
    EXPECT_THAT(
        KeyFileProvider(path).GetKey(kVaultSecretsPurpose),
        StatusIs(absl::StatusCode::kFailedPrecondition,
                 AllOf(HasSubstr("key file " + path + " has mode 0"),
                       HasSubstr("other users may read it"), HasSubstr("chmod 600 " + path))))
        << mode;
  }
}

TEST(KeyFileProvider, RefusesALinkADirectoryAFifoAndWhatIsNotAKey) {
  std::string dir = TestDir("kek");
  std::string real = WriteKeyFile(dir, kHexKey, 0600);
  std::string link = JoinPath(dir, "link");
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  EXPECT_THAT(KeyFileProvider(link).GetKey(kVaultSecretsPurpose),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is a symbolic link")));

  std::string sub = JoinPath(dir, "sub");
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_THAT(KeyFileProvider(sub).GetKey(kVaultSecretsPurpose),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));

  // A FIFO without a writer: refused at once, never waited on.
  std::string fifo = JoinPath(dir, "fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(KeyFileProvider(fifo).GetKey(kVaultSecretsPurpose),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("a FIFO")));

  EXPECT_THAT(KeyFileProvider(JoinPath(dir, "missing")).GetKey(kVaultSecretsPurpose),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("asrctl key-provider init")));

  for (const std::string& text :
       {std::string(kHexKey).substr(2), std::string(kHexKey) + "00", std::string(32, 'k'),
        std::string(kHexKey).replace(5, 1, "g"), std::string()}) {
    std::string d = TestDir("kek");
    std::string path = WriteKeyFile(d, text, 0600);
    absl::StatusOr<KeyEncryptionKey> kek = KeyFileProvider(path).GetKey(kVaultSecretsPurpose);
    EXPECT_THAT(kek, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("must be exactly 64 hexadecimal characters")));
    // The message never echoes the file's contents.
    if (!text.empty()) {
      EXPECT_THAT(std::string(kek.status().message()), Not(HasSubstr(text)));
    }
  }
}

TEST(CreateKeyFile, PrivateFreshAndNeverThroughALink) {
  std::string dir = TestDir("kek");
  std::string path = JoinPath(dir, "kek");
  ASSERT_OK_AND_ASSIGN(std::string id, CreateKeyFile(path));
  struct stat st;
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  KeyFileProvider p(path);
  ASSERT_OK_AND_ASSIGN(KeyEncryptionKey kek, p.GetKey(kVaultSecretsPurpose));
  EXPECT_EQ(kek.key_id, id);

  // Never over an existing key: the vaults it wraps would be lost.
  EXPECT_THAT(CreateKeyFile(path), StatusIs(absl::StatusCode::kAlreadyExists,
                                            HasSubstr("a key file is never overwritten")));
  ASSERT_OK_AND_ASSIGN(KeyEncryptionKey again, p.GetKey(kVaultSecretsPurpose));
  EXPECT_EQ(again.key, kek.key);

  // A link planted at the name by another user is not written through.
  std::string target = JoinPath(dir, "victim");
  ASSERT_OK(WriteFileAtomically(target, "theirs"));
  std::string planted = JoinPath(dir, "planted");
  ASSERT_EQ(::symlink(target.c_str(), planted.c_str()), 0);
  EXPECT_THAT(CreateKeyFile(planted), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(*ReadFileToString(target), "theirs");
  // A dangling link too (O_EXCL|O_NOFOLLOW: the link's target is not created).
  std::string dangling = JoinPath(dir, "dangling");
  std::string nowhere = JoinPath(dir, "nowhere");
  ASSERT_EQ(::symlink(nowhere.c_str(), dangling.c_str()), 0);
  EXPECT_FALSE(CreateKeyFile(dangling).ok());
  EXPECT_FALSE(PathExists(nowhere));
}

TEST(CreateKeyFile, PrivateEvenUnderAPermissiveUmask) {
  mode_t old = ::umask(0);
  std::string path = JoinPath(TestDir("kek"), "kek");
  absl::StatusOr<std::string> id = CreateKeyFile(path);
  ::umask(old);
  ASSERT_OK(id);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(EnvironmentKeyProvider, ReadsHexFromTheVariable) {
  EnvironmentKeyProvider p("ASR_TEST_KEK");
  ::unsetenv("ASR_TEST_KEK");
  EXPECT_THAT(p.GetKey(kVaultSecretsPurpose),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("environment variable ASR_TEST_KEK is not set")));
  ::setenv("ASR_TEST_KEK", "abc", 1);
  EXPECT_THAT(
      p.GetKey(kVaultSecretsPurpose),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("environment variable ASR_TEST_KEK"), Not(HasSubstr("abc")))));
  ::setenv("ASR_TEST_KEK", kHexKey, 1);
  ASSERT_OK_AND_ASSIGN(KeyEncryptionKey kek, p.GetKey(kVaultSecretsPurpose));
  EXPECT_EQ(absl::BytesToHexString(kek.key), kHexKey);
  // The same key from a file has the same id.
  std::string path = WriteKeyFile(TestDir("kek"), kHexKey, 0600);
  EXPECT_EQ(KeyFileProvider(path).GetKey(kVaultSecretsPurpose)->key_id, kek.key_id);
  ::unsetenv("ASR_TEST_KEK");
}

}  // namespace
}  // namespace asr::fabric
