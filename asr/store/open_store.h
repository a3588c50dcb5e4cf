// asr/store/open_store.h: the one place that picks a state store backend
// from where the state lives: a PostgreSQL URI ("postgresql://...",
// pg_store.h) or else a state directory (journal_store.h, the default).
//
//   StoreOpenOptions options;
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store,
//                        OpenStateStore("/var/lib/asr", options));
#ifndef ASR_STORE_OPEN_STORE_H_
#define ASR_STORE_OPEN_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asr/store/state_store.h"

namespace asr::store {

struct StoreOpenOptions {
  // Without the writer lock (directory) or lease (PostgreSQL); writes fail.
  bool read_only = false;
  // Create the directory or the tables when missing (writable opens only).
  bool create_if_missing = true;
};

absl::StatusOr<std::unique_ptr<StateStore>> OpenStateStore(const std::string& location,
                                                           const StoreOpenOptions& options);

// `location` as it may be shown: a URI's password replaced by "***".
std::string DisplayStateLocation(const std::string& location);

}  // namespace asr::store

#endif  // ASR_STORE_OPEN_STORE_H_
