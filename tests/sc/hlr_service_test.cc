// The HLR role's engine (sc-engine/engine/hlr_service.h, docs/gsup.md §10): a
// location update needs a contract and yields its MSISDN; the VLR/SGSN is kept
// per domain with the proxy; PURGE_MS marks the domain purged and keeps the
// name (osmo-hlr 1.5's db_subscr_lu / db_subscr_purge); CHECK_IMEI needs a
// record; nothing is written to the store or the audit trail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sc-engine/engine/hlr_service.h"
#include "tests/sc/appliance_fixture.h"

namespace simkms::sc {
namespace {

class HlrServiceTest : public ApplianceFixture {
 protected:
  std::string ContractWith(std::optional<std::string> msisdn) {
    ContractRequest req{"order-1", kFirstIccid, std::nullopt, std::nullopt, std::move(msisdn)};
    return Unwrap(Subscribers().Contract(req)).imsi;
  }
};

TEST_F(HlrServiceTest, LocationUpdateNeedsAContractAndGivesItsMsisdn) {
  HlrService hlr(*store_);
  const std::string imsi = ContractWith("4917012345678");
  const uint64_t seq = AuditSeq();
  EXPECT_EQ(Unwrap(hlr.UpdateLocation(imsi, CnDomain::kCs, "MSC-1", "")), "4917012345678");
  EXPECT_EQ(Unwrap(hlr.UpdateLocation(imsi, CnDomain::kPs, "SGSN-1", "PROXY-1")), "4917012345678");
  SubscriberLocation where = hlr.Location(imsi).value();
  EXPECT_EQ(where.cs, (DomainLocation{"MSC-1", "", false}));
  EXPECT_EQ(where.ps, (DomainLocation{"SGSN-1", "PROXY-1", false}));
  // The VLR changes: the new one is kept.
  Unwrap(hlr.UpdateLocation(imsi, CnDomain::kCs, "MSC-2", ""));
  EXPECT_EQ(hlr.Location(imsi)->cs->peer, "MSC-2");
  EXPECT_EQ(AuditSeq(), seq);  // operational state: no audit record, nothing stored

  auto unknown = hlr.UpdateLocation("001019876500999", CnDomain::kCs, "MSC-1", "");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(hlr.Location("001019876500999").has_value());
}

TEST_F(HlrServiceTest, AContractWithoutMsisdnGivesAnEmptyOne) {
  HlrService hlr(*store_);
  const std::string imsi = ContractWith(std::nullopt);
  EXPECT_EQ(Unwrap(hlr.UpdateLocation(imsi, CnDomain::kPs, "SGSN-1", "")), "");
}

TEST_F(HlrServiceTest, PurgeMarksTheDomainAndKeepsTheVlrName) {
  HlrService hlr(*store_);
  const std::string imsi = ContractWith("4917012345678");
  Unwrap(hlr.UpdateLocation(imsi, CnDomain::kCs, "MSC-1", ""));
  Unwrap(hlr.UpdateLocation(imsi, CnDomain::kPs, "SGSN-1", ""));
  ASSERT_OK(hlr.PurgeMs(imsi, CnDomain::kCs));
  EXPECT_EQ(hlr.Location(imsi)->cs, (DomainLocation{"MSC-1", "", true}));
  EXPECT_EQ(hlr.Location(imsi)->ps, (DomainLocation{"SGSN-1", "", false}));
  // As in osmo-hlr 1.5, a later location update does not clear the flag.
  Unwrap(hlr.UpdateLocation(imsi, CnDomain::kCs, "MSC-2", ""));
  EXPECT_EQ(hlr.Location(imsi)->cs, (DomainLocation{"MSC-2", "", true}));
  EXPECT_EQ(hlr.PurgeMs("001019876500999", CnDomain::kCs).code(), StatusCode::kNotFound);
}

TEST_F(HlrServiceTest, ATerminatedSubscribersLocationIsForgottenAtItsNextUpdate) {
  HlrService hlr(*store_);
  const std::string imsi = ContractWith(std::nullopt);
  Unwrap(hlr.UpdateLocation(imsi, CnDomain::kCs, "MSC-1", ""));
  ASSERT_OK(Subscribers().Terminate(imsi));
  EXPECT_EQ(hlr.UpdateLocation(imsi, CnDomain::kCs, "MSC-1", "").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(hlr.Location(imsi).has_value());
  EXPECT_EQ(hlr.locations_kept(), 0u);
}

TEST_F(HlrServiceTest, BeyondItsBoundLocationsAreServedButNotKept) {
  HlrService hlr(*store_, 1);
  const std::string first = ContractWith(std::nullopt);
  const std::string second =
      Unwrap(Subscribers().Contract({"order-2", storage::FormatIccid(894900123456789012ULL + 1), std::nullopt,
                                     std::nullopt, "4917000000001"}))
          .imsi;
  Unwrap(hlr.UpdateLocation(first, CnDomain::kCs, "MSC-1", ""));
  EXPECT_EQ(Unwrap(hlr.UpdateLocation(second, CnDomain::kCs, "MSC-1", "")), "4917000000001");
  EXPECT_FALSE(hlr.Location(second).has_value());
  EXPECT_EQ(hlr.locations_kept(), 1u);
  EXPECT_EQ(hlr.locations_dropped(), 1u);
}

// CHECK_IMEI (docs/gsup.md §10.4): the subscriber looked up as for PURGE_MS, no
// IMEI taken, nothing recorded: no location, no audit record, no store write.
TEST_F(HlrServiceTest, CheckImeiKnowsTheSubscriberAndRecordsNothing) {
  HlrService hlr(*store_);
  const std::string imsi = ContractWith("4917012345678");
  const uint64_t seq = AuditSeq();
  ASSERT_OK(hlr.CheckImei(imsi));
  EXPECT_EQ(hlr.CheckImei("001019876500999").code(), StatusCode::kNotFound);
  EXPECT_EQ(hlr.locations_kept(), 0u);
  EXPECT_EQ(AuditSeq(), seq);
  ASSERT_OK(Subscribers().Terminate(imsi));
  EXPECT_EQ(hlr.CheckImei(imsi).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace simkms::sc
