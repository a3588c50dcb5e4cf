// asr/fabric/inventory_sync.h: applying a VMM server's inventory to the
// vault's view of it, and reporting what changed. Runs as the job
// "SyncInventory"; FabricService::SyncInventory starts it.
//
//   InventorySync sync(&fabric, server, inventory, /*cloud_id=*/"");
//   ASR_ASSIGN_OR_RETURN(model::InventoryChangeReport report, sync.Run());
//
// States:
//
//   Validate  -- ids missing or duplicated, references to objects not in the
//      |         inventory, objects owned by another server --> refused
//   Scope     -- the whole server, or one cloud: the cloud, its host groups,
//      |         their hosts and the cloud's VMs
//   Diff      -- added / updated / removed per kind
//      |
//   CheckRemovals -- a paired cloud or a protected VM may not disappear
//      |             --> refused (unpair / disable protection first)
//   Commit    -- one atomic batch
//      |
//   Report    -- model::InventoryChangeReport
//
// A full sync marks clouds' metadata as synced when the server registered
// with "sync all cloud metadata"; a single-cloud sync always marks its cloud.
//
// Thread safety: used on the job's thread only.
#ifndef ASR_FABRIC_INVENTORY_SYNC_H_
#define ASR_FABRIC_INVENTORY_SYNC_H_

#include <string>

#include "absl/status/statusor.h"
#include "asr/fabric/fabric_service.h"

namespace asr::fabric {

class InventorySync {
 public:
  InventorySync(FabricService* fabric, model::VmmServer server, model::Inventory inventory,
                std::string cloud_id)
      : fabric_(fabric),
        server_(std::move(server)),
        inventory_(std::move(inventory)),
        cloud_id_(std::move(cloud_id)) {}

  absl::StatusOr<model::InventoryChangeReport> Run();

 private:
  absl::Status Validate();

  FabricService* fabric_;
  model::VmmServer server_;
  model::Inventory inventory_;
  std::string cloud_id_;
};

}  // namespace asr::fabric

#endif  // ASR_FABRIC_INVENTORY_SYNC_H_
