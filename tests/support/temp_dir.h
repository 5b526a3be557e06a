// A directory under $TMPDIR that exists for the lifetime of the object and is
// removed with everything in it afterwards. Tests put their token and DB here.
#pragma once

#include <filesystem>
#include <string>

namespace simkms::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace simkms::testing
