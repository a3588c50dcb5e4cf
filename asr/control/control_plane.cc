#include "asr/control/control_plane.h"

#include "asr/common/status_macros.h"

namespace asr::control {

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(engine::Engine* engine,
                                                                   const Clock* clock,
                                                                   fabric::HostCallbacks* host) {
  std::unique_ptr<ControlPlane> plane(new ControlPlane(engine, clock, host));
  ASR_RETURN_IF_ERROR(plane->fabric_.RegisterScenarios());
  ASR_RETURN_IF_ERROR(plane->policies_.RegisterScenarios());
  if (!engine->store().read_only()) {
    ASR_RETURN_IF_ERROR(plane->jobs_.RecoverInterruptedJobs().status());
  }
  return plane;
}

}  // namespace asr::control
