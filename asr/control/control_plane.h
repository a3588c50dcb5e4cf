// asr/control/control_plane.h: the control plane of one engine, assembled:
// the job manager, the fabric (vault, registration, inventory, pairing) and
// the replication policy engine, with every job scenario registered. The C
// API keeps one per engine handle; asrctl makes one per command.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<control::ControlPlane> plane,
//                        control::ControlPlane::Create(engine.get(), &Clock::Real(), &host));
//   ASR_ASSIGN_OR_RETURN(model::Job job, plane->fabric().PairClouds("GoldCloud1", "GoldCloud2"));
//   ASR_ASSIGN_OR_RETURN(job, plane->policies().AssociatePolicy("gold", "GoldCloud1"));
//   ASR_ASSIGN_OR_RETURN(std::vector<model::Job> failed,
//                        plane->jobs().List(jobs::JobFilter::ByState(model::Failed)));
//
// Other subsystems register their own scenarios on jobs() (e.g. mapping
// propagation, failover) and run their work through it.
//
// Thread safety: as its parts: thread-safe; state-changing operations are
// serialized. `engine`, `clock` and `host` must outlive the control plane.
#ifndef ASR_CONTROL_CONTROL_PLANE_H_
#define ASR_CONTROL_CONTROL_PLANE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "asr/common/clock.h"
#include "asr/engine/engine.h"
#include "asr/fabric/fabric_service.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/jobs/job_manager.h"
#include "asr/policy/policy_engine.h"

namespace asr::control {

class ControlPlane {
 public:
  // Registers all scenarios and, on a writable engine, marks jobs left
  // InProgress by a stopped process as Failed (restartable). `host` may be
  // null.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Create(engine::Engine* engine,
                                                              const Clock* clock,
                                                              fabric::HostCallbacks* host);

  jobs::JobManager& jobs() { return jobs_; }
  fabric::FabricService& fabric() { return fabric_; }
  policy::PolicyEngine& policies() { return policies_; }
  engine::Engine& engine() { return *engine_; }

 private:
  ControlPlane(engine::Engine* engine, const Clock* clock, fabric::HostCallbacks* host)
      : engine_(engine),
        jobs_(engine, clock),
        fabric_(engine, &jobs_, clock, host),
        policies_(engine, &jobs_, &fabric_, clock) {}

  engine::Engine* engine_;
  jobs::JobManager jobs_;
  fabric::FabricService fabric_;
  policy::PolicyEngine policies_;
};

}  // namespace asr::control

#endif  // ASR_CONTROL_CONTROL_PLANE_H_
