// The counts file of the counting PKCS#11 module (libsimkms-p11count.so): one
// uint64 counter per CK_FUNCTION_LIST entry in a small file that the module maps
// MAP_SHARED and increments in place (relaxed atomic adds), so that another
// process can read a consistent-enough snapshot at any time while the counted
// process runs (each counter is read whole; counters are not read as one
// transaction, which a before/after difference of a phase does not need).
//
// Layout, version 1, host byte order (little-endian on the machines we run):
//
//   offset  size  field
//        0     8  magic "P11COUNT" (no NUL)
//        8     4  uint32 version = 1
//       12     4  uint32 entries = 68 (kCountedFunctions)
//       16  40*N  entries, in CK_FUNCTION_LIST order (function_names.h):
//                   char name[32]  "C_Encrypt", NUL-padded
//                   uint64 count   calls made through the module (8-aligned)
//
// Several processes may share one file (a ceremony with kmsctl, then kmsd): the
// first creates it (under flock), later ones check its header and keep counting
// into it. tools/p11count/p11count_read.py reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tools/p11count/function_names.h"

namespace simkms::p11count {

#define SIMKMS_P11COUNT_ONE(name) +1
inline constexpr std::size_t kCountedFunctions = 0 SIMKMS_P11COUNT_FUNCTIONS(SIMKMS_P11COUNT_ONE);
#undef SIMKMS_P11COUNT_ONE

inline constexpr char kMagic[8] = {'P', '1', '1', 'C', 'O', 'U', 'N', 'T'};
inline constexpr uint32_t kVersion = 1;
inline constexpr std::size_t kNameSize = 32;

struct CountsHeader {
  char magic[8];
  uint32_t version;
  uint32_t entries;
};

struct CountsEntry {
  char name[kNameSize];
  uint64_t count;
};

static_assert(sizeof(CountsHeader) == 16 && sizeof(CountsEntry) == 40 && alignof(CountsEntry) == 8);
inline constexpr std::size_t kCountsFileSize = sizeof(CountsHeader) + kCountedFunctions * sizeof(CountsEntry);

// The function names in file order.
#define SIMKMS_P11COUNT_NAME(name) #name,
inline constexpr std::string_view kFunctionNames[kCountedFunctions] = {SIMKMS_P11COUNT_FUNCTIONS(SIMKMS_P11COUNT_NAME)};
#undef SIMKMS_P11COUNT_NAME

// The entry of function `name` ("C_Encrypt"); kCountedFunctions if it is none.
constexpr std::size_t EntryIndex(std::string_view name) {
  for (std::size_t i = 0; i < kCountedFunctions; ++i) {
    if (kFunctionNames[i] == name) return i;
  }
  return kCountedFunctions;
}

// Creates (or opens, if it already has this layout) the counts file at `path` and
// maps it shared for the life of the process. The entries, or nullptr with
// `error` set: a file of another layout is not overwritten.
CountsEntry* MapCountsFile(const std::string& path, std::string& error);

}  // namespace simkms::p11count
