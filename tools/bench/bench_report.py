#!/usr/bin/env python3
"""Turns one scripts/bench.sh run (a results directory) into the Markdown tables of
docs/performance.md: every figure beside the raw limit measured in the same run.

  bench_report.py RESULTS_DIR                  # Markdown on stdout
  bench_report.py RESULTS_DIR --into DOC.md SECTION   # replace DOC.md's generated section SECTION
                                               # (and draw its charts, gnuplot SVG, into perf/ beside DOC.md)
  bench_report.py RESULTS_DIR --only scale     # scripts/bench-scale.sh's table on stdout
  bench_report.py RESULTS_DIR --only engines   # scripts/bench-engines.sh's table on stdout
  bench_report.py RESULTS_DIR --only token-calls   # scripts/bench-token-calls.sh's table on stdout
  bench_report.py RESULTS_DIR --only rpc-hop   # scripts/bench-rpc-hop.sh's tables on stdout
  bench_report.py RESULTS_DIR --into DOC.md rpc-hop   # ... into DOC.md, its charts (gnuplot SVG) into perf/ beside DOC.md
"""
import json
import os
import sys

# Generated sections: <!-- bench:begin NAME --> ... <!-- bench:end NAME -->
def markers(name):
    return f"<!-- bench:begin {name} -->", f"<!-- bench:end {name} -->"


def load(path):
    with open(path) as f:
        return json.load(f)


