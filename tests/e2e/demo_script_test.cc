// The demo (README command 1) as a smoke test: scripts/demo.sh runs the whole
// lifecycle against this build's binaries (kmsd, kmsctl, simkms-mfr, chipsim,
// simkms-gsup) in a throwaway state folder. Every step of the script checks
// itself, so exit 0 means every step behaved; the summary is checked too.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/paths.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace simkms {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using simkms::testing::ProcessResult;

ProcessResult RunDemo(const std::string& state) {
  return simkms::testing::RunProcess({"/bin/bash", simkms::testing::SourceDir() + "/scripts/demo.sh"},
                                     {{"SIMKMS_BIN", simkms::testing::BinaryDir()},
                                      {"SIMKMS_DEMO_STATE", state},
                                      {"SIMKMS_MODULE", simkms::testing::SoftHsmModulePath()},
                                      {"SIMKMS_DEMO_JOBS", "2"}});
}

std::string Tail(const std::string& s) { return s.size() > 4000 ? s.substr(s.size() - 4000) : s; }

TEST(DemoScriptTest, TheWholeLifecycleRunsAndEveryStepBehaves) {
  simkms::testing::TempDir dir;
  ProcessResult r = RunDemo((dir / "demo-state").string());
  ASSERT_EQ(r.exit_code, 0) << Tail(r.out) << Tail(r.err);
  EXPECT_THAT(r.out, HasSubstr("Demo complete."));
  EXPECT_THAT(r.out, Not(HasSubstr("SKIPPED")));
  EXPECT_THAT(r.out, ContainsRegex("chips pre-personalized by the manufacturer +1000"));
  EXPECT_THAT(r.out, ContainsRegex("first calls completed \\(Ki_2 agreed\\) +101"));
  EXPECT_THAT(r.out, ContainsRegex("vectors verified on the chip \\(RES == XRES\\) +203"));
  EXPECT_THAT(r.out, ContainsRegex("misuse cases refused \\(1.1, 1.2, 1.3\\) +3 of 3"));
  // Test numbers: 20-digit ICCIDs through every tool, IMSIs on the test network 001-01.
  EXPECT_THAT(r.out, ContainsRegex("ICCID 89[0-9]{18}\\.\\.89[0-9]{18}[^0-9]"));
  EXPECT_THAT(r.out, ContainsRegex("IMSI 00101[0-9]{10}[^0-9]"));
  EXPECT_THAT(r.out, Not(HasSubstr("26201")));
  // Step 14: kmsd's re-key campaign raises one re-key by itself; the chip completes it.
  EXPECT_THAT(r.out, HasSubstr("kmsd's campaign raised subscriber"));
  // Step 11: a K1 holder in the middle of chip 25's first call gets no offline
  // test and one counted guess, and the genuine call still personalizes it.
  EXPECT_THAT(r.out, HasSubstr("ki-holder: offline search over 1000000 codes found 0 candidates"));
  EXPECT_THAT(r.out, HasSubstr("tested no code offline: 0 of 10^6 matched"));
  EXPECT_THAT(r.out, HasSubstr("its one online guess was refused: subscriber 25 still CONTRACTED, activation tries left 2"));
  EXPECT_THAT(r.out, HasSubstr("chip 25, attacked above, personalized with its genuine code afterwards: PERSONALIZED"));
  EXPECT_FALSE(std::filesystem::exists(dir / "demo-state" / "admin.sock")) << "kmsd did not clean up";
}

TEST(DemoScriptTest, RefusesToDeleteAFolderThatIsNotADemoState) {
  simkms::testing::TempDir dir;
  std::filesystem::create_directories(dir / "precious");
  std::ofstream(dir / "precious" / "thesis.tex") << "\\section{Results}\n";
  ProcessResult r = RunDemo((dir / "precious").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("is not a demo state (no NOTE file): not deleting it"));
  EXPECT_TRUE(std::filesystem::exists(dir / "precious" / "thesis.tex"));
}

}  // namespace
}  // namespace simkms
