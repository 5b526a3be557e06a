// The HLR role towards the network (docs/gsup.md §10), as osmo-hlr 1.5 plays it
// for its subscribers: location updating (UPDATE_LOCATION: the subscriber must
// have a contract; its MSISDN goes into INSERT_DATA), PURGE_MS and CHECK_IMEI, and where
// each subscriber was last seen, per CN domain: osmo-hlr's vlr_number /
// sgsn_number (with the proxy it came through) and ms_purged_cs/ps flags.
//
// That location is operational state kept in memory, not in the store: like
// the SQN it is not a lifecycle event, so it is never audited, but unlike the
// SQN nothing depends on it surviving a restart: no key, vector or answer
// (osmo-hlr 1.5 itself reads it back only for routing SMS/USSD and D-GSM,
// which kmsd does not do), and every MSC/SGSN updates it again at the
// subscriber's next (periodic) location update. Writing it would put a synced
// database write on every attach of every subscriber. On a cluster each node
// knows the locations updated through it.
//
// Threading: thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "storage/store.h"

namespace simkms::sc {

enum class CnDomain { kCs, kPs };

// Where one subscriber was last seen in one domain.
struct DomainLocation {
  std::string peer;       // the VLR (CS) or SGSN (PS): its IPA name
  std::string via_proxy;  // the GSUP proxy it came through (its IPA name), empty if direct
  bool purged = false;    // PURGE_MS since (osmo-hlr's ms_purged_cs/ps; a later LU does not clear it there either)
  bool operator==(const DomainLocation&) const = default;
};

struct SubscriberLocation {
  std::optional<DomainLocation> cs;  // osmo-hlr's vlr_number
  std::optional<DomainLocation> ps;  // osmo-hlr's sgsn_number
  bool operator==(const SubscriberLocation&) const = default;
};

class HlrService {
 public:
  // At most `max_subscribers` locations are kept; beyond that a new subscriber's
  // location update is still served, its location not kept (counted by
  // locations_dropped()).
  explicit HlrService(const storage::Store& store, std::size_t max_subscribers = 10'000'000)
      : store_(store), max_subscribers_(max_subscribers) {}

  // UPDATE_LOCATION_REQUEST from `peer` (the VLR/SGSN's IPA name: the
  // request's SOURCE_NAME, else the connection's IPA serial, which may be
  // empty: osmo-hlr accepts a serial of one NUL byte too) for `imsi` in
  // `domain`: records the location and returns the subscriber's MSISDN for
  // INSERT_DATA ("" when the contract has none). NotFound: no subscriber
  // record (no contract), and any kept location of `imsi` is forgotten (it was
  // terminated); a store error as the store gives it (nothing recorded).
  StatusOr<std::string> UpdateLocation(const std::string& imsi, CnDomain domain, const std::string& peer,
                                       const std::string& via_proxy);

  // PURGE_MS_REQUEST for `imsi` in `domain`: marks the domain's location
  // purged and keeps the VLR/SGSN name, as osmo-hlr does (its db_subscr_purge
  // sets the flag and leaves vlr_number/sgsn_number). It does not check that
  // the sender is that VLR (osmo-hlr 1.5 does not either). NotFound: no
  // subscriber record; a store error as the store gives it.
  Status PurgeMs(const std::string& imsi, CnDomain domain);

  // CHECK_IMEI_REQUEST for `imsi` whose IMEI IE read as 14 digits
  // (gsup::DecodeImeiIe): every IMEI is accepted, as osmo-hlr 1.5 accepts it,
  // and none is kept, unlike osmo-hlr with `store-imei` (docs/gsup.md §10.4);
  // so the IMEI is not even an argument. OK if the subscriber has a record;
  // NotFound if not (osmo-hlr looks its subscriber up too, store-imei off); a
  // store error as the store gives it. Nothing is recorded either way.
  Status CheckImei(const std::string& imsi) const;

  // The location kept for `imsi`, if any.
  std::optional<SubscriberLocation> Location(const std::string& imsi) const;
  std::size_t locations_kept() const;
  uint64_t locations_dropped() const;

 private:
  // The subscriber has a contract: OK, NotFound, or the store's error.
  Status CheckContracted(const std::string& imsi) const;
  // The domain's entry of `imsi`, created if absent; nullptr when the table is
  // full (counted as dropped). mu_ held.
  std::optional<DomainLocation>* SlotLocked(const std::string& imsi, CnDomain domain);

  const storage::Store& store_;
  const std::size_t max_subscribers_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, SubscriberLocation> locations_;  // by IMSI; guarded by mu_
  uint64_t dropped_ = 0;                                          // guarded by mu_
};

}  // namespace simkms::sc