def load_optional(path):
    """A results JSON, or None where it is missing or unfinished (not measured, or a run still going)."""
    try:
        return load(path)
    except (OSError, ValueError):
        return None


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def auc_table(results):
    """The AuC comparison (ac-bench against kmsd and osmo-hlr): table lines and the target line."""
    def run(server, v, f):
        p = os.path.join(results, f"auc-{server}-v{v}-f{f}.json")
        return load(p) if os.path.exists(p) else None

    rows, ratios, ki1_ratios = [], {}, {}
    for f in (64, 16):
        for v in (1, 5):
            k, h = run("kmsd", v, f), run("osmo-hlr", v, f)
            if not k or not h:
                continue
            ratio = k["vectors_per_second"] / h["vectors_per_second"] if h["vectors_per_second"] else 0
            ratios[(v, f)] = ratio

            def lat(r):
                return f"{r['latency_ms']['p50']:.1f} / {r['latency_ms']['p99']:.1f}"

            def cpu(r):
                return f"{r['server_process']['cpu_cores']:.2f}" if "server_process" in r else "-"

            def errs(r):
                return ", ".join(f"{e} {n}" for e, n in r["errors"].items())

            # kmsd on contracted-only subscribers (Ki_1), when the run has them.
            k1 = run("kmsd-ki1", v, f)
            ki1 = "- | -"
            if k1:
                ki1_ratios[(v, f)] = k1["vectors_per_second"] / h["vectors_per_second"] if h["vectors_per_second"] else 0
                ki1 = f"{fmt(k1['vectors_per_second'])} | {ki1_ratios[(v, f)]:.2f}x"
            errors = "; ".join(f"{name}: {errs(r)}" for name, r in (("kmsd", k), ("kmsd Ki_1", k1), ("osmo-hlr", h))
                               if r and r["errors"]) or "none"
            rows.append(f"| {v} | {f} | {fmt(k['vectors_per_second'])} | {fmt(h['vectors_per_second'])} | {ratio:.2f}x | "
                        f"{ki1} | {lat(k)} | {lat(h)} | {cpu(k)} | {cpu(h)} | {errors} |")
    if not rows:
        return [], "- AuC (GSUP vectors/s vs osmo-hlr): not measured in this run (ac-bench, osmo-hlr or sqlite3 missing)"
    any_run = run("kmsd", 5, 64) or run("kmsd", 1, 64) or run("kmsd", 5, 16) or run("kmsd", 1, 16)
    hlr_version = ""
    p = os.path.join(results, "auc-osmo-hlr.txt")
    if os.path.exists(p):
        with open(p) as fh:
            hlr_version = fh.read().split(",")[0].strip()
    out = ["### AuC: GSUP vectors/s, kmsd against osmo-hlr", "",
           f"ac-bench (Debian's libosmo-gsup-client), {any_run['connections']} GSUP connections, SEND_AUTH_INFO for random "
           f"subscribers of {any_run['subscribers']:,} personalized ones (kmsd: Ki_2 wrapped, unwrapped in the token; "
           f"{hlr_version or 'osmo-hlr'}: the same K/OPc in its SQLite DB beside kmsd's database), "
           f"{any_run['seconds']:.0f} s per line; every vector of a 200-request run from each server was checked "
           "with software Milenage first.", "",
           "kmsd Ki_1: the same requests on as many contracted-only subscribers (ffdhe3072 chips before their "
           "first call: Ki_1 derived from K1 in the token and kept in kmsd's Ki_1 cache), run beside the other two.", "",
           "| vectors per request | in flight | kmsd vectors/s | osmo-hlr vectors/s | ratio | kmsd Ki_1 vectors/s | "
           "Ki_1 ratio | kmsd p50 / p99 (ms) | "
           "osmo-hlr p50 / p99 (ms) | kmsd CPU (cores) | osmo-hlr CPU (cores) | errors |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    out.extend(rows)
    out.append("")
    key = (5, 64) if (5, 64) in ratios else next(iter(ratios))
    ratio = ratios[key]
    target = (f"- AuC: kmsd {ratio:.2f}x osmo-hlr's vectors/s ({key[0]} vectors per request, {key[1]} in flight; "
              f"lowest over the {len(ratios)} mixes {min(ratios.values()):.2f}x) (target 2x): "
              + ("**met**" if ratio >= 2 else "**missed**"))
    if ki1_ratios:
        ki1_ratio = ki1_ratios.get(key, next(iter(ki1_ratios.values())))
        target += (f"\n- AuC on contracted (Ki_1) subscribers: kmsd {ki1_ratio:.2f}x osmo-hlr's vectors/s (same mix; "
                   f"lowest {min(ki1_ratios.values()):.2f}x) (target 2x): " + ("**met**" if ki1_ratio >= 2 else "**missed**"))
    return out, target


def scale_table(results):
    """scripts/bench-scale.sh: one row per database size (scale-<n>-*.json), and the
    throughput ratios of the largest size to the smallest."""
    sizes = sorted(int(name[len("scale-"):-len("-fill.json")]) for name in os.listdir(results)
                   if name.startswith("scale-") and name.endswith("-fill.json"))
    def part(n, kind):
        return load_optional(os.path.join(results, f"scale-{n}-{kind}.json"))
    out = []
    machine = []
    if os.path.exists(os.path.join(results, "machine.txt")):
        with open(os.path.join(results, "machine.txt")) as f:
            machine = [line.strip() for line in f if line.strip()]
    out.append("Generated by scripts/bench-scale.sh. Run: " + "; ".join(machine) + ".")
    out.append("")
    # RocksDB: live SST files + WAL; PostgreSQL: the tables' pg_total_relation_size + pg_wal.
    def live(db):
        return db["tables_bytes"] + db["wal_bytes"] if db.get("engine") == "postgres" else db["sst_bytes"] + db["wal_bytes"]
    postgres = any((part(n, "db") or {}).get("engine") == "postgres" for n in sizes)
    live_name = "tables + WAL" if postgres else "live SST + WAL"
    disk_name = "primary's data dir (du)" if postgres else "DB on disk (du)"
    out.append(f"| contracted | contracts/s (fill) | {disk_name} | {live_name} | bytes/subscriber (du) | "
               "start-up to /healthz (after fill / again) | to chip & GSUP listeners | /metrics scrape | "
               "first calls/s (ffdhe2048) | p99 (ms) | GSUP vectors/s | errors |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rates = {}
    for n in sizes:
        fill, db, kmsd, sc, ac = (part(n, k) for k in ("fill", "db", "kmsd", "sc", "ac"))
        row = [fmt(n), (fmt(fill["contracts_per_second"]) + (" (contract-fill)" if "filler" in fill else " (API)"))
               if fill else "-"]
        if db:
            row += [f"{db['du_bytes'] / 1e6:,.1f} MB", f"{live(db) / 1e6:,.1f} MB",
                    fmt(db["du_bytes"] / n)]
        else:
            row += ["-"] * 3
        if kmsd:
            a, b = kmsd["start_after_fill"], kmsd["start"]
            row += [f"{a['healthz_s']:.2f} s / {b['healthz_s']:.2f} s",
                    f"{b['chip_channel_s']:.2f} s / {b['gsup_s']:.2f} s", f"{kmsd['metrics_scrape_s'] * 1000:.1f} ms"]
        else:
            row += ["-"] * 3
        errs = []
        if sc:
            rates.setdefault("first calls/s", {})[n] = sc["personalizations_per_second"]
            row += [fmt(sc["personalizations_per_second"]), f"{sc['latency_ms']['p99']:.1f}"]
            errs += [f"sc {k} {v}" for k, v in sc["errors"].items()]
        else:
            row += ["-", "-"]
        if ac:
            rates.setdefault("GSUP vectors/s", {})[n] = ac["vectors_per_second"]
            row.append(fmt(ac["vectors_per_second"]))
            errs += [f"gsup {k} {v}" for k, v in ac["errors"].items()]
        else:
            row.append("-")
        row.append(", ".join(errs) or "none")
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    asked = os.path.join(results, "scale-size-asked")
    if os.path.exists(asked):
        with open(asked) as f:
            want = int(f.read())
        out.append(f"- **Size asked {fmt(want)}: not reached**; the fill's time limit stopped it at {fmt(max(sizes))} "
                   "(the last row); nothing above that size is measured or extrapolated.")
    dbs = {n: part(n, "db") for n in sizes if part(n, "db")}
    if len(dbs) >= 2:
        lo, hi = min(dbs), max(dbs)
        def per(key):
            return (dbs[hi][key] - dbs[lo][key]) / (hi - lo)
        line = (f"- Bytes per subscriber from {fmt(lo)} to {fmt(hi)} (the growth, without the fixed files): "
                f"du {fmt(per('du_bytes'))}, {live_name} {fmt((live(dbs[hi]) - live(dbs[lo])) / (hi - lo))}")
        if postgres:
            line += (f", the standby's data dir {fmt(per('standby_du_bytes'))}, WAL {fmt(per('wal_bytes'))}, "
                     f"tables {fmt(per('tables_bytes'))}")
        key = "bytes_by_table" if postgres else "sst_bytes_by_column_family"
        by_lo = dbs[lo].get(key, {})
        by_hi = dbs[hi].get(key, {})
        if by_hi:
            line += ("; pg_total_relation_size by table" if postgres else "; SST by column family") + " at " + fmt(hi) + ": " + ", ".join(
                f"{cf} {fmt((b - by_lo.get(cf, 0)) / (hi - lo))}" for cf, b in sorted(by_hi.items(), key=lambda x: -x[1])
                if b > 1e5)
        out.append(line + " (a contract appends one audit record, so its bytes are part of a subscriber's cost).")
    for what, by_size in rates.items():
        if len(by_size) >= 2 and by_size[min(by_size)] > 0:
            lo, hi = min(by_size), max(by_size)
            ratio = by_size[hi] / by_size[lo]
            out.append(f"- {what} at {fmt(hi)} subscribers: {ratio:.0%} of the figure at {fmt(lo)} "
                       "(target: within 10%): " + ("**met**" if ratio >= 0.9 else "**missed**"))
    out.append("")
    return "\n".join(out)


def engines_table(results):
    """scripts/bench-engines.sh: one kmsd node on PostgreSQL (primary + synchronous
    standby) against the same node on RocksDB, the median of the interleaved rounds,
    the ratios against the goals of issue 13 (AuC >= 80%, first calls >= 60%), and
    the labelled extras (sqn_block 1, asynchronous standby)."""
    d = os.path.join(results, "engines")
    def part(name):
        return load_optional(os.path.join(d, name + ".json"))
    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
    machine = []
    if os.path.exists(os.path.join(d, "machine.txt")):
        with open(os.path.join(d, "machine.txt")) as f:
            machine = [line.strip() for line in f if line.strip()]
    rounds = sorted({int(n.split("-")[1][1:]) for n in os.listdir(d) if n.startswith("rocksdb-r") and n.endswith("-load.json")})
    loads = []
    for name in os.listdir(d):
        if name.endswith("-load.json"):
            for v in (part(name[:-len(".json")]) or {}).values():  # None: a run still going
                loads.append(float(v.split()[0]))
    out = ["Generated by scripts/bench-engines.sh. Run: " + "; ".join(machine) + ".", ""]
    if loads:
        out += [f"Load average (1 min) before the measured runs: {min(loads):.2f} to {max(loads):.2f}, median "
                f"{median(loads):.2f} on {os.cpu_count()} CPUs (the benchmark's own kmsd, clients and PostgreSQL "
                "servers included, and whatever else ran; the engines' runs alternate round by round so that "
                "any other load falls on both alike).", ""]
    kinds = [("sc-ffdhe2048", "first calls/s, ffdhe2048, 64 in flight", "personalizations_per_second", 0.6),
             ("sc-p256", "first calls/s, p256, 64 in flight", "personalizations_per_second", 0.6),
             ("ac-ki2-f16", "AuC vectors/s, Ki_2 (personalized), 5 per request, 16 in flight", "vectors_per_second", 0.8),
             ("ac-ki2-f64", "AuC vectors/s, Ki_2 (personalized), 5 per request, 64 in flight", "vectors_per_second", 0.8),
             ("ac-ki1-f16", "AuC vectors/s, Ki_1 (contracted only), 5 per request, 16 in flight", "vectors_per_second", 0.8),
             ("ac-ki1-f64", "AuC vectors/s, Ki_1 (contracted only), 5 per request, 64 in flight", "vectors_per_second", 0.8)]
    out += ["| measurement | RocksDB | PostgreSQL (sync standby) | ratio | goal | ratio per round | "
            "p99 ms RocksDB / PostgreSQL | kmsd CPU cores RocksDB / PostgreSQL | errors |",
            "|---|---|---|---|---|---|---|---|---|"]
    verdicts = {}
    def cpu(r):
        k = r.get("kmsd") or r.get("server_process") or {}
        return k.get("cpu_cores", 0)
    for kind, what, key, goal in kinds:
        rr = [part(f"rocksdb-r{n}-{kind}") for n in rounds]
        pp = [part(f"postgres-r{n}-{kind}") for n in rounds]
        if not all(rr) or not all(pp):
            continue
        r, p = median([x[key] for x in rr]), median([x[key] for x in pp])
        ratio = p / r if r else 0
        verdicts.setdefault(goal, []).append((what, ratio))
        per_round = ", ".join(f"{b[key] / a[key]:.0%}" for a, b in zip(rr, pp) if a[key])
        errs = "; ".join(f"{e} {k} {v}" for e, xs in (("RocksDB", rr), ("PostgreSQL", pp)) for x in xs
                         for k, v in x["errors"].items()) or "none"
        out.append(f"| {what} | {fmt(r)} | {fmt(p)} | {ratio:.0%} | {goal:.0%} | {per_round} | "
                   f"{median([x['latency_ms']['p99'] for x in rr]):.1f} / {median([x['latency_ms']['p99'] for x in pp]):.1f} | "
                   f"{median([cpu(x) for x in rr]):.2f} / {median([cpu(x) for x in pp]):.2f} | {errs} |")
    out += ["", f"Medians of {len(rounds)} rounds; each round measures both engines, the engine that goes first "
            "swapping every round.", ""]
    # The RocksDB median of each measurement over the rounds (0: a round missing it):
    # what every extra below is set against.
    rocksdb_median = {}
    for kind, _, key, _ in kinds:
        rr = [part(f"rocksdb-r{n}-{kind}") for n in rounds]
        rocksdb_median[kind] = median([x[key] for x in rr]) if rr and all(rr) else 0
    extras = []
    for kind, what, key, _ in kinds:
        a = part(f"postgres-async-{kind}")
        if a:
            r = rocksdb_median[kind]
            extras.append(f"| PostgreSQL, standby asynchronous (as a lone primary) | {what} | {fmt(a[key])} | "
                          f"{a[key] / r:.0%} |" if r else f"| PostgreSQL, standby asynchronous | {what} | {fmt(a[key])} | - |")
    for e, name in (("rocksdb", "RocksDB"), ("postgres", "PostgreSQL (sync standby)")):
        for f in (16, 64):
            x = part(f"{e}-sqn1-ac-ki2-f{f}")
            r = rocksdb_median[f"ac-ki2-f{f}"]
            if x and r:
                extras.append(f"| {name}, sqn_block 1 | AuC vectors/s, Ki_2, 5 per request, {f} in flight | "
                              f"{fmt(x['vectors_per_second'])} | {x['vectors_per_second'] / r:.0%} |")
    # Twice the crypto workers on both engines (the AuC): against the RocksDB median
    # above, and PostgreSQL against RocksDB at the same doubled count.
    doubled = []
    for kind, what, key, _ in kinds:
        r2, p2 = part(f"rocksdb-workers2x-{kind}"), part(f"postgres-workers2x-{kind}")
        r = rocksdb_median[kind]
        if not (r2 and p2 and r):
            continue
        for name, x in (("RocksDB", r2), ("PostgreSQL (sync standby)", p2)):
            extras.append(f"| {name}, twice the crypto workers | {what} | {fmt(x[key])} | {x[key] / r:.0%} |")
        doubled.append((what, p2[key] / r2[key] if r2[key] else 0))
    if extras:
        out += ["Extras, one run each after the rounds (ratio: to the RocksDB median above):", "",
                "| set-up | measurement | rate | ratio to RocksDB |", "|---|---|---|---|"] + extras + [""]
    c = [part(f"{e}-contract-rate") for e in ("rocksdb", "postgres")]
    if all(c):
        out += [f"Contracts over the operator API (contract-load, 16 in flight, while filling the runs' chips): "
                f"RocksDB {fmt(c[0]['contracts_per_second'])}/s, PostgreSQL {fmt(c[1]['contracts_per_second'])}/s "
                f"({c[1]['contracts_per_second'] / c[0]['contracts_per_second']:.0%}).", ""]
    if doubled:
        lo = min(doubled, key=lambda x: x[1])
        out += ["With twice the crypto workers on both engines (one run each), PostgreSQL against RocksDB: "
                + ", ".join(f"{w}: {v:.0%}" for w, v in doubled) + f"; the lowest {lo[1]:.0%}.", ""]
    for goal, name in ((0.8, "AuC"), (0.6, "first calls")):
        if goal in verdicts:
            lo = min(verdicts[goal], key=lambda x: x[1])
            out.append(f"- {name} on PostgreSQL: {lo[1]:.0%} of RocksDB at the lowest ({lo[0]}) (goal {goal:.0%}): "
                       + ("**met**" if lo[1] >= goal else "**missed**"))
    out.append("")
    return "\n".join(out)


# ---- Charts (gnuplot, SVG): drawn from the results with the tables, into the doc's perf/ folder ----

def draw(svg, script, data):
    """Runs gnuplot on SCRIPT (str.format'ed with each data set's file name) to draw SVG;
    DATA maps a name to its rows (tuples, one per line; a None row ends a data block)."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        files = {}
        for name, rows in data.items():
            files[name] = os.path.join(d, name + ".dat")
            with open(files[name], "w") as f:
                for row in rows:
                    f.write("\n" if row is None else " ".join(str(x) for x in row) + "\n")
        head = (f'set terminal svg size 760,480 font "sans,12" background rgb "white"\n'
                f'set output "{svg}"\nset grid\nset key below maxrows 2\n')
        subprocess.run(["gnuplot"], input=head + script.format(**files), text=True, check=True)


def draw_distributions(svg, title, curves):
    """Latency distributions (percentile against ms, log scale) into SVG: CURVES are
    (title, latency summary with its "distribution", dashed) triples."""
    data, plots = {}, []
    for i, (name, summary, dashed) in enumerate(curves):
        data[f"c{i}"] = [(ms, p) for p, ms in summary["distribution"]]
        plots.append(f'"{{c{i}}}" w l lw 2 dt {2 if dashed else 1} title "{name}"')
    draw(svg, f'set title "{title}"\nset logscale x 10\nset xlabel "latency (ms, log scale)"\n'
              'set ylabel "percentile"\nset yrange [0:100]\nplot ' + ", ".join(plots) + "\n", data)


def chart_ref(charts, name, alt):
    """The Markdown image line of chart NAME, drawn into the doc's perf/ folder."""
    charts.append(name)
    return f"![{alt}](perf/{name})"


def rpc_hop_table(results, chart_dir=None):
    """scripts/bench-rpc-hop.sh: kmsd on SoftHSM directly against the same kmsd on the same
    token through p11-kit's RPC (p11-kit server + p11-kit-client.so): what crosses the hop,
    kmsd's measurements on both paths with the goals of issue 15 (AuC >= 50% of direct, a
    first call's p99 < 250 ms with ~1,000 in flight through the hop), token calls (round
    trips) per operation, and what one call costs. With CHART_DIR, draws its charts there."""
    d = os.path.join(results, "rpc-hop")
    paths = ("direct", "hop")
    def part(name):
        return load_optional(os.path.join(d, name + ".json"))
    def text(name):
        try:
            with open(os.path.join(d, name)) as f:
                return f.read().strip()
        except OSError:
            return None
    machine = (text("machine.txt") or "").splitlines()
    calls = {ph["phase"]: ph for ph in (part("calls/token-calls") or {}).get("phases", [])}
    base = {}  # calls per unit of token-bench's rows (the checked-in counts; not changed here)
    try:
        for ph in load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "token_calls_baseline.json"))["phases"]:
            base[ph["phase"]] = ph["calls_per_operation"]
    except (OSError, ValueError, KeyError):
        pass
    out = ["Generated by scripts/bench-rpc-hop.sh. Run: " + "; ".join(machine) + ".", ""]
    metas = [part(n[:-len(".json")]) for n in sorted(os.listdir(d)) if n.endswith(".meta.json")]
    loads = [m["load_1min"] for m in metas if m]
    if loads:
        out += [f"Load average (1 min) before each measured run: {min(loads):.2f} to {max(loads):.2f} on "
                f"{os.cpu_count()} CPUs (the benchmark's own kmsd, p11-kit server and clients included, and what "
                "else ran on the machine); each measurement is made on both paths back to back.", ""]

    # What crosses the hop: token-bench's in-token rows one by one.
    rows = sorted({n[len("probe-"):].rsplit("-", 1)[0] for n in os.listdir(d) if n.startswith("probe-")})
    crossing = {}
    if rows:
        out += ["What crosses the hop: each of token-bench's in-token rows alone (1 thread, 0.3 s) on each path.", "",
                "| token-bench row | direct | through p11-kit RPC |", "|---|---|---|"]
        for row in rows:
            cells = []
            for p in paths:
                r, err = part(f"probe-{row}-{p}"), text(f"probe-{row}-{p}.err")
                if r:
                    x = r["results"][0]
                    cells.append(f"{fmt(x['per_second'])} {x['unit']}")
                else:
                    cells.append("**fails**: " + (err or "no result").replace("token-bench: ", "").replace("|", "/"))
            crossing[row] = part(f"probe-{row}-hop") is not None
            out.append(f"| {row} | {cells[0]} | {cells[1]} |")
        out.append("")
    starts = {p: text(f"kmsd-start-{p}.txt") for p in paths}
    if starts["hop"] and not starts["hop"].startswith("started"):
        out += ["kmsd through the hop **did not start**; its log's last lines:", "", "```",
                *starts["hop"].splitlines()[1:], "```", ""]

    def server_cores(name, seconds):
        m = part(f"{name}-hop.meta")
        return f"{m['server_cpu_seconds'] / seconds:.2f}" if m and seconds else "-"
    def per_op(name):
        c = [calls.get(f"{name} {p}", {}).get("calls_per_operation") for p in paths]
        return " / ".join(f"{x:g}" if x is not None else "-" for x in c)
    def errs(r):
        return ", ".join(f"{k} {v}" for k, v in r["errors"].items())
    def lat(r):
        return f"{r['latency_ms']['p50']:.1f} / {r['latency_ms']['p99']:.1f}" if r else "-"
    def rate(r, key):
        return fmt(r[key]) if r else "not run"
    def cores(r, key):
        return f"{(r.get(key) or {}).get('cpu_cores', 0):.2f}" if r else "-"
    measured = [("auc-v{v}-f{f}".format(v=v, f=f), f"AuC vectors/s, {v} per request, {f} in flight", "ac",
                 "vectors_per_second", "server_process") for v in (1, 5) for f in (1, 4, 16, 64)]
    measured += [("first-call-ffdhe2048", "first calls/s, ffdhe2048, 64 in flight", "sc", "personalizations_per_second", "kmsd"),
                 ("first-call-p256", "first calls/s, p256, 64 in flight", "sc", "personalizations_per_second", "kmsd"),
                 ("first-call-1000-in-flight", "first calls/s, ffdhe2048, ~1,000 in flight (250 starts/s)", "sc",
                  "personalizations_per_second", "kmsd")]
    got = {}
    table = []
    for name, what, tool, key, proc in measured:
        a, b = part(f"{tool}-{name}-direct"), part(f"{tool}-{name}-hop")
        if not a:
            continue
        got[name] = (a, b)
        ratio = f"{b[key] / a[key]:.0%}" if b and a[key] else "-"
        e = "; ".join(f"{p}: {errs(x)}" for p, x in zip(paths, (a, b)) if x and x["errors"]) or "none"
        table.append(f"| {what} | {rate(a, key)} | {rate(b, key)} | {ratio} | {lat(a)} | {lat(b) if b and b[key] else '-'} | "
                     f"{per_op(name)} | {cores(a, proc)} / {cores(b, proc)} | "
                     f"{server_cores(name, b['seconds']) if b else '-'} | {e} |")
    if table:
        out += ["kmsd on each path (the same token and database; kmsd restarted to change path):", "",
                "| measurement | direct | through p11-kit RPC | hop / direct | p50 / p99 ms direct | p50 / p99 ms hop | "
                "token calls per operation direct / hop (hop: round trips) | kmsd CPU cores direct / hop | "
                "p11-kit server CPU cores | errors |",
                "|---|---|---|---|---|---|---|---|---|---|"] + table + [""]

    # What one call costs: token-bench's Milenage rows, 1..8 threads, on both paths.
    tb = {}
    for n in os.listdir(d):
        if n.startswith("token-bench-t") and n.endswith(".json") and not n.endswith(".meta.json"):
            t, p = n[len("token-bench-t"):-len(".json")].split("-", 1)
            for x in load(os.path.join(d, n))["results"]:
                tb[(x["name"], int(t), p)] = x
    def us_lat(x):
        return f"{x['latency_ms']['p50'] * 1000:,.0f} / {x['latency_ms']['p99'] * 1000:,.0f}" if "latency_ms" in x else "-"
    tb_rows = []
    for name in sorted({k[0] for k in tb}):
        per_unit = base.get(f"token-bench {name}")
        for t in sorted({k[1] for k in tb if k[0] == name}):
            a, b = tb.get((name, t, "direct")), tb.get((name, t, "hop"))
            if not a or not b:
                continue
            def us(x):
                return f"{t * 1e6 / (x['per_second'] * per_unit):.1f}" if per_unit and x["per_second"] else "-"
            def calls_s(x):
                return fmt(x["per_second"] * per_unit) if per_unit else "-"
            m = part(f"token-bench-t{t}-hop.meta")
            tb_rows.append(f"| {name} | {t} | {fmt(a['per_second'])} | {fmt(b['per_second'])} | "
                           f"{b['per_second'] / a['per_second']:.0%} | {calls_s(a)} / {calls_s(b)} | {us(a)} / {us(b)} | "
                           f"{us_lat(a)} / {us_lat(b)} | "
                           + (f"{m['server_cpu_seconds'] / (2 * b['seconds']):.2f}" if m else "-") + " |")
    if tb_rows:
        out += ["What one token call costs (token-bench, kmsd stopped, each thread on its own session; calls per "
                "vector from the token-call counts above: 8 for x1, 6.4 for x5; µs per call = threads ÷ calls/s, "
                "the wall time a call holds its thread; latency is of one operation, a vector for x1, five for x5; "
                "the two Milenage rows are measured one after the other, so the server's CPU is over both):", "",
                "| row | threads | direct vectors/s | through p11-kit RPC | hop / direct | token calls/s direct / hop | "
                "µs per call direct / hop | p50 / p99 µs direct / hop | p11-kit server CPU cores |",
                "|---|---|---|---|---|---|---|---|---|"] + tb_rows + [""]

    charts = []
    auc_any = {k: v for k, v in got.items() if k.startswith("auc-") and v[1]}  # with kmsd's figures through the hop
    if tb:
        out += [chart_ref(charts, "rpc-hop-token-throughput.svg",
                          "Milenage vectors/s in the token against threads, direct and through p11-kit's RPC"), ""]
    if auc_any:
        out += [chart_ref(charts, "rpc-hop-auc-throughput.svg",
                          "kmsd's AuC vectors/s against requests in flight, direct and through p11-kit's RPC"), ""]
    if tb or got.get("first-call-1000-in-flight"):
        out += [chart_ref(charts, "rpc-hop-latency.svg", "Latency distributions, direct and through p11-kit's RPC"), ""]
    if chart_dir and charts:
        os.makedirs(chart_dir, exist_ok=True)
        if tb:
            data = {f"{p}_{name.replace('-', '_')}": [(t, tb[(name, t, p)]["per_second"]) for t in (1, 2, 4, 8)
                                                    if (name, t, p) in tb]
                    for p in paths for name in ("milenage-token-x1", "milenage-token-x5")}
            draw(os.path.join(chart_dir, "rpc-hop-token-throughput.svg"),
                 'set title "Milenage in the token (token-bench): vectors/s against threads"\n'
                 'set logscale x 2\nset xrange [0.8:10]\nset xtics (1, 2, 4, 8)\nset xlabel "threads, each with its own session"\n'
                 'set logscale y 10\nset ylabel "vectors/s (log scale)"\n'
                 'plot "{direct_milenage_token_x5}" w lp lw 2 pt 7 title "direct, 5 vectors per operation", '
                 '"{hop_milenage_token_x5}" w lp lw 2 pt 5 title "p11-kit RPC, 5 vectors per operation", '
                 '"{direct_milenage_token_x1}" w lp lw 2 pt 6 dt 2 title "direct, 1 vector per operation", '
                 '"{hop_milenage_token_x1}" w lp lw 2 pt 4 dt 2 title "p11-kit RPC, 1 vector per operation"\n', data)
        if auc_any:
            data, plots = {}, []
            for p_i, p in enumerate(paths):
                for v in (1, 5):
                    pts = [(f, got[f"auc-v{v}-f{f}"][p_i]["vectors_per_second"]) for f in (1, 4, 16, 64)
                           if f"auc-v{v}-f{f}" in got and got[f"auc-v{v}-f{f}"][p_i]]
                    if pts:
                        data[f"{p}_v{v}"] = pts
                        plots.append(f'"{{{p}_v{v}}}" w lp lw 2 pt {7 if p == "direct" else 5} dt {1 if v == 5 else 2} '
                                     f'title "{"direct" if p == "direct" else "p11-kit RPC"}, {v} vector{"s" if v > 1 else ""} per request"')
            draw(os.path.join(chart_dir, "rpc-hop-auc-throughput.svg"),
                 'set title "kmsd\'s AuC: GSUP vectors/s against requests in flight (ac-bench)"\n'
                 'set logscale x 2\nset xrange [0.8:80]\nset xtics (1, 4, 16, 64)\nset xlabel "requests in flight"\n'
                 'set ylabel "vectors/s"\nset yrange [0:*]\nplot ' + ", ".join(plots) + "\n", data)
        if tb or got.get("first-call-1000-in-flight"):
            label = {"direct": "direct", "hop": "p11-kit RPC"}
            curves = [(f"one Milenage vector (8 calls), {t} thread{'s' if t > 1 else ''}, {label[p]}",
                       tb[("milenage-token-x1", t, p)]["latency_ms"], t > 1)
                      for t in (1, 8) for p in paths
                      if "distribution" in tb.get(("milenage-token-x1", t, p), {}).get("latency_ms", {})]
            fc = got.get("first-call-1000-in-flight")
            if fc and fc[1] and fc[1]["personalized"]:  # kmsd's first calls only beside the hop's
                curves += [(f"kmsd first call, {r['max_in_flight']:,} in flight, {label[p]}", r["latency_ms"], True)
                           for p, r in zip(paths, fc)]
            draw_distributions(os.path.join(chart_dir, "rpc-hop-latency.svg"),
                               "Latency distributions, direct and through p11-kit's RPC", curves)

    # The goals of issue 15, from kmsd's own figures through the hop.
    auc_goal = []
    for v in (1, 5):
        for f in (16, 64):
            a, b = got.get(f"auc-v{v}-f{f}", (None, None))
            if a:
                auc_goal.append((f"{v} vector{'s' if v > 1 else ''} per request, {f} in flight",
                                 b["vectors_per_second"] / a["vectors_per_second"] if b and a["vectors_per_second"] else 0,
                                 b))
    # Where kmsd did not run through the hop: what the hop's measured call rate (token-bench,
    # the most over the thread counts) would allow at kmsd's calls per operation of this run,
    # an upper bound (Milenage's calls are the token's cheapest).
    hop_calls = max((tb[k]["per_second"] * base[f"token-bench {k[0]}"] for k in tb
                     if k[2] == "hop" and f"token-bench {k[0]}" in base), default=0)
    def bound(name, per):
        c = calls.get(f"{name} direct", {}).get("calls_per_operation")
        return hop_calls / c * per if c and hop_calls else None
    if auc_goal:
        lo = min(auc_goal, key=lambda x: x[1])
        if lo[2]:
            out.append(f"- AuC through the hop: {lo[1]:.0%} of the direct vectors/s at the lowest ({lo[0]}); "
                       + ", ".join(f"{w}: {r:.0%}" for w, r, _ in auc_goal) + " (goal 50%): "
                       + ("**met**" if lo[1] >= 0.5 else "**missed**"))
        else:
            b = bound("auc-v5-f64", 5)
            a = got.get("auc-v5-f64", (None, None))[0]
            est = (f"; at most ~{fmt(b)} vectors/s with 5 per request would cross it ({fmt(hop_calls)} calls/s, the "
                   f"hop's best token-bench rate, ÷ {calls['auc-v5-f64 direct']['calls_per_operation']:g} calls per "
                   f"request), {b / a['vectors_per_second']:.0%} of the direct {fmt(a['vectors_per_second'])} "
                   "(an estimate, not a measurement)") if b and a else ""
            out.append("- AuC through the hop: not measurable, kmsd does not run through it (above)" + est
                       + " (goal 50%): **missed**")
    fc = got.get("first-call-1000-in-flight")
    fc = got.get("first-call-1000-in-flight")
    if fc:
        a, b = fc
        if b and b["personalized"]:
            out.append(f"- First call through the hop with {b['max_in_flight']:,} in flight: p99 {b['latency_ms']['p99']:.1f} ms, "
                       f"{b['personalized']:,} of {b['chips_started']:,} personalized (direct: p99 "
                       f"{a['latency_ms']['p99']:.1f} ms with {a['max_in_flight']:,} in flight) (goal < 250 ms): "
                       + ("**met**" if b["latency_ms"]["p99"] < 250 and not b["errors"] else "**missed**"))
        else:
            c = bound("first-call-1000-in-flight", 1)
            est = (f"; the hop's call rate would allow at most ~{fmt(c)} first calls/s at "
                   f"{calls['first-call-1000-in-flight direct']['calls_per_operation']:g} calls each, "
                   + ("below the 250/s that keep ~1,000 in flight, so the queue and the p99 would grow without bound"
                      if c < 250 else "above the 250/s that keep ~1,000 in flight")
                   + " (an estimate)") if c else ""
            out.append(f"- First call through the hop with ~1,000 in flight: "
                       + (f"none of {b['chips_started']:,} personalized" if b else "not measurable, kmsd does not run "
                          "through it") + est
                       + f" (direct in this run: p99 {a['latency_ms']['p99']:.1f} ms with {a['max_in_flight']:,} in flight) "
                       "(goal p99 < 250 ms): **missed**")
    out.append("")
    return "\n".join(out)


