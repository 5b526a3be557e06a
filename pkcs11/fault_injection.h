// A token that tests can make fail: a wrapper of a module's CK_FUNCTION_LIST (the
// idea of LevelDB's EnvWrapper) that passes every call through unless a Fault is
// armed, and then answers the chosen call with a chosen CK_RV instead of calling
// the token. The failure is what a real token would return; nothing is half done
// inside the token by the faulted call itself.
//
//   auto module = p11::FaultInjection::Wrap(real_module);
//   p11::FaultInjection::Arm({.function = "C_DeriveKey", .nth = 2});
//   ... code under test opens sessions on `module` ...
//   p11::FaultInjection::Disarm();
//
// One fault plan per process (tests run one TEST per process); the wrapper is
// thread-safe. Not for production: nothing outside tests calls Wrap.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pkcs11/cryptoki.h"

namespace simkms::p11 {

class Module;

struct Fault {
  // The function to fail ("C_DeriveKey"); empty: any function the wrapper covers
  // (every call that creates, uses, reads, finds or destroys an object, the crypto
  // and session calls; not C_Initialize, C_Finalize or the slot and token info).
  std::string function;
  // Only calls with this mechanism (calls that take one).
  std::optional<CK_MECHANISM_TYPE> mechanism;
  // The n-th matching call after Arm fails (from 1); 0: every matching call.
  uint64_t nth = 1;
  CK_RV rv = CKR_DEVICE_ERROR;
};

class FaultInjection {
 public:
  // A module whose every covered call goes through the fault plan.
  static std::shared_ptr<Module> Wrap(std::shared_ptr<Module> real);
  static void Arm(const Fault& fault);  // also resets the counters
  static void Disarm();
  // Matching calls seen since Arm, and how many of them were failed.
  static uint64_t matching_calls();
  static uint64_t failed_calls();
};

}  // namespace simkms::p11
