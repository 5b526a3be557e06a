// The counting PKCS#11 module (tools/p11count): loaded through our own pkcs11
// layer over SoftHSM on a throwaway token, it counts exactly the calls made, by
// function, in its counts file; the token's answers are the ones the module gives
// without it; p11count_read.py reads the same numbers; and it refuses, without
// crashing, to run without a real module or over a file of another layout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "pkcs11/attributes.h"
#include "pkcs11/module.h"
#include "pkcs11/session.h"
#include "pkcs11/uri.h"
#include "tests/support/paths.h"
#include "tests/support/softhsm_token.h"
#include "tests/support/status_testing.h"
#include "tests/support/subprocess.h"
#include "tools/p11count/counts_file.h"

namespace simkms {
namespace {

using ::testing::HasSubstr;
using Counts = std::map<std::string, uint64_t>;

// SP 800-38A F.1.1, ECB-AES128, first block.
constexpr char kKeyHex[] = "2b7e151628aed2a6abf7158809cf4f3c";
constexpr char kPlainHex[] = "6bc1bee22e409f96e93d7e117393172a";
constexpr char kCipherHex[] = "3ad77bb40d7a3660a89ecaf32466ef97";

std::string CounterModulePath() { return testing::BinaryDir() + "/tools/p11count/libsimkms-p11count.so"; }

// The counts file read as its layout says (tools/p11count/counts_file.h), independently of the module's code.
Counts ReadCounts(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Counts counts;
  if (data.size() != p11count::kCountsFileSize || data.compare(0, 8, "P11COUNT") != 0) {
    ADD_FAILURE() << path << " is not a counts file (" << data.size() << " bytes)";
    return counts;
  }
  for (std::size_t i = 0; i < p11count::kCountedFunctions; ++i) {
    const char* entry = data.data() + sizeof(p11count::CountsHeader) + i * sizeof(p11count::CountsEntry);
    uint64_t count = 0;
    std::memcpy(&count, entry + p11count::kNameSize, sizeof count);
    counts[std::string(entry, strnlen(entry, p11count::kNameSize))] = count;
  }
  return counts;
}

// after - before, functions whose count changed only (what p11count_read.py --diff prints).
Counts Diff(const Counts& before, const Counts& after) {
  Counts d;
  for (const auto& [name, count] : after) {
    const uint64_t was = before.count(name) ? before.at(name) : 0;
    if (count != was) d[name] = count - was;
  }
  return d;
}

Counts FromJson(const std::string& text) {
  Counts counts;
  const nlohmann::json json = nlohmann::json::parse(text);
  for (const auto& [name, count] : json.items()) counts[name] = count.get<uint64_t>();
  return counts;
}

testing::ProcessResult ReadPy(std::vector<std::string> args) {
  args.insert(args.begin(), {"/usr/bin/python3", testing::SourceDir() + "/tools/p11count/p11count_read.py"});
  return testing::RunProcess(args);
}

// AES-ECB of kPlainHex under kKeyHex imported as a session object.
StatusOr<Bytes> EncryptKnownBlock(p11::Session& session) {
  p11::Attributes key;
  key.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_ENCRYPT, true)
      .Blob(CKA_VALUE, FromHex(kKeyHex).value());
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject handle, session.CreateObject(key, "known AES key"));
  return session.Encrypt({CKM_AES_ECB, nullptr, 0}, handle.get(), FromHex(kPlainHex).value(), "known block");
}

class P11CountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("SIMKMS_P11COUNT_MODULE", testing::SoftHsmToken::ModulePath().c_str(), 1);
    setenv("SIMKMS_P11COUNT_FILE", counts_.c_str(), 1);
  }
  testing::SoftHsmToken token_;
  std::filesystem::path counts_ = token_.dir() / "p11count.counts";
};