# Sections with a generator of their own (the rest come from report()).
def token_calls_table(results):
    """scripts/bench-token-calls.sh's table: token calls per operation by C_ function (token-calls.json,
    written by tools/bench/token_calls.py)."""
    tc = load(os.path.join(results, "token-calls.json"))
    out = ["Generated by scripts/bench-token-calls.sh. Run: " + "; ".join(tc.get("run", "").splitlines()) + ".", ""]
    out.append("| phase | operation | operations counted | token calls per operation | by function, per operation |")
    out.append("|---|---|---|---|---|")
    for p in tc["phases"]:
        by_function = ", ".join(f"{fn} {n:g}" for fn, n in p["by_function"].items() if n >= 0.01)
        out.append(f"| {p['phase']} | {p['operation']} | {fmt(p['operations'])} | "
                   f"**{p['calls_per_operation']:g}** | {by_function or 'none'} |")
    return "\n".join(out) + "\n"


GENERATORS = {"scale": scale_table, "scale-postgres": scale_table, "engines": engines_table,
              "token-calls": token_calls_table, "rpc-hop": rpc_hop_table}


def auc_charts(results, section, chart_dir):
    """scripts/bench.sh's charts: kmsd beside osmo-hlr, GSUP vectors/s against requests in
    flight, and the latency distributions (AuC requests, and first calls with ~1,000 in
    flight); the Markdown lines that show them. Drawn into CHART_DIR when given."""
    def part(name):
        p = os.path.join(results, name + ".json")
        return load(p) if os.path.exists(p) else None
    runs = {(srv, v, f): part(f"auc-{srv}-v{v}-f{f}") for srv in ("kmsd", "osmo-hlr") for v in (1, 5) for f in (16, 64)}
    runs = {k: r for k, r in runs.items() if r}
    first = part("sc-ffdhe2048-1000-in-flight")
    dist = [r for r in list(runs.values()) + [first] if r and "distribution" in r["latency_ms"]]
    lines, charts = [], []
    if runs:
        lines.append(chart_ref(charts, f"bench-{section}-auc-throughput.svg",
                               "AuC vectors/s against requests in flight, kmsd and osmo-hlr"))
    if dist:
        lines.append(chart_ref(charts, f"bench-{section}-latency.svg",
                               "Latency distributions: AuC requests of kmsd and osmo-hlr, first calls"))
    if chart_dir and charts:
        os.makedirs(chart_dir, exist_ok=True)
        if runs:
            data = {f"{srv.replace('-', '_')}_v{v}": [(f, runs[(srv, v, f)]["vectors_per_second"]) for f in (16, 64)
                                                       if (srv, v, f) in runs]
                    for srv in ("kmsd", "osmo-hlr") for v in (1, 5)}
            draw(os.path.join(chart_dir, charts[0]),
                 'set title "AuC: GSUP vectors/s against requests in flight (ac-bench)"\n'
                 'set logscale x 2\nset xrange [12:80]\nset xtics (16, 64)\nset xlabel "requests in flight"\n'
                 'set ylabel "vectors/s"\nset yrange [0:*]\n'
                 'plot "{kmsd_v5}" w lp lw 2 pt 7 title "kmsd, 5 vectors per request", '
                 '"{osmo_hlr_v5}" w lp lw 2 pt 5 title "osmo-hlr, 5 vectors per request", '
                 '"{kmsd_v1}" w lp lw 2 pt 6 dt 2 title "kmsd, 1 vector per request", '
                 '"{osmo_hlr_v1}" w lp lw 2 pt 4 dt 2 title "osmo-hlr, 1 vector per request"\n', data)
        if dist:
            curves = [(f"{srv}: AuC request, 5 vectors, 64 in flight", runs[(srv, 5, 64)]["latency_ms"], False)
                      for srv in ("kmsd", "osmo-hlr")
                      if (srv, 5, 64) in runs and "distribution" in runs[(srv, 5, 64)]["latency_ms"]]
            if first and "distribution" in first["latency_ms"]:
                curves.append((f"kmsd: first call, {first['max_in_flight']:,} in flight", first["latency_ms"], True))
            draw_distributions(os.path.join(chart_dir, charts[-1]), "Latency distributions", curves)
    return lines


