// The repository as a whole (tests/repository/check_repository.py): the include
// layering of the libraries, that every path named in code, scripts and docs is
// in the checkout, and that only base/ wipes memory by hand. The self-test shows
// that the checks catch what they must.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace simkms::testing {
namespace {

ProcessResult Check(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/python3", SourceDir() + "/tests/repository/check_repository.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv);
}

TEST(Repository, ChecksCatchABrokenTree) {
  ProcessResult r = Check({"selftest"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("(kms is not below base)"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("s_internal.h, internal to storage/"));
}

TEST(Repository, LibrariesIncludeOnlyWhatIsBelowThem) {
  ProcessResult r = Check({"layering", SourceDir()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("0 problems"));
}

TEST(Repository, OnlyBaseWipesMemoryByHand) {
  ProcessResult r = Check({"wipes", SourceDir()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("0 problems"));
}

TEST(Repository, EveryNamedPathIsInTheCheckout) {
  ProcessResult r = Check({"references", SourceDir()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("0 problems"));
}

}  // namespace
}  // namespace simkms::testing
