#!/usr/bin/env python3
"""Checks of the repository as a whole, run by ctest (tests/CMakeLists.txt).

  layering ROOT   every #include "..." in the libraries follows the dependency
                  direction of docs/architecture.md ("Components and dependencies"): pkcs11 and storage
                  know nothing of the others, base knows nothing at all, and no
                  library includes tools/ or tests/. An internal header (named
                  *_internal.h) is included only from its own folder: not from
                  another folder, a tool or a test.
  references ROOT every repository path named in code, scripts and docs exists,
                  and nothing names a file outside the checkout.
  wipes ROOT      memory is wiped by hand (SecureWipe, OPENSSL_cleanse, explicit_bzero,
                  a memset to zero, WipeBufferContents) only inside base/: everywhere else
                  secrets live in wiping types (SecretBytes, SecretArray, WipedBuffer,
                  WipeOnExit), so every exit path wipes by construction. A place that
                  must wipe by hand is named in WIPE_ALLOWED with its reason.
  selftest        the checks find what they must on a small tree made to break them.
"""
import os
import re
import sys
import tempfile

# Which folders each library folder may include from (besides itself).
ALLOWED = {
    "base": set(),
    "softcrypto": {"base"},
    "pkcs11": {"base"},
    "storage": {"base"},
    "policy": {"base", "storage"},
    "kms": {"base", "softcrypto", "pkcs11", "storage", "policy"},
    "sc-engine/gsup": {"base"},
    "sc-engine/protocol": {"base", "softcrypto"},
    "sc-engine/engine": {"base", "softcrypto", "pkcs11", "storage", "policy", "kms", "sc-engine/protocol"},
    "sc-engine/daemon": {"base", "softcrypto", "pkcs11", "storage", "policy", "kms", "sc-engine/protocol",
                         "sc-engine/gsup", "sc-engine/engine"},
}
TOP = ["base", "softcrypto", "pkcs11", "storage", "policy", "kms", "sc-engine", "tools", "tests", "docs", "scripts",
       "monitoring"]
SKIP_DIRS = {".git", "build", "demo-state", "demo-cluster-state", ".cache"}
TEXT = (".h", ".cc", ".c", ".md", ".sh", ".py", ".txt", ".cmake", ".json", ".conf", ".service")
# Names of files that live outside the checkout (the project's brief and notes)
# and absolute paths of the machine it was written on.
OUTSIDE = re.compile(r"\.\./shared|(?<![\w.~-])/work(?:/|\b)|MISSION\.md|GSUP-NOTES|MEASUREMENTS\.md|STYLE\.md")
# A call that wipes memory by hand.
HAND_WIPE = re.compile(r"\b(SecureWipe|OPENSSL_cleanse|explicit_bzero|WipeBufferContents)\s*\("
                       r"|\bmemset\s*\([^;]*,\s*(?:0|'\\0')\s*,")
# (file, call) -> why that file wipes by hand. Keep it short: a new entry needs a reason
# that a wiping type cannot serve.
WIPE_ALLOWED = {
    ("sc-engine/gsup/gsup.cc", "WipeBufferContents"):
        "gsup::AuthTuple's destructor: the codec's tuple keeps plain std::array/Bytes fields "
        "(compared and built field by field by the codec and its tests) and wipes them when it goes away",
    ("tools/chipsim/personalization_applet.cc", "WipeBufferContents"):
        "ProtocolScratch's destructor: protocol::ChipProtocolState keeps the pending PUK as a std::string",
}
# A header of this name is its folder's implementation detail (docs/architecture.md).
INTERNAL = "_internal.h"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w./-]*\w)")


def owner(rel):
    parts = rel.split("/")
    if parts[0] == "sc-engine" and len(parts) > 2:
        return "sc-engine/" + parts[1]
    return parts[0]


def files(root, exts):
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
        for n in names:
            if n.endswith(exts) or n == "CMakeLists.txt":
                p = os.path.join(d, n)
                yield os.path.relpath(p, root), p


def check_layering(root):
    problems = []
    for rel, path in files(root, (".h", ".cc")):
        src = owner(rel)
        with open(path, errors="replace") as f:
            for no, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                if m.group(1).endswith(INTERNAL) and os.path.dirname(m.group(1)) != os.path.dirname(rel):
                    problems.append(f"{rel}:{no}: includes {m.group(1)}, internal to "
                                    f"{os.path.dirname(m.group(1))}/")
                if src not in ALLOWED:
                    continue
                target = owner(m.group(1))
                if target == src or target not in ALLOWED and target not in ("tools", "tests"):
                    continue  # same folder, or a system-style header found by include path
                if target not in ALLOWED[src]:
                    problems.append(f"{rel}:{no}: {src} includes {m.group(1)} ({target} is not below {src})")
    return problems


