// asr/protection/causal_workload.h (tests): a guest workload whose
// records are causally ordered across two VMs of the simulated fabric, and
// the check that a pair of restored disks holds no record without its
// predecessor.
//
// Record i goes to VM1 (even i) or VM2 (odd i), disk 0, at a slot of the
// record area; record i+1 is written only after record i's write returned
// (the guest's acknowledgement). So any consistent cut of the two VMs
// holds a prefix 0..k of the records; a cut taken at different instants of
// the two VMs can hold record i+1 without record i.
//
//   CausalWorkload w(&fabric);   w.Start();   ...   w.Stop();
//   std::vector<bool> present = *PresentRecords(vm1_disk0, vm2_disk0, w.written() + 8);
//   EXPECT_EQ(CausalViolation(present), "");
//
// Thread safety: CausalWorkload's members may be called from any thread.
#ifndef ASR_PROTECTION_CAUSAL_WORKLOAD_H_
#define ASR_PROTECTION_CAUSAL_WORKLOAD_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/simulated_fabric.h"

namespace asr::protection::testing {

inline constexpr uint64_t kRecordBytes = 4096;
inline constexpr uint64_t kRecordArea = 8 << 20;  // records start at 8 MiB of disk 0
inline constexpr uint64_t kSeedBase = 0xC0FFEE0000;

// Record i lives on VM1 (even i) or VM2 (odd i), disk 0, at its slot.
inline const char* RecordVm(int i) { return i % 2 == 0 ? "vm1" : "vm2"; }
inline const char* RecordDisk(int i) { return i % 2 == 0 ? "vm1-d0" : "vm2-d0"; }
inline uint64_t RecordOffset(int i) {
  return kRecordArea + static_cast<uint64_t>(i / 2) * kRecordBytes;
}

// Writes records 0, 1, 2, ... each after the previous one's write returned
// (the guest's acknowledgement): a record never exists before its
// predecessor was acknowledged.
class CausalWorkload {
 public:
  explicit CausalWorkload(fabric::SimulatedFabric* fab) : fab_(fab) {}
  ~CausalWorkload() { Stop(); }
  void Start() {
    thread_ = std::thread([this] {
      for (int i = 0; !stop_.load() && i < 1000; ++i) {
        absl::Status s = fab_->GuestWrite(RecordVm(i), RecordDisk(i), RecordOffset(i), kRecordBytes,
                                          kSeedBase + i);
        if (!s.ok()) {
          error_ = s;
          return;
        }
        written_.store(i + 1);
        absl::SleepFor(absl::Milliseconds(2));
      }
    });
  }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int written() const { return written_.load(); }
  void AwaitMore(int n) {
    const int target = written() + n;
    for (int k = 0; k < 2000 && written() < target; ++k) absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Status& error() const { return error_; }

 private:
  fabric::SimulatedFabric* fab_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> written_{0};
  absl::Status error_;
};

// Which records the two restored disks hold (n records examined).
inline absl::StatusOr<std::vector<bool>> PresentRecords(const std::string& vm1_disk0,
                                                        const std::string& vm2_disk0, int n) {
  ASR_ASSIGN_OR_RETURN(auto d1, disk::OpenDisk(vm1_disk0, disk::OpenMode::kReadOnly));
  ASR_ASSIGN_OR_RETURN(auto d2, disk::OpenDisk(vm2_disk0, disk::OpenMode::kReadOnly));
  std::vector<bool> present(n);
  std::vector<uint8_t> got(kRecordBytes), want(kRecordBytes);
  for (int i = 0; i < n; ++i) {
    disk::VirtualDisk* d = i % 2 == 0 ? d1.get() : d2.get();
    ASR_RETURN_IF_ERROR(d->ReadAt(RecordOffset(i), absl::MakeSpan(got)));
    fabric::GuestData(kSeedBase + i, 0, want.data(), want.size());
    present[i] = got == want;
  }
  return present;
}

// "" when no record is present without its predecessor; else the first
// such record.
inline std::string CausalViolation(const std::vector<bool>& present) {
  for (size_t i = 1; i < present.size(); ++i) {
    if (present[i] && !present[i - 1]) {
      return absl::StrCat("record ", i, " (", RecordVm(i), ") is present but record ", i - 1, " (",
                          RecordVm(i - 1), "), acknowledged before it was written, is not");
    }
  }
  return "";
}

inline int CountPresent(const std::vector<bool>& present) {
  int n = 0;
  for (bool p : present) n += p;
  return n;
}

}  // namespace asr::protection::testing

#endif  // ASR_PROTECTION_CAUSAL_WORKLOAD_H_