TEST_F(P11CountTest, CountsExactlyTheCallsMadeAndChangesNoAnswer) {
  auto counted = p11::Module::Load(CounterModulePath());
  ASSERT_OK(counted);
  Counts at_load = ReadCounts(counts_);
  EXPECT_EQ(at_load["C_GetFunctionList"], 1u);
  EXPECT_EQ(at_load["C_Initialize"], 1u);

  // The token's set-up goes through the counter too (SoftHSM is initialised once per process).
  auto slot = (*counted)->FreeSlot();
  ASSERT_OK(slot);
  ASSERT_OK(p11::InitToken(**counted, *slot, token_.so_pin(), "p11count"));
  auto token = (*counted)->FindToken(p11::TokenUri::ForLabel("p11count"));
  ASSERT_OK(token);
  {
    auto so = p11::Session::Open(*counted, token->slot);
    ASSERT_OK(so);
    ASSERT_OK(so->Login(CKU_SO, token_.so_pin()));
    ASSERT_OK(so->InitPin(token_.user_pin()));
  }

  const Counts before = ReadCounts(counts_);
  Counts mid;
  std::string mid_json;
  Bytes counted_ciphertext;
  {
    auto session = p11::Session::Open(*counted, token->slot);
    ASSERT_OK(session);
    ASSERT_OK(session->Login(CKU_USER, token_.user_pin()));
    uint8_t random[16];
    for (int i = 0; i < 3; ++i) ASSERT_OK(session->GenerateRandom(random, sizeof random));

    // A snapshot while the module is loaded and counting, by the C++ reader and the Python one.
    mid = ReadCounts(counts_);
    testing::ProcessResult py = ReadPy({counts_.string()});
    ASSERT_EQ(py.exit_code, 0) << py.err;
    mid_json = py.out;
    EXPECT_EQ(FromJson(mid_json), mid);

    auto ciphertext = EncryptKnownBlock(*session);
    ASSERT_OK(ciphertext);
    counted_ciphertext = *ciphertext;
    p11::Attributes generated;
    generated.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Ulong(CKA_VALUE_LEN, 16)
        .Bool(CKA_ENCRYPT, true);
    auto key = session->GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, generated, "generated AES key");
    ASSERT_OK(key);
    EXPECT_OK(session->Encrypt({CKM_AES_ECB, nullptr, 0}, key->get(), Bytes(16, 0x5a), "generated key"));
  }  // the objects destroyed, the session closed
  const Counts after = ReadCounts(counts_);

  const Counts expected = {{"C_OpenSession", 1}, {"C_Login", 1},     {"C_GenerateRandom", 3},
                           {"C_CreateObject", 1}, {"C_GenerateKey", 1}, {"C_EncryptInit", 2},
                           {"C_Encrypt", 2},      {"C_DestroyObject", 2}, {"C_CloseSession", 1}};
  EXPECT_EQ(Diff(before, after), expected);  // and nothing else: no C_Sign, no C_Finalize
  EXPECT_EQ(after.at("C_Sign"), 0u);
  EXPECT_EQ(Diff(before, mid), (Counts{{"C_OpenSession", 1}, {"C_Login", 1}, {"C_GenerateRandom", 3}}));

  // p11count_read.py --diff of the mid-way snapshot and the file agrees.
  const std::filesystem::path mid_file = token_.dir() / "mid.json";
  std::ofstream(mid_file) << mid_json;
  testing::ProcessResult py_diff = ReadPy({"--diff", mid_file.string(), counts_.string()});
  ASSERT_EQ(py_diff.exit_code, 0) << py_diff.err;
  EXPECT_EQ(FromJson(py_diff.out), Diff(mid, after));

  // C_Finalize is forwarded (and counted); then SoftHSM loaded directly gives the same answer.
  counted->reset();
  const Counts finalized = ReadCounts(counts_);
  EXPECT_EQ(Diff(after, finalized), (Counts{{"C_Finalize", 1}}));
  EXPECT_EQ(counted_ciphertext, FromHex(kCipherHex).value());
  auto direct = p11::Module::Load(testing::SoftHsmToken::ModulePath());
  ASSERT_OK(direct);
  auto session = p11::Session::Open(*direct, (*direct)->FindToken(p11::TokenUri::ForLabel("p11count"))->slot);
  ASSERT_OK(session);
  ASSERT_OK(session->Login(CKU_USER, token_.user_pin()));
  auto direct_ciphertext = EncryptKnownBlock(*session);
  ASSERT_OK(direct_ciphertext);
  EXPECT_EQ(*direct_ciphertext, counted_ciphertext);
  EXPECT_EQ(ReadCounts(counts_), finalized);  // calls not made through the counter are not counted
}

TEST_F(P11CountTest, RefusesWithoutARealModule) {
  unsetenv("SIMKMS_P11COUNT_MODULE");
  ::testing::internal::CaptureStderr();
  auto unset = p11::Module::Load(CounterModulePath());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("simkms-p11count: SIMKMS_P11COUNT_MODULE (the path of the module to count) is not set"));
  ASSERT_FALSE(unset.ok());
  EXPECT_THAT(unset.status().message(), HasSubstr("CKR_GENERAL_ERROR"));

  const std::string no_module = (token_.dir() / "no-such-module.so").string();
  setenv("SIMKMS_P11COUNT_MODULE", no_module.c_str(), 1);
  ::testing::internal::CaptureStderr();
  auto missing = p11::Module::Load(CounterModulePath());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("cannot load SIMKMS_P11COUNT_MODULE " + no_module));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("CKR_GENERAL_ERROR"));

  unsetenv("SIMKMS_P11COUNT_FILE");
  setenv("SIMKMS_P11COUNT_MODULE", testing::SoftHsmToken::ModulePath().c_str(), 1);
  EXPECT_FALSE(p11::Module::Load(CounterModulePath()).ok());
  EXPECT_FALSE(std::filesystem::exists(counts_));


  // Environment fixed: the same process loads it (a refusal is not remembered).
  setenv("SIMKMS_P11COUNT_FILE", counts_.c_str(), 1);
  auto loaded = p11::Module::Load(CounterModulePath());
  ASSERT_OK(loaded);
  EXPECT_EQ(ReadCounts(counts_)["C_Initialize"], 1u);
}

TEST_F(P11CountTest, RefusesAFileOfAnotherLayoutAndLeavesIt) {
  std::ofstream(counts_) << "not a counts file";
  auto refused = p11::Module::Load(CounterModulePath());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("CKR_GENERAL_ERROR"));
  std::ifstream in(counts_);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "not a counts file");
  testing::ProcessResult py = ReadPy({counts_.string()});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.err, HasSubstr("not a P11COUNT counts file"));
}

}  // namespace
}  // namespace simkms
