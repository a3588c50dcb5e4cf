#include "asr/fabric/crypto.h"

#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr::fabric {
namespace {

TEST(Crypto, SignAndVerify) {
  SigningKeyPair pair = NewSigningKeyPair();
  std::string sig = Sign(pair.private_key, "hello");
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(Verify(pair.public_key, "hello", sig));
  EXPECT_FALSE(Verify(pair.public_key, "hellO", sig));
  EXPECT_FALSE(Verify(NewSigningKeyPair().public_key, "hello", sig));
  EXPECT_FALSE(Verify(pair.public_key, "hello", "short"));
}

TEST(Crypto, SealAndUnseal) {
  std::string key = RandomBytes(kSealingKeySize);
  auto sealed = Seal(key, "p@ssw0rd", "proxy-password:vmm-ny");
  ASSERT_OK(sealed);
  EXPECT_EQ(sealed->find("p@ssw0rd"), std::string::npos);
  auto plain = Unseal(key, *sealed, "proxy-password:vmm-ny");
  ASSERT_OK(plain);
  EXPECT_EQ(*plain, "p@ssw0rd");
  auto wrong_context = Unseal(key, *sealed, "proxy-password:vmm-chi");
  EXPECT_EQ(wrong_context.status().code(), absl::StatusCode::kDataLoss);
  std::string altered = *sealed;
  altered[altered.size() - 1] ^= 1;
  EXPECT_EQ(Unseal(key, altered, "proxy-password:vmm-ny").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Unseal(RandomBytes(32), *sealed, "proxy-password:vmm-ny").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace asr::fabric