def report(results, section="disk", chart_dir=None):
    out = []
    tb = load(os.path.join(results, "token-bench.json"))
    limits = {r["name"]: r["per_second"] for r in tb["results"]}
    with open(os.path.join(results, "machine.txt")) as f:
        machine = [line.strip() for line in f if line.strip()]
    out.append("Generated by scripts/bench.sh. Run: " + "; ".join(machine) + f"; kmsd and token-bench with {tb['threads']} token sessions/threads.")
    out.append("")

    def sc(name):
        p = os.path.join(results, f"sc-{name}.json")
        return load(p) if os.path.exists(p) else None

    def errors(r):
        return ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"

    out.append("### First calls: personalizations/s against the raw limits of the same run")
    out.append("")
    out.append("64 chips in flight, no think time (closed loop), 4 gateway connections. Bound: "
               "token-bench's in-token key pair + derive (the SC's own calls) with the same thread count.")
    out.append("")
    out.append("| group | personalizations/s | in-token DH bound | ratio | raw OpenSSL | ratio | latency p50 / p99 / max (ms) | kmsd CPU (cores) | sc-bench CPU (s) | errors |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    targets = []
    for group in ("ffdhe2048", "p256", "ffdhe3072"):
        r = sc(group)
        if not r:
            continue
        rate = r["personalizations_per_second"]
        bound = limits.get(f"dh-{group}-token", 0)
        raw = limits.get(f"dh-{group}-openssl", 0)
        lat = r["latency_ms"]
        k = r.get("kmsd", {})
        out.append(f"| {group} | {fmt(rate)} | {fmt(bound)} | {rate / bound:.0%} | {fmt(raw)} | {rate / raw:.0%} | "
                   f"{lat['p50']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} | {k.get('cpu_cores', 0):.2f} | "
                   f"{r['client_cpu_seconds']:.1f} | {errors(r)} |")
        if group in ("ffdhe2048", "p256"):
            targets.append(f"- {group}: {rate / bound:.0%} of the in-token bound (target 80%): "
                           + ("**met**" if rate >= 0.8 * bound else "**missed**"))
    out.append("")
    r = sc("ffdhe2048-1000-in-flight")
    if r:
        lat, rt = r["latency_ms"], r["round_trip_ms"]
        out.append("### Latency with about 1,000 chips in flight (ffdhe2048)")
        out.append("")
        out.append(f"Chips start at {fmt(r['rate'])}/s; each waits {r['think_ms']} ms between CHALLENGE and CONFIRM "
                   "(the SMS round trip); the latency excludes that wait.")
        out.append("")
        out.append("| chips | max in flight (sessions open) | personalizations/s | personalization p50 / p90 / p99 / max (ms) | packet round trip p50 / p99 / max (ms) | errors |")
        out.append("|---|---|---|---|---|---|")
        out.append(f"| {r['personalized']:,} | {r['max_in_flight']:,} ({r['max_sessions_open']:,}) | "
                   f"{fmt(r['personalizations_per_second'])} | "
                   f"{lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} | "
                   f"{rt['p50']:.1f} / {rt['p99']:.1f} / {rt['max']:.1f} | {errors(r)} |")
        out.append("")
        targets.append(f"- p99 with {r['max_in_flight']:,} chips in flight ({r['max_sessions_open']:,} sessions open): {lat['p99']:.1f} ms (target < 100 ms): "
                       + ("**met**" if lat["p99"] < 100 else "**missed**"))
    r = sc("open-sessions")
    if r and "kmsd" in r:
        k = r["kmsd"]
        out.append("### Memory with many sessions open (ffdhe2048)")
        out.append("")
        out.append(f"Chips start at {fmt(r['rate'])}/s and each holds its session {r['think_ms'] / 1000:.0f} s "
                   "before CONFIRM; kmsd's RSS is sampled every 100 ms from /proc.")
        out.append("")
        out.append("| sessions open (max) | personalized | kmsd RSS at start | peak (sampled) | growth per open session | errors |")
        out.append("|---|---|---|---|---|---|")
        per = (k["rss_mb_peak_sampled"] - k["rss_mb_start"]) * 1024 / max(r["max_sessions_open"], 1)
        out.append(f"| {r['max_sessions_open']:,} | {r['personalized']:,} | {k['rss_mb_start']:.0f} MB | "
                   f"{k['rss_mb_peak_sampled']:.0f} MB | {per:.1f} KB | {errors(r)} |")
        out.append("")
        targets.append(f"- RSS with {r['max_sessions_open']:,} sessions open: {k['rss_mb_peak_sampled']:.0f} MB "
                       "(target < 300 MB): " + ("**met**" if k["rss_mb_peak_sampled"] < 300 else "**missed**"))
    rekeys = [(g, sc(f"rekey-{g}")) for g in ("ffdhe2048", "p256", "ffdhe3072")]
    rekeys = [(g, r) for g, r in rekeys if r and "rekey" in r]
    if rekeys:
        out.append("### Re-keys: re-keys/s against the raw limits of the same run")
        out.append("")
        out.append("Chips of their own: first calls, then the operator's re-key requests (POST /v1/subscribers/{imsi}/rekey, "
                   "plain HTTP on loopback, timed apart), then every chip re-keys under its Ki_2, 64 in flight, "
                   "no think time. Bound: the same in-token key pair + derive as for first calls.")
        out.append("")
        out.append("| group | chips | re-keys/s | in-token DH bound | ratio | first calls/s (same run) | re-key p50 / p90 / p99 / max (ms) | kmsd CPU (cores) | kmsd RSS peak | re-key requests/s | errors |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for group, r in rekeys:
            k = r["rekey"]
            rate = k["rekeys_per_second"]
            bound = limits.get(f"dh-{group}-token", 0)
            lat = k["latency_ms"]
            km = k.get("kmsd", {})
            errs = {**{f"request {e}": v for e, v in k["requests"]["errors"].items()}, **k["errors"]}
            out.append(f"| {group} | {k['rekeys']:,} of {k['requests']['requested']:,} | {fmt(rate)} | {fmt(bound)} | "
                       f"{rate / bound if bound else 0:.0%} | {fmt(r['personalizations_per_second'])} | "
                       f"{lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} | "
                       f"{km.get('cpu_cores', 0):.2f} | {km.get('rss_mb_peak_sampled', 0):.0f} MB | "
                       f"{fmt(k['requests']['requests_per_second'])} | "
                       f"{', '.join(f'{e} {v}' for e, v in errs.items()) or 'none'} |")
        out.append("")
    p = os.path.join(results, "contracts_per_second")
    if os.path.exists(p):
        with open(p) as f:
            out.append(f"Contracts over the operator API (plain HTTP on loopback, one keep-alive client): "
                       f"{fmt(float(f.read().strip()))}/s.")
        out.append("")
    auc_rows, auc_target = auc_table(results)
    out.extend(auc_rows)
    charts = auc_charts(results, section, chart_dir)
    if charts:
        out.extend(sum(([line, ""] for line in charts), []))
    out.append("### Raw limits of the same run (token-bench)")
    out.append("")
    out.append(f"{tb['threads']} threads, each on its own logged-in session, {tb['seconds']:.0f} s per line.")
    out.append("")
    out.append("| benchmark | rate | what |")
    out.append("|---|---|---|")
    for row in tb["results"]:
        out.append(f"| {row['name']} | {fmt(row['per_second'])} {row['unit']} | {row['what']} |")
    out.append("")
    out.append("### Targets")
    out.append("")
    out.extend(targets)
    out.append(auc_target)
    out.append("- Scale (1,000,000 subscribers): a run of its own, scripts/bench-scale.sh (section \"Scale\")")
    return "\n".join(out) + "\n"


def main():
    results = sys.argv[1]
    if len(sys.argv) == 4 and sys.argv[2] == "--only":
        sys.stdout.write(GENERATORS[sys.argv[3]](results))
        return
    if len(sys.argv) == 5 and sys.argv[4] == "rpc-hop":  # with its charts, beside the doc
        text = rpc_hop_table(results, os.path.join(os.path.dirname(os.path.abspath(sys.argv[3])), "perf"))
    elif len(sys.argv) == 5 and sys.argv[4] in GENERATORS:
        text = GENERATORS[sys.argv[4]](results)
    elif len(sys.argv) == 5 and sys.argv[2] == "--into":  # scripts/bench.sh's section, its charts beside the doc
        text = report(results, sys.argv[4], os.path.join(os.path.dirname(os.path.abspath(sys.argv[3])), "perf"))
    else:
        text = report(results)
    if len(sys.argv) == 5 and sys.argv[2] == "--into":
        BEGIN, END = markers(sys.argv[4])
        with open(sys.argv[3]) as f:
            doc = f.read()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"{sys.argv[3]} has no generated section {sys.argv[4]}")
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(sys.argv[3], "w") as f:
            f.write(head + BEGIN + "\n" + text + END + tail)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
