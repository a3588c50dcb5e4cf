#include "asr/store/open_store.h"

#include "asr/common/status_macros.h"
#include "asr/store/journal_store.h"
#include "asr/store/pg_store.h"

namespace asr::store {

absl::StatusOr<std::unique_ptr<StateStore>> OpenStateStore(const std::string& location,
                                                           const StoreOpenOptions& options) {
  if (IsPostgresUri(location)) {
    PgStoreOptions o;
    o.read_only = options.read_only;
    o.create_if_missing = options.create_if_missing;
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<PgStateStore> store, OpenPgStore(location, o));
    return std::unique_ptr<StateStore>(std::move(store));
  }
  JournalStoreOptions o;
  o.read_only = options.read_only;
  o.create_if_missing = options.create_if_missing;
  return OpenJournalStore(location, o);
}

std::string DisplayStateLocation(const std::string& location) {
  return IsPostgresUri(location) ? RedactPostgresUri(location) : location;
}

}  // namespace asr::store
