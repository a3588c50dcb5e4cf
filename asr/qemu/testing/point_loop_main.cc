// point_loop ROOT VM_ID: takes and releases crash-consistent points of a
// running VM of the QEMU host in ROOT, one after the other, until it is
// killed, printing "point ID" after each point and "released ID" after
// each release. For tests that kill an asr process in the middle of a point.
#include <iostream>
#include <memory>
#include <string>

#include "asr/qemu/qemu_host.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: point_loop ROOT VM_ID\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<asr::qemu::QemuHost>> host = asr::qemu::QemuHost::Open(argv[1]);
  if (!host.ok()) {
    std::cerr << host.status() << "\n";
    return 1;
  }
  for (;;) {
    absl::StatusOr<asr::model::HostPoint> p =
        (*host)->CreatePoint(argv[2], asr::model::CrashConsistent);
    if (!p.ok()) {
      std::cerr << p.status() << "\n";
      return 1;
    }
    std::cout << "point " << p->id() << std::endl;
    absl::Status r = (*host)->ReleasePoint(*p);
    if (!r.ok()) {
      std::cerr << r << "\n";
      return 1;
    }
    std::cout << "released " << p->id() << std::endl;
  }
}
