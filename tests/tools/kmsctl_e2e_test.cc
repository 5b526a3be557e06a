// kmsctl end to end, as a custodian runs it: the real binary, a throwaway SoftHSM
// token directory and RocksDB directory per test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kms/k1_export.h"
#include "softcrypto/software_keys.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/paths.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/subprocess.h"
#include "tests/support/status_testing.h"

namespace simkms {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using simkms::testing::ProcessResult;
using simkms::testing::RunProcess;
using simkms::testing::SoftHsmToken;
namespace fs = std::filesystem;
using Env = std::vector<std::pair<std::string, std::string>>;

class KmsctlTest : public ::testing::Test {
 protected:
  SoftHsmToken token_;
  std::string db_ = (token_.dir() / "db").string();

  ProcessResult Kmsctl(std::vector<std::string> args, Env env = {}, const std::string& stdin_text = "") {
    std::vector<std::string> argv{simkms::testing::BinaryDir() + "/tools/kmsctl/kmsctl", "--actor", "tester"};
    argv.insert(argv.end(), args.begin(), args.end());
    Env full{{"SIMKMS_MODULE", SoftHsmToken::ModulePath()},
             {"SIMKMS_PIN_FILE", token_.pin_file().string()},
             {"SIMKMS_CEREMONY_PIN_FILE", token_.ceremony_pin_file().string()},
             {"SIMKMS_DB", db_},
             {"SIMKMS_TOKEN", "pkcs11:token=simkms"}};
    full.insert(full.end(), env.begin(), env.end());
    return RunProcess(argv, full, stdin_text);
  }

