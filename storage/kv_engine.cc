#include "storage/kv_engine.h"

namespace simkms::storage {

const std::vector<std::string>& AllCfNames() {
  // "default" is RocksDB's own family, unused by the Store.
  static const std::vector<std::string> names = {"default",      "vers",         "ranges", "imsi_ranges",
                                                 "subscribers",  "iccid_index",  "wrapped_keys", "audit",
                                                 "meta"};
  return names;
}

}  // namespace simkms::storage
