#include "asr/fabric/replica_vm_spec.h"

#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::fabric {
namespace {

using ::asr::testing::StatusIs;
using ::testing::HasSubstr;

model::ReplicaVmSpec Spec(const std::string& dir) {
  model::ReplicaVmSpec spec;
  spec.set_replica_vm_id("vm-r1");
  spec.set_host_id("host-b1");
  spec.add_disks()->set_path(dir + "/d0.vhdx");
  spec.add_disks()->set_path(dir + "/d1.vhdx");
  spec.mutable_disks(0)->set_id("d0");
  spec.mutable_disks(1)->set_id("d1");
  return spec;
}

TEST(ReplicaVmSpecTest, NeedsAnIdAndExistingDiskDirectories) {
  const std::string dir = asr::testing::TestDir("spec");
  EXPECT_OK(CheckReplicaVmSpec(Spec(dir)));

  model::ReplicaVmSpec no_id = Spec(dir);
  no_id.clear_replica_vm_id();
  EXPECT_THAT(CheckReplicaVmSpec(no_id),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs an id")));

  model::ReplicaVmSpec missing = Spec(dir);
  missing.mutable_disks(1)->set_path(dir + "/no-such-dir/d1.vhdx");
  EXPECT_THAT(CheckReplicaVmSpec(missing),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("disk 'd1' of replica VM 'vm-r1': the directory of")));

  model::ReplicaVmSpec empty_path = Spec(dir);
  empty_path.mutable_disks(0)->clear_path();
  EXPECT_THAT(CheckReplicaVmSpec(empty_path), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ReplicaVmSpecTest, TheSameReplicaVmIsAcceptedAndAnyOtherIsAlreadyExists) {
  const std::string dir = asr::testing::TestDir("same");
  const model::ReplicaVmSpec spec = Spec(dir);
  model::VirtualMachine vm;
  vm.set_id("vm-r1");
  vm.set_host_id("host-b1");
  for (const model::VirtualDisk& d : spec.disks()) *vm.add_disks() = d;
  EXPECT_OK(SameReplicaVm(vm, spec));

  model::VirtualMachine other_host = vm;
  other_host.set_host_id("host-b2");
  EXPECT_THAT(SameReplicaVm(other_host, spec),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("on host host-b2")));

  model::VirtualMachine swapped = vm;
  swapped.mutable_disks()->SwapElements(0, 1);
  EXPECT_THAT(SameReplicaVm(swapped, spec), StatusIs(absl::StatusCode::kAlreadyExists));

  model::VirtualMachine fewer = vm;
  fewer.mutable_disks()->RemoveLast();
  EXPECT_THAT(SameReplicaVm(fewer, spec),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("delete it first")));
}

}  // namespace
}  // namespace asr::fabric
