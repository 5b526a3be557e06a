// The card's file system file by file (TS 102 221 §13, TS 31.102 §4.2,
// TS 51.011 §10): SELECT and the FCP, the contents, READ/UPDATE BINARY and
// RECORD in every record mode, the access conditions before and after VERIFY
// PIN, the ATR, AUTHENTICATE only in the USIM's context, and the SIM menu the
// toolkit applet sets up after TERMINAL PROFILE. The expected bytes are
// written out from the specifications, not computed by the card's own code.
#include <gtest/gtest.h>

#include <iterator>

#include "tests/chip/card_test_util.h"
#include "tests/support/status_testing.h"
#include "tools/chipsim/card_files.h"
#include "tools/chipsim/chip_image.h"
#include "tools/chipsim/personalization_applet.h"
#include "tools/chipsim/proactive.h"

namespace simkms::chip::testing {
namespace {

const std::string kAidHex = "a0000000871002ff49ff0589534b4d53";

class CardFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override { card_.PowerOn(); }
  void VerifyPin() { ASSERT_EQ(Send(card_, WithData("00200001", Chv("0000"))).sw, 0x9000); }
  // The FCP of `fid` (SELECT P2 04 by FID from the current DF).
  std::string FcpOf(const std::string& fid) {
    Response r = Exchange(card_, "00A4000402" + fid);
    EXPECT_EQ(r.sw, 0x9000) << fid;
    return r.hex();
  }
  Card card_{MakeChip(), nullptr};
};

TEST_F(CardFileSystemTest, AtrAnnouncesT0AndClassesBAndCWithAChecksum) {
  const Bytes atr = card_.PowerOn();
  EXPECT_EQ(ToHex(atr), "3b88801fc6" + ToHex(AsBytes("SIMKMS01")) + ToHex(Bytes{atr.back()}));
  // TCK: T0 .. TCK XOR to zero (ISO 7816-3 §8.2.5).
  uint8_t x = 0;
  for (std::size_t i = 1; i < atr.size(); ++i) x ^= atr[i];
  EXPECT_EQ(x, 0);
  EXPECT_EQ(Card::Atr(), atr);
  // The GSM response of the MF: 3 V and 1.8 V technology, not a 5 V card.
  Response mf = Exchange(card_, "A0A40000023F00");
  ASSERT_EQ(mf.data.size(), 22u);
  EXPECT_EQ(mf.data[13] & 0x70, 0x30);
}

TEST_F(CardFileSystemTest, EfDirNamesTheUsimWhoseAidSelectsIt) {
  // Linear fixed, 1 record of 32 bytes, SFI 1E, ARR record 3 (read always, update ADM).
  EXPECT_EQ(FcpOf("2f00"), "621a" "82054221002001" "83022f00" "8a0105" "8b032f0603" "80020020" "8801f0");
  Response rec = Send(card_, "00B2010420");
  ASSERT_EQ(rec.sw, 0x9000);
  const std::string record = "6118" "4f10" + kAidHex + "5004" + ToHex(AsBytes("USIM"));
  EXPECT_EQ(rec.hex(), record + std::string(64 - record.size(), 'f'));
  // By SFI 1E from the MF (P2 = 1E << 3 | 04).
  EXPECT_EQ(Send(card_, "00B201F420").hex(), rec.hex());
  // The AID from the record selects the ADF, whose FCP carries it.
  Response adf = Exchange(card_, "00A4040410" + kAidHex);
  ASSERT_EQ(adf.sw, 0x9000);
  EXPECT_NE(adf.hex().find("8410" + kAidHex), std::string::npos);
  EXPECT_NE(adf.hex().find("8b032f0601"), std::string::npos);
  // Partial (right-truncated) AIDs: 7 bytes and more select it, a wrong byte does not.
  EXPECT_EQ(Send(card_, "00A4040C0AA0000000871002FF49FF").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00A4040C0AA0000000871002FF49FE").sw, 0x6A82);
  EXPECT_EQ(Send(card_, "00A4040C06A00000008710").sw, 0x6A82);
}

TEST_F(CardFileSystemTest, EfArrHoldsTheRulesTheFcpsPointTo) {
  // Linear fixed under the MF, SFI 06.
  const std::string fcp = FcpOf("2f06");
  EXPECT_NE(fcp.find("83022f06"), std::string::npos);
  EXPECT_NE(fcp.find("880130"), std::string::npos);
  ASSERT_EQ(fcp.substr(4, 8), "82054221");
  const int size = std::stoi(fcp.substr(12, 4), nullptr, 16);
  const int records = std::stoi(fcp.substr(16, 2), nullptr, 16);
  ASSERT_EQ(records, 6);
  const std::string le = ToHex(Bytes{static_cast<uint8_t>(size)});
  auto record = [&](int n) {
    Response r = Send(card_, "00B2" + ToHex(Bytes{static_cast<uint8_t>(n)}) + "04" + le);
    EXPECT_EQ(r.sw, 0x9000) << n;
    std::string hex = r.hex();
    return hex.substr(0, hex.find_last_not_of('f') + 1);  // without the FF padding
  };
  // TS 102 221 §9.2.5 expanded format: AM_DO 80, then SC_DO 90 00 (always),
  // 97 00 (never), or A4 {83 01 key, 95 01 08} (PIN1 01, ADM1 0A).
  const std::string pin1 = "a406830101950108";
  const std::string adm = "a4068301" "0a" "950108";
  EXPECT_EQ(record(1), "80017f" + adm);                                        // DFs
  EXPECT_EQ(record(2), "800101" "9000" "800118" + adm + "800102" "9700");      // EF_ICCID
  EXPECT_EQ(record(3), "800101" "9000" "80011a" + adm);                        // read always, update ADM
  EXPECT_EQ(record(4), "800101" + pin1 + "80011a" + adm);                      // read PIN, update ADM
  EXPECT_EQ(record(5), "800103" + pin1 + "800118" + adm);                      // read and update PIN
  EXPECT_EQ(record(6), "800111" + pin1 + "80010a" + adm);                      // EF_IMSI: ACTIVATE with PIN
  EXPECT_EQ(Send(card_, "00B2070400").sw, 0x6A83);
  // The FCPs name those records.
  EXPECT_NE(FcpOf("2fe2").find("8b032f0602"), std::string::npos);
  SelectUsim(card_);
  EXPECT_EQ(FcpOf("6f07"), "6217" "82024121" "83026f07" "8a0105" "8b032f0606" "80020009" "880138");
  EXPECT_NE(FcpOf("6f38").find("8b032f0604"), std::string::npos);  // EF_UST
  EXPECT_NE(FcpOf("6f7e").find("8b032f0605"), std::string::npos);  // EF_LOCI
  EXPECT_NE(FcpOf("6fad").find("8b032f0603"), std::string::npos);  // EF_AD
  // Nobody updates EF_ARR over this interface (ADM), not even after VERIFY.
  VerifyPin();
  EXPECT_EQ(Send(card_, "00A4080C022F06").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00DC0104" + le + std::string(2 * size, '0')).sw, 0x6982);
}

TEST_F(CardFileSystemTest, UsimFilesHoldWhatTheCardIs) {
  SelectUsim(card_);
  // EF_AD (read always): normal operation, 2-digit MNC (001 01).
  EXPECT_EQ(Send(card_, "00B0830004").hex(), "00000002");  // by SFI 03
  // EF_SPN (read always).
  EXPECT_EQ(Send(card_, "00A4000C026F46").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B0000011").hex(), "00" + ToHex(AsBytes("simkms")) + std::string(20, 'f'));
  // PIN-protected files are refused before VERIFY.
  for (const char* sfi_read : {"00B0840005", "00B0860002", "00B0870009", "00B08B000B", "00B08C000E", "00B0880021",
                               "00B0890021"}) {
    EXPECT_EQ(Send(card_, sfi_read).sw, 0x6982) << sfi_read;
  }
  VerifyPin();
  // EF_UST: services 19 SPN, 21 MSISDN, 28 SMS-PP download, 30 call control,
  // 33 PS domain, 38 GSM security context, and no other.
  EXPECT_EQ(Send(card_, "00B0840005").hex(), "0000142821");
  // EF_ACC: the IMSI ends in 0: access class 0.
  EXPECT_EQ(Send(card_, "00B0860002").hex(), "0001");
  EXPECT_EQ(Send(card_, "00B0870009").hex(), "080910108967050000");
  // EF_LOCI / EF_PSLOCI: no location yet, LAC deleted, not updated.
  EXPECT_EQ(Send(card_, "00B08B000B").hex(), std::string(16, 'f') + "feff01");
  EXPECT_EQ(Send(card_, "00B08C000E").hex(), std::string(22, 'f') + "feff01");
  // EF_KEYS / EF_KEYSPS: KSI 07, no key.
  EXPECT_EQ(Send(card_, "00B0880021").hex(), "07" + std::string(64, 'f'));
  EXPECT_EQ(Send(card_, "00B0890021").hex(), "07" + std::string(64, 'f'));
  // No SFI 02 in the ADF (EF_ICCID's SFI is the MF's).
  EXPECT_EQ(Send(card_, "00B0820001").sw, 0x6A82);
}

TEST(CardAccessClassTest, EfAccIsTheImsisLastDigit) {
  for (const auto& [imsi, acc] : {std::pair{"001019876500003", "0008"}, std::pair{"001019876500008", "0100"},
                                  std::pair{"001019876500009", "0200"}}) {
    Card card(MakeChip(imsi), nullptr);
    card.PowerOn();
    ASSERT_EQ(Send(card, WithData("00200001", Chv("0000"))).sw, 0x9000);
    SelectUsim(card);
    EXPECT_EQ(Send(card, "00B0860002").hex(), acc) << imsi;
  }
}

TEST_F(CardFileSystemTest, GsmFilesAndTheirAccessConditions) {
  ASSERT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);
  Response df = Send(card_, "A0C0000016");
  EXPECT_EQ(df.data[14], 0);  // no DF in DF_GSM
  EXPECT_EQ(df.data[15], 6);  // IMSI, AD, SST, ACC, LOCI, SPN
  // EF_IMSI: READ CHV1, UPDATE ADM; INCREASE never; REHABILITATE CHV1, INVALIDATE ADM.
  ASSERT_EQ(Send(card_, "A0A40000026F07").sw, 0x9F0F);
  Response imsi = Send(card_, "A0C000000F");
  EXPECT_EQ(ToHex(ByteView(imsi.data).subspan(8, 3)), "14f014");
  // EF_SST needs CHV1; then: 1 CHV1 disable, 9 MSISDN, 17 SPN, 26 SMS-PP
  // download, 27 menu selection, 28 call control, 29 proactive SIM.
  ASSERT_EQ(Send(card_, "A0A40000026F38").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B0000008").sw, 0x9804);
  ASSERT_EQ(Send(card_, WithData("A0200001", Chv("0000"))).sw, 0x9000);
  EXPECT_EQ(Send(card_, "A0B0000008").hex(), "030003000300fc03");
  // EF_AD, EF_ACC the same as the USIM's.
  ASSERT_EQ(Send(card_, "A0A40000026FAD").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B0000004").hex(), "00000002");
  ASSERT_EQ(Send(card_, "A0A40000026F78").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B0000002").hex(), "0001");
  // The ADF's files are not the SIM's.
  EXPECT_EQ(Send(card_, "A0A40000026F73").sw, 0x9404);
  EXPECT_EQ(Send(card_, "A0A40000026F08").sw, 0x9404);
  // EF_MSISDN in DF_TELECOM, linear fixed: 14-byte records.
  ASSERT_EQ(Send(card_, "A0A40000027F10").sw, 0x9F16);
  ASSERT_EQ(Send(card_, "A0A40000026F40").sw, 0x9F0F);
  Response msisdn = Send(card_, "A0C000000F");
  EXPECT_EQ(msisdn.data[13], 0x01);  // linear fixed
  EXPECT_EQ(msisdn.data[14], 14);    // record length
  EXPECT_EQ(Send(card_, "A0B201040E").hex(), std::string(28, 'f'));
  EXPECT_EQ(Send(card_, "A0B2020400").sw, 0x9402);  // no record 2
  EXPECT_EQ(Send(card_, "A0B201040D").sw, 0x670E);  // the record length
  EXPECT_EQ(Send(card_, "A0B0000001").sw, 0x9408);  // not transparent
}

TEST_F(CardFileSystemTest, RecordModesMoveThePointerAsTs102221Says) {
  ASSERT_EQ(Send(card_, "00A4000C022F06").sw, 0x9000);
  const std::string fcp = FcpOf("2f06");
  const std::string le = fcp.substr(14, 2);
  auto read = [&](const std::string& p1p2) { return Send(card_, "00B2" + p1p2 + le); };
  const std::string r1 = read("0104").hex(), r2 = read("0204").hex(), r5 = read("0504").hex(), r6 = read("0604").hex();
  // No current record after SELECT: current is not found, next is the first,
  // previous the last.
  EXPECT_EQ(read("0004").sw, 0x6A83);
  EXPECT_EQ(read("0002").hex(), r1);
  EXPECT_EQ(read("0002").hex(), r2);
  EXPECT_EQ(read("0004").hex(), r2);  // current
  EXPECT_EQ(read("0504").hex(), r5);  // absolute: the pointer stays
  EXPECT_EQ(read("0004").hex(), r2);
  EXPECT_EQ(read("0003").hex(), r1);  // previous
  EXPECT_EQ(read("0003").sw, 0x6A83);  // before the first: refused, pointer kept
  EXPECT_EQ(read("0004").hex(), r1);
  ASSERT_EQ(Send(card_, "00A4000C022F06").sw, 0x9000);  // SELECT forgets it
  EXPECT_EQ(read("0003").hex(), r6);
  EXPECT_EQ(read("0002").sw, 0x6A83);  // past the last
  EXPECT_EQ(read("0704").sw, 0x6A83);
  EXPECT_EQ(read("0102").sw, 0x6A86);  // next with a record number
  EXPECT_EQ(read("0105").sw, 0x6A86);  // mode 05 undefined
  EXPECT_EQ(Send(card_, "00B2010400").sw, 0x6C00 | std::stoi(le, nullptr, 16));
  EXPECT_EQ(Send(card_, "00B000000A").sw, 0x6981);  // READ BINARY on a linear fixed EF
  ASSERT_EQ(Send(card_, "00A4000C022FE2").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B2010410").sw, 0x6981);  // READ RECORD on a transparent EF
  ASSERT_EQ(Send(card_, "00A4000C023F00").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B2010410").sw, 0x6986);  // no EF
}

TEST_F(CardFileSystemTest, UpdatesNeedThePinAndAreSharedBySimAndUsim) {
  SelectUsim(card_);
  // EF_LOCI: update PIN.
  const std::string loci = "11223344" "62f210" "1234" "ff" "00";
  EXPECT_EQ(Send(card_, "00D68B000B" + loci).sw, 0x6982);
  VerifyPin();
  EXPECT_EQ(Send(card_, "00D68B000B" + loci).sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B08B000B").hex(), loci);
  EXPECT_EQ(Send(card_, "00D68B0A02" "0000").sw, 0x6700);  // past the end
  EXPECT_EQ(Send(card_, "00D68B0B01" "00").sw, 0x6B00);
  // EF_IMSI, EF_UST, EF_AD: ADM only.
  EXPECT_EQ(Send(card_, "00D6870001" "08").sw, 0x6982);
  EXPECT_EQ(Send(card_, "00D6840001" "ff").sw, 0x6982);
  EXPECT_EQ(Send(card_, "00D6830001" "03").sw, 0x6982);
  // EF_MSISDN: UPDATE RECORD with the PIN, READ RECORD by next.
  ASSERT_EQ(Send(card_, "00A4000C026F40").sw, 0x9000);
  const std::string number = "07" "91" "9471000010f0" "ffffffff" "ff" "ff";
  EXPECT_EQ(Send(card_, "00DC01040E" + number).sw, 0x9000);
  EXPECT_EQ(Send(card_, "00DC01040D" + number.substr(0, 26)).sw, 0x6700);
  EXPECT_EQ(Send(card_, "00B200020E").hex(), number);
  // The SIM sees the same files (DF_GSM's EF_LOCI, DF_TELECOM's EF_MSISDN),
  // after a reset too.
  card_.PowerOn();
  ASSERT_EQ(Send(card_, WithData("A0200001", Chv("0000"))).sw, 0x9000);
  ASSERT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);
  ASSERT_EQ(Send(card_, "A0A40000026F7E").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B000000B").hex(), loci);
  ASSERT_EQ(Send(card_, "A0A40000027F10").sw, 0x9F16);
  ASSERT_EQ(Send(card_, "A0A40000026F40").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A0B201040E").hex(), number);
  // The two VERIFYs and the two updates: each is non-volatile (the image keeps it).
  EXPECT_EQ(card_.state_generation(), 4u);
}

// What a terminal writes is the card's EEPROM: it survives the image (so the
// next chipsim run, or pcscd's next session through `chipsim vpcd`, reads it),
// and the dealer's reset erases it with the rest of the last user's data.
TEST_F(CardFileSystemTest, TerminalWritesPersistInTheImage) {
  SelectUsim(card_);
  VerifyPin();
  const std::string loci = "11223344" "00f110" "1234" "ff" "00";
  const std::string keys = "01" + std::string(32, '4') + std::string(32, '5');
  const std::string number = "07" "91" "0010000010f0" "ffffffff" "ff" "ff";
  ASSERT_EQ(Send(card_, "00D68B000B" + loci).sw, 0x9000);
  ASSERT_EQ(Send(card_, "00D6880021" + keys).sw, 0x9000);
  ASSERT_EQ(Send(card_, "00A4000C026F40").sw, 0x9000);
  ASSERT_EQ(Send(card_, "00DC01040E" + number).sw, 0x9000);
  EXPECT_EQ(card_.state().terminal_writes.size(), 3u);

  Card again(ParseChipImage(SerializeChipImage(card_.state())).value(), nullptr);
  again.PowerOn();
  SelectUsim(again);
  ASSERT_EQ(Send(again, WithData("00200001", Chv("0000"))).sw, 0x9000);
  EXPECT_EQ(Send(again, "00B08B000B").hex(), loci);
  EXPECT_EQ(Send(again, "00B0880021").hex(), keys);
  EXPECT_EQ(Send(again, "00B08C000E").hex(), std::string(22, 'f') + "feff01");  // PSLOCI untouched
  ASSERT_EQ(Send(again, "00A4000C026F40").sw, 0x9000);
  EXPECT_EQ(Send(again, "00B201040E").hex(), number);

  ChipState reset = again.state();
  ASSERT_OK(ResetPersonalization(reset));
  EXPECT_TRUE(reset.terminal_writes.empty());
  Card fresh(std::move(reset), nullptr);
  fresh.PowerOn();
  SelectUsim(fresh);
  ASSERT_EQ(Send(fresh, WithData("00200001", Chv("0000"))).sw, 0x9000);
  EXPECT_EQ(Send(fresh, "00B08B000B").hex(), std::string(16, 'f') + "feff01");
  EXPECT_EQ(Send(fresh, "00B0880021").hex(), "07" + std::string(64, 'f'));
}

// Exactly the files a terminal may update (UPDATE condition PIN1) have a name
// under which the image keeps their writes; the ADM files have none, so no
// image can smuggle in another IMSI or another EF_AD.
TEST(CardFilesTest, WritableNamesAreExactlyTheFilesWhoseUpdateNeedsThePin) {
  for (int i = 0; i <= static_cast<int>(FileId::kEfMsisdn); ++i) {
    const auto f = static_cast<FileId>(i);
    if (IsDf(f)) continue;
    SCOPED_TRACE(i);
    const bool writable = RuleOf(f).update == Access::kPin1;
    auto name = WritableContentName(ContentOf(f));
    EXPECT_EQ(name.has_value(), writable);
    if (name) {
      EXPECT_EQ(WritableContentByName(*name), ContentOf(f));
    }
  }
  EXPECT_FALSE(WritableContentByName("imsi").has_value());
  EXPECT_FALSE(WritableContentByName("ad").has_value());
}

// EF_AD's fourth byte is the MNC length the card was made with (from its
// range, through the K1 export and simkms-mfr: MfrE2eTest follows that chain).
TEST(CardFilesTest, EfAdSaysTheMncLengthTheCardWasMadeWith) {
  for (MncLength length : {MncLength::kTwo, MncLength::kThree}) {
    ChipState s = PrePersonalize(kIccid, "999070000000001", length, 2, kms::Profile::kModern,
                                 SecretBytes::Copy(Hex(kK1Hex)), DhGroupSpec{}, SecretBytes::Copy(Hex(kOpHex)))
                      .value();
    Card card(std::move(s), nullptr);
    card.PowerOn();
    const std::string want = length == MncLength::kTwo ? "00000002" : "00000003";
    SelectUsim(card);
    EXPECT_EQ(Send(card, "00B0830004").hex(), want);
    card.PowerOn();
    ASSERT_EQ(Send(card, "A0A40000027F20").sw, 0x9F16);
    ASSERT_EQ(Send(card, "A0A40000026FAD").sw, 0x9F0F);
    EXPECT_EQ(Send(card, "A0B0000004").hex(), want);
  }
  EXPECT_EQ(MncLengthOf(4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MncLengthOf(1).status().code(), StatusCode::kInvalidArgument);
}

// INVALIDATE/REHABILITATE (GSM) and DEACTIVATE/ACTIVATE FILE (UICC): nobody
// may deactivate a file here (ADM everywhere); ACTIVATE needs its condition
// (EF_IMSI: CHV1, TS 51.011 §10.3.2) and leaves the activated file as it is.
TEST_F(CardFileSystemTest, NoFileCanBeDeactivatedAndActivateNeedsItsCondition) {
  SelectUsim(card_);
  ASSERT_EQ(Send(card_, "00A4000C026F07").sw, 0x9000);  // EF_IMSI
  EXPECT_EQ(Send(card_, "00440000").sw, 0x6982);         // ACTIVATE before VERIFY
  EXPECT_EQ(Send(card_, "00040000").sw, 0x6982);         // DEACTIVATE: ADM
  VerifyPin();
  EXPECT_EQ(Send(card_, "00040000").sw, 0x6982);
  EXPECT_EQ(Send(card_, "00440000").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00B0000009").hex(), "080910108967050000");  // still there, still readable
  EXPECT_EQ(Send(card_, "0044000400").sw, 0x6A86);  // by identifier: not supported
  EXPECT_EQ(Send(card_, "0044000002" "6f07").sw, 0x6700);
  ASSERT_EQ(Send(card_, "00A4000C026FAD").sw, 0x9000);  // EF_AD: ACTIVATE is ADM
  EXPECT_EQ(Send(card_, "00440000").sw, 0x6982);
  ASSERT_EQ(Send(card_, "00A4000C023F00").sw, 0x9000);
  EXPECT_EQ(Send(card_, "00440000").sw, 0x6986);  // no EF selected
  EXPECT_EQ(Send(card_, "80440000").sw, 0x6E00);  // an ISO command with a proprietary CLA

  card_.PowerOn();
  ASSERT_EQ(Send(card_, "A0A40000027F20").sw, 0x9F16);
  ASSERT_EQ(Send(card_, "A0A40000026F07").sw, 0x9F0F);
  EXPECT_EQ(Send(card_, "A044000000").sw, 0x9804);  // REHABILITATE before CHV1
  ASSERT_EQ(Send(card_, WithData("A0200001", Chv("0000"))).sw, 0x9000);
  EXPECT_EQ(Send(card_, "A004000000").sw, 0x9804);  // INVALIDATE: ADM
  EXPECT_EQ(Send(card_, "A044000000").sw, 0x9000);
  EXPECT_EQ(Send(card_, "A044010000").sw, 0x6B00);
  EXPECT_EQ(Send(card_, "A0B0000009").hex(), "080910108967050000");
}

TEST_F(CardFileSystemTest, AuthenticateOnlyInTheUsimsContext) {
  VerifyPin();
  const kms::AuthVector v = NetworkVector(card_.state().ki1, 32, 3);
  const std::string umts = WithData("00880081", AuthData(v.rand, v.autn));
  const std::string gsm = WithData("00880080", Concat({0x10}, Bytes(v.rand.begin(), v.rand.end())));
  EXPECT_EQ(Send(card_, umts).sw, 0x6985);
  EXPECT_EQ(Send(card_, gsm).sw, 0x6985);
  EXPECT_EQ(card_.state_generation(), 1u);  // nothing but the VERIFY
  SelectUsim(card_);
  // The application stays active when another DF is selected.
  ASSERT_EQ(Send(card_, "00A4000C023F00").sw, 0x9000);
  EXPECT_EQ(Send(card_, umts).sw, 0x6135);  // DB, RES, CK, IK, Kc: 53 bytes
  // A reset ends the application session.
  card_.PowerOn();
  VerifyPin();
  EXPECT_EQ(Send(card_, gsm).sw, 0x6985);
}

TEST(CardSimMenuTest, TerminalProfileBringsTheMenuWhoseItemStartsTheRekey) {
  PersonalizationApplet applet;
  Card card(MakeChip(), &applet);
  card.PowerOn();
  Response tp = Send(card, "80100000041B030522");
  ASSERT_EQ(tp.sw >> 8, 0x91);
  Response fetched = Send(card, "80120000" + ToHex(Bytes{static_cast<uint8_t>(tp.sw & 0xff)}));
  ASSERT_EQ(fetched.sw, 0x9000);
  // TS 102 223 §6.6.7: command details (SET UP MENU 25), UICC -> terminal,
  // alpha identifier (the title), one item (8F: identifier 01, text).
  const std::string title = ToHex(AsBytes("SIM key")), item = ToHex(AsBytes("Renew SIM key"));
  EXPECT_EQ(fetched.hex(), "d022" "8103012500" "82028182" "8507" + title + "8f0e01" + item);
  auto decoded = DecodeProactiveCommand(fetched.data);
  ASSERT_OK(decoded);
  EXPECT_EQ(std::get<SetUpMenu>(*decoded->command),
            (SetUpMenu{"SIM key", {MenuItem{PersonalizationApplet::kMenuItemRenewKey, "Renew SIM key"}}}));
  EXPECT_EQ(Send(card, "801400000C" "810301250082028281830100").sw, 0x9000);
  // The customer picks the item: the applet starts the re-key (its HELLO goes
  // out as SEND SHORT MESSAGE).
  EXPECT_EQ(Send(card, "80C2000009" "D307820201819001" "09").sw, 0x6A80);  // no item 09
  Response selected = Send(card, "80C2000009" "D307820201819001" "01");
  ASSERT_EQ(selected.sw >> 8, 0x91);
  Response hello = Send(card, "80120000" + ToHex(Bytes{static_cast<uint8_t>(selected.sw & 0xff)}));
  ASSERT_EQ(hello.sw, 0x9000);
  auto sms = DecodeProactiveCommand(hello.data);
  ASSERT_OK(sms);
  EXPECT_EQ(sms->details.type, static_cast<uint8_t>(CommandType::kSendShortMessage));
  EXPECT_TRUE(applet.session_running());
}

TEST(CardSimMenuTest, ATerminalWithoutSetUpMenuGetsNoMenu) {
  PersonalizationApplet applet;
  Card card(MakeChip(), &applet);
  card.PowerOn();
  EXPECT_EQ(Send(card, "80100000041B030502").sw, 0x9000);  // byte 4 without b6
  EXPECT_FALSE(applet.PendingProactiveCommand().has_value());
}

}  // namespace
}  // namespace simkms::chip::testing
