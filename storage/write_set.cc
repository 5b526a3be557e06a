#include "storage/write_set.h"

#include <utility>

#include "storage/write_set_internal.h"

namespace simkms::storage {

WriteSet::WriteSet() = default;
WriteSet::~WriteSet() = default;
WriteSet::WriteSet(const WriteSet&) = default;
WriteSet& WriteSet::operator=(const WriteSet&) = default;
WriteSet::WriteSet(WriteSet&&) noexcept = default;
WriteSet& WriteSet::operator=(WriteSet&&) noexcept = default;

std::size_t WriteSet::size() const { return ops_.size(); }

void WriteSet::PutVer(VerRecord record) { ops_.push_back({op::PutVer{std::move(record)}}); }
void WriteSet::DeleteVer(uint32_t ver) { ops_.push_back({op::DeleteVer{ver}}); }
void WriteSet::PutRange(RangeRecord record) { ops_.push_back({op::PutRange{std::move(record)}}); }
void WriteSet::DeleteRange(std::string id) { ops_.push_back({op::DeleteRange{std::move(id)}}); }
void WriteSet::PutSubscriber(SubscriberRecord record) { ops_.push_back({op::PutSubscriber{std::move(record)}}); }
void WriteSet::DeleteSubscriber(std::string imsi) { ops_.push_back({op::DeleteSubscriber{std::move(imsi)}}); }
void WriteSet::ExpectSubscriber(SubscriberRecord current) {
  ops_.push_back({op::ExpectSubscriber{std::move(current)}});
}
void WriteSet::ExpectNoSubscriber(std::string imsi) { ops_.push_back({op::ExpectNoSubscriber{std::move(imsi)}}); }
void WriteSet::PutWrappedKey(WrappedKeyRecord record) { ops_.push_back({op::PutWrappedKey{std::move(record)}}); }
void WriteSet::DeleteWrappedKey(std::string key_id) { ops_.push_back({op::DeleteWrappedKey{std::move(key_id)}}); }
void WriteSet::PutMeta(std::string key, Bytes value) {
  ops_.push_back({op::PutMeta{std::move(key), std::move(value)}});
}
void WriteSet::DeleteMeta(std::string key) { ops_.push_back({op::DeleteMeta{std::move(key)}}); }

}  // namespace simkms::storage
