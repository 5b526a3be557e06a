#!/usr/bin/env python3
"""Token calls per operation from the counting PKCS#11 module's snapshots
(tools/p11count), and their regression check against a checked-in baseline.
scripts/bench-token-calls.sh runs it; python3 standard library only.

  token_calls.py RESULTS_DIR                      writes RESULTS_DIR/token-calls.json
  token_calls.py RESULTS_DIR --check BASELINE     ... then exit 1 if a phase's calls per
                                                  operation rose above BASELINE's
  token_calls.py RESULTS_DIR --update BASELINE    ... and write it as the new BASELINE

RESULTS_DIR/phases.tsv, one measured phase a line, tab-separated:
  phase  operation  operations  tolerance  BEFORE  AFTER
BEFORE and AFTER are counts files or JSON snapshots (p11count_read.py); the
phase's calls per operation are (AFTER - BEFORE) / operations, by C_ function.
tolerance is how far above the baseline a phase's total may go before the check
fails: 0 for a phase whose count is exact (token-bench's rows), a fraction for
one whose count depends on timing (kmsd's group commit shares one audit
checkpoint among the commits of a group; the key caches).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "p11count"))
import p11count_read  # noqa: E402  (tools/p11count/p11count_read.py)

# A function's per-operation count may rise by this much (rounding of amortized
# calls) before the check names it; the phase's total decides pass or fail.
FUNCTION_SLACK = 0.05


def measure(results):
    """The phases of RESULTS_DIR/phases.tsv with their calls per operation."""
    phases = []
    with open(os.path.join(results, "phases.tsv"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            name, operation, operations, tolerance, before, after = line.rstrip("\n").split("\t")
            operations = int(operations)
            if operations <= 0:
                raise ValueError(f"phase {name}: {operations} operations measured")
            diff = p11count_read.diff(p11count_read.load(before), p11count_read.load(after))
            per_op = {fn: round(n / operations, 2) for fn, n in sorted(diff.items(), key=lambda kv: -kv[1])}
            phases.append({
                "phase": name,
                "operation": operation,
                "operations": operations,
                "tolerance": float(tolerance),
                "calls": sum(diff.values()),
                "calls_per_operation": round(sum(diff.values()) / operations, 2),
                "by_function": per_op,
            })
    return phases


def check(phases, baseline):
    """Lines naming each phase whose calls per operation rose above the baseline's."""
    known = {p["phase"]: p for p in baseline["phases"]}
    problems = []
    for p in phases:
        base = known.get(p["phase"])
        if base is None:
            continue  # a new phase: --update adds it
        allowed = base["calls_per_operation"] * (1 + base["tolerance"]) + 0.005
        if p["calls_per_operation"] <= allowed:
            continue
        rose = []
        for fn, n in p["by_function"].items():
            was = base["by_function"].get(fn, 0)
            if n > was + FUNCTION_SLACK:
                rose.append(f"{fn} {was} -> {n}")
        problems.append(f"{p['phase']}: {p['calls_per_operation']} token calls per {p['operation']}, baseline "
                        f"{base['calls_per_operation']} (+{base['tolerance']:.0%} allowed); rose: "
                        + (", ".join(rose) or "(spread over functions)"))
    missing = sorted(set(known) - {p["phase"] for p in phases})
    problems.extend(f"{name}: in the baseline but not measured" for name in missing)
    return problems


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] not in ("--check", "--update")):
        print(__doc__, file=sys.stderr)
        return 2
    results = argv[1]
    phases = measure(results)
    out = {"phases": phases}
    machine = os.path.join(results, "machine.txt")
    if os.path.exists(machine):
        with open(machine, encoding="utf-8") as f:
            out["run"] = f.read().strip()
    with open(os.path.join(results, "token-calls.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for p in phases:
        print(f"{p['phase']:<34} {p['calls_per_operation']:>8} per {p['operation']}", file=sys.stderr)
    if len(argv) == 4 and argv[2] == "--update":
        with open(argv[3], "w", encoding="utf-8") as f:
            json.dump({"phases": [{k: p[k] for k in ("phase", "operation", "tolerance", "calls_per_operation",
                                                     "by_function")} for p in phases]}, f, indent=1)
            f.write("\n")
        print(f"baseline {argv[3]} written", file=sys.stderr)
    elif len(argv) == 4:
        with open(argv[3], encoding="utf-8") as f:
            problems = check(phases, json.load(f))
        for line in problems:
            print(f"token calls rose: {line}", file=sys.stderr)
        if problems:
            return 1
        print(f"token calls per operation within {argv[3]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, KeyError) as e:
        print(f"token_calls: {e}", file=sys.stderr)
        sys.exit(2)
