// asr/store/state_map.h: the in-memory copy of a state that every backend
// keeps (loaded when the store opens, changed by each commit), and the
// lookups that StateStore::Get and StateStore::Scan answer from it.
//
//   StateMap data_ ABSL_GUARDED_BY(mu_);
//   absl::StatusOr<std::string> Get(absl::string_view key) const override {
//     absl::MutexLock l(&mu_);
//     return GetFromStateMap(data_, key);
//   }
//
// Thread safety: plain functions over a map the caller guards.
#ifndef ASR_STORE_STATE_MAP_H_
#define ASR_STORE_STATE_MAP_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace asr::store {

// Keys in byte order, as Scan returns them.
using StateMap = std::map<std::string, std::string>;

// The value under `key`; NotFound naming the key if there is none.
inline absl::StatusOr<std::string> GetFromStateMap(const StateMap& data, absl::string_view key) {
  auto it = data.find(std::string(key));
  if (it == data.end()) return absl::NotFoundError(absl::StrCat("no state under key ", key));
  return it->second;
}

// Every (key, value) whose key starts with `prefix`, in key order.
inline std::vector<std::pair<std::string, std::string>> ScanStateMap(const StateMap& data,
                                                                     absl::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = data.lower_bound(std::string(prefix));
       it != data.end() && absl::StartsWith(it->first, prefix); ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

}  // namespace asr::store

#endif  // ASR_STORE_STATE_MAP_H_
