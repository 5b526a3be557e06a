// A module's CK_FUNCTION_LIST with chosen entries passed through hooks first: the
// one forwarding table behind the token wrappers that tests use, in process
// (pkcs11/fault_injection.h) and as a PKCS#11 module of its own that a daemon
// under test loads (tests/support/p11_kill_module). Header-only, so that such a
// module needs nothing else of simkms.
//
//   struct Hooks {
//     // Every covered call: answer it, or pass it on with List::Forward<Field>.
//     template <auto Field, typename... Args>
//     static CK_RV Call(const char* function, Args... args);
//   };
//   using List = p11::ForwardingList<Hooks>;
//   List::real = real_functions;           // what Forward calls
//   CK_FUNCTION_LIST list = *List::real;   // uncovered entries go straight to the module
//   SIMKMS_P11_COVER(List, list, C_DeriveKey);
//
// One real module per Hooks type (a test process wraps one module).
#pragma once

#include "pkcs11/cryptoki.h"

namespace simkms::p11 {

template <typename Hooks>
class ForwardingList {
 public:
  // The real module's list, which Forward calls into.
  static inline CK_FUNCTION_LIST* real = nullptr;

  // Makes `list`'s entry Field call Hooks::Call<Field>(function, args...).
  template <auto Field>
  static void Cover(CK_FUNCTION_LIST& list, const char* function) {
    using Entry = Trampoline<Field, typename EntryType<decltype(Field)>::type>;
    Entry::function = function;
    list.*Field = &Entry::Call;
  }

  // The call as the real module answers it.
  template <auto Field, typename... Args>
  static CK_RV Forward(Args... args) {
    return (real->*Field)(args...);
  }

 private:
  template <typename Member>
  struct EntryType;
  template <typename Fn>
  struct EntryType<Fn CK_FUNCTION_LIST::*> {
    using type = Fn;
  };

  // One per covered entry, made from the entry's own type.
  template <auto Field, typename Fn>
  struct Trampoline;
  template <auto Field, typename... Args>
  struct Trampoline<Field, CK_RV (*)(Args...)> {
    static inline const char* function = "";
    static CK_RV Call(Args... args) { return Hooks::template Call<Field>(function, args...); }
  };
};

// Covers `fn` (C_DeriveKey ...) under its own name.
#define SIMKMS_P11_COVER(List, list, fn) List::Cover<&CK_FUNCTION_LIST::fn>(list, #fn)

}  // namespace simkms::p11