def known(root, ref, names):
    """A path in the repository, or the stem of one (`softcrypto/milenage` for its .h and
    .cc, a test's source named without `.cc`), or a build output named after its
    source folder (`tests/chipsim_e2e_test`, `tools/bench/ac-bench`)."""
    if os.path.exists(os.path.join(root, ref)):
        return True
    if any(n.startswith(ref) for n in names):
        return True
    folder, base = os.path.split(ref)
    return os.path.isdir(os.path.join(root, folder)) and any(
        os.path.basename(n).startswith(base.replace("-", "_")) for n in names)


def check_references(root, self_rel):
    problems = []
    names = [rel for rel, _ in files(root, TEXT)]
    for rel, path in files(root, TEXT):
        if rel == self_rel:
            continue
        with open(path, errors="replace") as f:
            for no, line in enumerate(f, 1):
                if OUTSIDE.search(line):
                    problems.append(f"{rel}:{no}: names a file outside the checkout: {line.strip()[:100]}")
                for m in PATH.finditer(line):
                    ref = m.group(1).rstrip(".")
                    if "*" in ref or "<" in ref or ref.endswith("/") or "..." in ref:
                        continue
                    if not known(root, ref.split(":")[0], names):
                        problems.append(f"{rel}:{no}: names {ref}, which is not in the repository")
    return problems


def check_wipes(root):
    problems = []
    used = set()
    for rel, path in files(root, (".h", ".cc", ".c")):
        if rel.startswith("base/"):
            continue
        with open(path, errors="replace") as f:
            for no, line in enumerate(f, 1):
                code = line.split("//")[0]
                m = HAND_WIPE.search(code)
                if not m:
                    continue
                call = m.group(1) or "memset"
                if (rel, call) in WIPE_ALLOWED:
                    used.add((rel, call))
                    continue
                problems.append(f"{rel}:{no}: wipes by hand ({call}); hold the secret in a wiping type "
                                f"(base/secret_array.h, base/wiped_buffer.h, SecretBytes)")
    if os.path.isdir(os.path.join(root, "base")) and os.path.isfile(os.path.join(root, "base", "bytes.h")):
        for rel, call in sorted(set(WIPE_ALLOWED) - used):
            problems.append(f"{rel}: allowed to call {call} by hand, but no longer does: drop the entry")
    return problems


def selftest():
    with tempfile.TemporaryDirectory() as root:
        def put(rel, text):
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        put("base/a.h", '#include "base/b.h"\n#include "kms/k.h"\n')
        put("base/b.h", "\n")
        put("kms/k.h", '#include "storage/s.h"\n#include "storage/s_internal.h"\n')
        put("storage/s_internal.h", "\n")
        put("storage/s.cc", '#include "pkcs11/p.h"\n#include "tests/support/x.h"\n#include "storage/s_internal.h"\n')
        put("tests/storage/s_test.cc", '#include "storage/s_internal.h"\n')
        put("docs/x.md", "See docs/y.md and ../shared/docs/MISSION.md, built in /work/build.\n")
        put("docs/y.md", "See kms/k.h.\n")
        put("base/w.cc", "void F(char* p) { SecureWipe(p, 4); }\n")
        put("kms/w.cc", "void F(char* p) {\n  SecureWipe(p, 4);\n  std::memset(p, 0, 4);\n"
                        "  memset(p, ' ', 4);  // padding, not a wipe\n  // SecureWipe(p, 4) in a comment\n}\n")
        layering = check_layering(root)
        references = check_references(root, "")
        wipes = check_wipes(root)
    want_layering = ["base/a.h:2", "kms/k.h:2", "storage/s.cc:1", "storage/s.cc:2", "tests/storage/s_test.cc:1"]
    ok = sorted(p.split(": ")[0] for p in layering) == want_layering
    ok = ok and any("outside the checkout" in p for p in references)
    ok = ok and any("storage/s.h, which is not" in p for p in references)
    ok = ok and not any("docs/y.md, which" in p for p in references)
    ok = ok and sorted(p.split(": ")[0] for p in wipes) == ["kms/w.cc:2", "kms/w.cc:3"]
    print("\n".join(layering + references + wipes))
    return 0 if ok else 1


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "selftest":
        return selftest()
    if len(sys.argv) != 3 or sys.argv[1] not in ("layering", "references", "wipes"):
        print(__doc__)
        return 2
    root = os.path.abspath(sys.argv[2])
    if sys.argv[1] == "layering":
        problems = check_layering(root)
    elif sys.argv[1] == "wipes":
        problems = check_wipes(root)
    else:
        problems = check_references(root, os.path.relpath(os.path.abspath(__file__), root))
    for p in problems:
        print(p)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