  nlohmann::json Json(std::vector<std::string> args, Env env = {}) {
    args.insert(args.begin(), "--json");
    ProcessResult r = Kmsctl(args, env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  void Ok(std::vector<std::string> args, Env env = {}) {
    ProcessResult r = Kmsctl(args, env);
    ASSERT_EQ(r.exit_code, 0) << "kmsctl " << ::testing::PrintToString(args) << "\n" << r.err << r.out;
  }

  void InitCeremony() {
    Ok({"init", "--init-token", "--label", "simkms", "--so-pin-file", token_.so_pin_file().string(),
        "--threshold", "3", "--shares", "5", "--backup-out", (token_.dir() / "mk-backup.json").string(),
        "--shares-dir", (token_.dir() / "shares").string()});
  }

  std::string Share(int n) { return (token_.dir() / "shares" / ("share-" + std::to_string(n) + ".txt")).string(); }

  void MakeRsaKey() {
    std::string key = (token_.dir() / "mfr.key").string();
    ASSERT_EQ(RunProcess({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                          "-out", key})
                  .exit_code,
              0);
    ASSERT_EQ(RunProcess({"/usr/bin/openssl", "pkey", "-in", key, "-pubout", "-out",
                          (token_.dir() / "mfr.pub").string()})
                  .exit_code,
              0);
  }

  std::size_t AuditCount() { return Json({"audit", "show", "--limit", "100000"}).size(); }
};

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(KmsctlTest, CeremonyRegistryExportRestoreAndAudit) {
  InitCeremony();
  for (int n = 1; n <= 5; ++n) EXPECT_EQ(fs::status(Share(n)).permissions() & fs::perms::group_all, fs::perms::none);

  Ok({"ver", "add", "--ver", "1", "--profile", "legacy"});
  Ok({"ver", "add", "--ver", "2", "--profile", "modern", "--dh-group", "p256"});
  std::ofstream(token_.dir() / "op.hex") << "cdc202d5123e20f62b6d676ac72cb318\n";
  Ok({"ver", "add", "--ver", "3", "--op-file", (token_.dir() / "op.hex").string(), "--amf", "b9b9"});
  Ok({"range", "assign", "--manufacturer", "acme", "--ver", "2", "--iccid-first", "8949001234567890128",
      "--imsi-first", "001019876500000", "--count", "100000"});
  auto vers = Json({"ver", "list"});
  ASSERT_EQ(vers.size(), 3u);
  EXPECT_EQ(vers[0]["profile"], "legacy");
  EXPECT_EQ(vers[2]["amf"], "b9b9");

  MakeRsaKey();
  Ok({"ver", "export-k1", "--ver", "2", "--manufacturer", "acme", "--pubkey", (token_.dir() / "mfr.pub").string(),
      "--out", (token_.dir() / "k1.json").string()});
  // The manufacturer's side, independently of the token: OpenSSL unwraps K1 and checks its KCV.
  auto exported = kms::K1Export::FromJson(ReadText(token_.dir() / "k1.json"));
  ASSERT_OK(exported);
  auto k1 = kms::UnwrapK1Export(*exported, ReadText(token_.dir() / "mfr.key"));
  ASSERT_OK(k1);
  EXPECT_EQ(ToHex(exported->kcv), vers[1]["k1_kcv"]);
  // The file also carries what the manufacturer needs: its ranges, the group, AMF and OP.
  ASSERT_EQ(exported->ranges.size(), 1u);
  EXPECT_EQ(exported->ranges[0].iccid_first, "8949001234567890128");
  EXPECT_EQ(exported->ranges[0].count, 100000u);
  EXPECT_EQ(exported->dh_group, "p256");
  EXPECT_OK(kms::UnwrapOpFromExport(*exported, ReadText(token_.dir() / "mfr.key")));
  // No range of VER 1 is assigned to acme: nothing to export.
  ProcessResult no_range = Kmsctl({"ver", "export-k1", "--ver", "1", "--manufacturer", "acme", "--pubkey",
                                   (token_.dir() / "mfr.pub").string(), "--out", (token_.dir() / "k1-1.json").string()});
  EXPECT_EQ(no_range.exit_code, 1);
  EXPECT_THAT(no_range.err, HasSubstr("no range of VER 1 is assigned to acme"));

  // Restore onto a second token with a copy of the DB, from 3 of the 5 shares.
  auto original = Json({"status"});
  fs::copy(db_, token_.dir() / "db2", fs::copy_options::recursive);
  Env second{{"SIMKMS_TOKEN", "pkcs11:token=second"},
             {"SIMKMS_CEREMONY_TOKEN", "pkcs11:token=second-ceremony"},
             {"SIMKMS_DB", (token_.dir() / "db2").string()}};
  Ok({"restore", "--init-token", "--label", "second", "--ceremony-label", "second-ceremony", "--so-pin-file",
      token_.so_pin_file().string(), "--backup",
      (token_.dir() / "mk-backup.json").string(), "--share-file", Share(5), "--share-file", Share(1),
      "--share-file", Share(3)},
     second);
  auto restored = Json({"status"}, second);
  // Every KCV the custodians compare between nodes (docs/operations.md "Cluster").
  for (const char* k : {"kcv.mk", "kcv.storage_kek", "kcv.puk_key", "kcv.op_key", "kcv.record_key"}) {
    ASSERT_TRUE(original.contains(k)) << k;
    EXPECT_THAT(original[k].get<std::string>(), ::testing::MatchesRegex("[0-9a-f]{6}")) << k;
    EXPECT_EQ(original[k], restored[k]) << k;
  }
  EXPECT_EQ(original["token"], "simkms");
  EXPECT_EQ(restored["token"], "second");
  EXPECT_EQ(Json({"ver", "list"}, second), vers);  // K1 KCVs checked again by the restore

  auto verify = Json({"audit", "verify"});
  EXPECT_EQ(verify["result"], "OK");
  EXPECT_EQ(verify["records_checked"], 6);  // init, 3 x ver.add, range, export
  auto verify2 = Json({"audit", "verify"}, second);
  EXPECT_EQ(verify2["result"], "OK");
  EXPECT_EQ(verify2["records_checked"], 8);  // + audit.chain-restart, kms.restore
  // The old chain's epoch keys died with the first token: the second checks its links only.
  EXPECT_EQ(verify2["macs_unchecked"], 6);
  auto log = Json({"audit", "show"});
  EXPECT_EQ(log[0]["event"], "kms.init");
  EXPECT_EQ(log[5]["event"], "ver.export-k1");
  EXPECT_EQ(log[5]["actor"], "custodian:tester");
  auto log2 = Json({"audit", "show"}, second);
  EXPECT_EQ(log2[6]["event"], "audit.chain-restart");
  EXPECT_EQ(log2[7]["event"], "kms.restore");
}

TEST_F(KmsctlTest, AuditVerifyNamesAChangedDeletedOrTruncatedRecord) {
  InitCeremony();
  Ok({"ver", "add", "--ver", "1"});
  Ok({"ver", "add", "--ver", "2"});
  Ok({"ver", "add", "--ver", "3"});
  Ok({"ver", "add", "--ver", "4"});
  ASSERT_EQ(Json({"audit", "verify"})["result"], "OK");
  const fs::path pristine = token_.dir() / "pristine";
  fs::copy(db_, pristine, fs::copy_options::recursive);
  auto reset = [&] {
    fs::remove_all(db_);
    fs::copy(pristine, db_, fs::copy_options::recursive);
  };

  {  // one byte of record 3 changed
    storage::testing::RawDb raw(db_);
    std::string v = *raw.Get("audit", storage::testing::SeqKey(3));
    v[v.size() / 2] ^= 0x01;
    raw.Put("audit", storage::testing::SeqKey(3), v);
  }
  ProcessResult changed = Kmsctl({"audit", "verify"});
  EXPECT_EQ(changed.exit_code, 3) << changed.err;
  EXPECT_THAT(changed.out, HasSubstr("BROKEN"));
  EXPECT_THAT(changed.out, HasSubstr("record 3"));

  reset();
  {  // record 2 deleted
    storage::testing::RawDb raw(db_);
    raw.Delete("audit", storage::testing::SeqKey(2));
  }
  ProcessResult deleted = Kmsctl({"audit", "verify"});
  EXPECT_EQ(deleted.exit_code, 3);
  EXPECT_THAT(deleted.out, HasSubstr("record 2"));

  reset();
  {  // the newest record deleted: only the token's checkpoint can tell
    storage::testing::RawDb raw(db_);
    raw.Delete("audit", storage::testing::SeqKey(5));
  }
  ProcessResult truncated = Kmsctl({"audit", "verify"});
  EXPECT_EQ(truncated.exit_code, 3);
  EXPECT_THAT(truncated.out, HasSubstr("truncat"));

  reset();
  {  // two records swapped
    storage::testing::RawDb raw(db_);
    std::string a = *raw.Get("audit", storage::testing::SeqKey(2));
    std::string b = *raw.Get("audit", storage::testing::SeqKey(3));
    raw.Put("audit", storage::testing::SeqKey(2), b);
    raw.Put("audit", storage::testing::SeqKey(3), a);
  }
  ProcessResult swapped = Kmsctl({"audit", "verify"});
  EXPECT_EQ(swapped.exit_code, 3);
  EXPECT_THAT(swapped.out, HasSubstr("record 2"));

  reset();
  EXPECT_EQ(Json({"audit", "verify"})["result"], "OK");
}

TEST_F(KmsctlTest, BadInputGetsAClearErrorAndChangesNothing) {
  InitCeremony();
  Ok({"ver", "add", "--ver", "1"});
  Ok({"range", "assign", "--manufacturer", "acme", "--ver", "1", "--iccid-first", "8949001234567890128",
      "--imsi-first", "001019876500000", "--count", "1000"});
  const std::size_t records = AuditCount();
  const auto ranges = Json({"range", "list"});
  const auto vers = Json({"ver", "list"});

  std::ofstream(token_.dir() / "wrong.pin") << "not-the-pin\n";
  fs::permissions(token_.dir() / "wrong.pin", fs::perms::owner_read | fs::perms::owner_write);
  struct Case {
    std::vector<std::string> args;
    Env env;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{"ver", "add", "--ver", "2"}, {{"SIMKMS_PIN_FILE", (token_.dir() / "wrong.pin").string()}},
       "CKR_PIN_INCORRECT"},
      {{"ver", "add", "--ver", "1"}, {}, "already exists"},
      {{"ver", "add", "--ver", "5", "--profile", "medium"}, {}, "unknown VER profile"},
      {{"ver", "add", "--ver", "5", "--dh-group", "ffdhe1024"}, {}, "unknown DH group"},
      {{"ver", "add", "--ver", "5", "--amf", "80"}, {}, "AMF must be 2 bytes"},
      {{"ver", "show", "--ver", "9"}, {}, "NOT_FOUND"},
      {{"ver", "export-k1", "--ver", "9", "--manufacturer", "acme", "--pubkey", "/dev/null", "--out",
        (token_.dir() / "x.json").string()},
       {},
       "NOT_FOUND"},
      {{"range", "assign", "--manufacturer", "acme", "--ver", "1", "--iccid-first", "8949001234567890123",
        "--imsi-first", "001019876600000", "--count", "10"},
       {},
       "check digit"},
      {{"range", "assign", "--manufacturer", "acme", "--ver", "7", "--iccid-first", "8949001234567900125",
        "--imsi-first", "001019876600000", "--count", "10"},
       {},
       "VER 7"},
      {{"range", "assign", "--manufacturer", "rogue", "--ver", "1", "--iccid-first", "8949001234567890128",
        "--imsi-first", "001019999900000", "--count", "10"},
       {},
       "overlaps"},
      {{"range", "assign", "--manufacturer", "acme", "--ver", "1", "--iccid-first", "8949001234567900125",
        "--imsi-first", "001019876500500", "--count", "10"},
       {},
       "overlaps"},
      {{"range", "assign", "--manufacturer", "acme", "--ver", "1", "--iccid-first", "8949001234567900125",
        "--imsi-first", "00101987660000", "--count", "10"},
       {},
       "IMSI"},
      {{"init", "--backup-out", (token_.dir() / "again.json").string()}, {}, "already exists"},
  };
  for (const Case& c : cases) {
    ProcessResult r = Kmsctl(c.args, c.env);
    EXPECT_EQ(r.exit_code, 1) << ::testing::PrintToString(c.args) << r.out;
    EXPECT_THAT(r.err, HasSubstr(c.expect)) << ::testing::PrintToString(c.args);
    EXPECT_THAT(r.err, Not(HasSubstr("4711"))) << "PIN leaked";
  }
  EXPECT_EQ(AuditCount(), records);
  EXPECT_EQ(Json({"range", "list"}), ranges);
  EXPECT_EQ(Json({"ver", "list"}), vers);
  EXPECT_FALSE(fs::exists(token_.dir() / "again.json"));

  // There is no way to put a PIN on the command line.
  ProcessResult pin_arg = Kmsctl({"--pin", "4711-user-pin", "status"});
  EXPECT_EQ(pin_arg.exit_code, 2);
}

TEST_F(KmsctlTest, RestoreRefusesTooFewWrongOrForeignShares) {
  InitCeremony();
  // A second, unrelated ceremony, for a foreign share.
  Env other{{"SIMKMS_TOKEN", "pkcs11:token=other"},
            {"SIMKMS_CEREMONY_TOKEN", "pkcs11:token=other-ceremony"},
            {"SIMKMS_DB", (token_.dir() / "db-other").string()}};
  Ok({"init", "--init-token", "--label", "other", "--ceremony-label", "other-ceremony", "--so-pin-file",
      token_.so_pin_file().string(), "--threshold",
      "2", "--shares", "2", "--backup-out", (token_.dir() / "other.json").string(), "--shares-dir",
      (token_.dir() / "other-shares").string()},
     other);
  const std::string foreign = (token_.dir() / "other-shares" / "share-1.txt").string();
  std::string typo = ReadText(Share(2));
  typo[typo.find('-', 20) + 3] = typo[typo.find('-', 20) + 3] == 'A' ? 'B' : 'A';
  std::ofstream(token_.dir() / "typo.txt") << typo;
  fs::permissions(token_.dir() / "typo.txt", fs::perms::owner_read | fs::perms::owner_write);

  const std::string backup = (token_.dir() / "mk-backup.json").string();
  struct Case {
    std::string label;
    std::vector<std::string> shares;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"few", {Share(1), Share(2)}, "need 3 shares, got 2"},
      {"typo", {Share(1), (token_.dir() / "typo.txt").string(), Share(3)}, "share 2"},
      {"foreign", {Share(1), Share(2), foreign}, "share 3"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"restore",         "--init-token",
                                  "--label",         c.label,
                                  "--ceremony-label", c.label + "-ceremony",
                                  "--so-pin-file",   token_.so_pin_file().string(),
                                  "--backup",        backup};
    for (const auto& s : c.shares) {
      args.push_back("--share-file");
      args.push_back(s);
    }
    Env env{{"SIMKMS_TOKEN", "pkcs11:token=" + c.label},
            {"SIMKMS_CEREMONY_TOKEN", "pkcs11:token=" + c.label + "-ceremony"},
            {"SIMKMS_DB", ""}};
    ProcessResult r = Kmsctl(args, env);
    EXPECT_EQ(r.exit_code, 1) << c.label << r.out;
    EXPECT_THAT(r.err, HasSubstr(c.expect)) << c.label;
    // Nothing was made on the new token.
    ProcessResult status = Kmsctl({"status"}, env);
    EXPECT_EQ(status.exit_code, 1) << c.label;
    EXPECT_THAT(status.err, HasSubstr("not initialised by a key ceremony")) << c.label;
  }
  // Shares typed on standard input, with extra blank lines, work.
  std::string typed = "\n" + ReadText(Share(4)) + "\n" + ReadText(Share(2)) + ReadText(Share(5));
  Env env{{"SIMKMS_TOKEN", "pkcs11:token=typed"},
          {"SIMKMS_CEREMONY_TOKEN", "pkcs11:token=typed-ceremony"},
          {"SIMKMS_DB", ""}};
  ProcessResult r = Kmsctl({"restore", "--init-token", "--label", "typed", "--ceremony-label", "typed-ceremony",
                            "--so-pin-file", token_.so_pin_file().string(), "--backup", backup, "--shares-stdin"},
                           env, typed);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json({"status"}, env)["kcv.mk"], Json({"status"})["kcv.mk"]);
}

