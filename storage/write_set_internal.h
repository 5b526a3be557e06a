// INTERNAL to simkms_storage: the operations a WriteSet collects.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "storage/write_set.h"

namespace simkms::storage {

namespace op {
struct PutVer { VerRecord record; };
struct DeleteVer { uint32_t ver; };
struct PutRange { RangeRecord record; };
struct DeleteRange { std::string id; };
struct PutSubscriber { SubscriberRecord record; };
struct DeleteSubscriber { std::string imsi; };
struct ExpectSubscriber { SubscriberRecord current; };
struct ExpectNoSubscriber { std::string imsi; };
struct PutWrappedKey { WrappedKeyRecord record; };
struct DeleteWrappedKey { std::string key_id; };
struct PutMeta { std::string key; Bytes value; };
struct DeleteMeta { std::string key; };
}  // namespace op

struct WriteSet::Op {
  std::variant<op::PutVer, op::DeleteVer, op::PutRange, op::DeleteRange, op::PutSubscriber, op::DeleteSubscriber,
               op::ExpectSubscriber, op::ExpectNoSubscriber, op::PutWrappedKey, op::DeleteWrappedKey, op::PutMeta,
               op::DeleteMeta>
      v;
};

}  // namespace simkms::storage