// `kmsctl token check` after the ceremonies: every object, both K1 profiles,
// as the token policy says; the table names each object's functions.
TEST_F(KmsctlTest, TokenCheckAfterCeremoniesAndRestore) {
  InitCeremony();
  Ok({"ver", "add", "--ver", "1", "--profile", "legacy"});
  Ok({"ver", "add", "--ver", "2", "--profile", "modern"});
  ProcessResult table = Kmsctl({"token", "check"});
  ASSERT_EQ(table.exit_code, 0) << table.err << table.out;
  EXPECT_THAT(table.out, HasSubstr("token simkms: 8 objects, all as the token policy says"));
  EXPECT_THAT(table.out, ::testing::ContainsRegex("simkms/k1/1 +secret key DES +K1 \\(legacy\\)"));
  nlohmann::json j = Json({"token", "check"});
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["violations"], 0);
  ASSERT_EQ(j["objects"].size(), 8u);
  for (const auto& o : j["objects"]) {
    EXPECT_EQ(o["problems"].size(), 0u) << o.dump();
    if (o["class"] == "secret key") {
      EXPECT_EQ(o["attributes"]["CKA_MODIFIABLE"], "false") << o.dump();
      EXPECT_EQ(o["attributes"]["CKA_EXTRACTABLE"], "false") << o.dump();
    }
  }

  // MK is on the ceremony token, alone.
  ProcessResult ceremony = Kmsctl({"token", "check", "--ceremony"});
  ASSERT_EQ(ceremony.exit_code, 0) << ceremony.err << ceremony.out;
  EXPECT_THAT(ceremony.out, HasSubstr("token simkms-ceremony: 1 objects, all as the token policy says"));
  EXPECT_THAT(ceremony.out, ::testing::ContainsRegex("simkms/mk +secret key AES +MK"));

  // A restore onto fresh tokens makes the same conforming objects.
  Env second{{"SIMKMS_TOKEN", "pkcs11:token=simkms-2"},
             {"SIMKMS_CEREMONY_TOKEN", "pkcs11:token=simkms-2-ceremony"},
             {"SIMKMS_DB", ""}};
  Ok({"restore", "--init-token", "--label", "simkms-2", "--ceremony-label", "simkms-2-ceremony", "--so-pin-file",
      token_.so_pin_file().string(), "--backup",
      (token_.dir() / "mk-backup.json").string(), "--share-file", Share(1), "--share-file", Share(2),
      "--share-file", Share(3)},
     second);
  ProcessResult restored = Kmsctl({"token", "check"}, second);
  EXPECT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  EXPECT_THAT(restored.out, HasSubstr("token simkms-2: 5 objects, all as the token policy says"));
}

}  // namespace
}  // namespace simkms
