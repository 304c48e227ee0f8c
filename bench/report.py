#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Report of bench/run.sh: table, issue 5 targets, CSV and PNG chart.

usage: report.py --out DIR [--wall SECONDS] NAME=FILE [NAME=FILE...]

Each FILE holds the console lines of one kvm-prefault-bench run; the first
NAME is ours, the others are the kernels we compare with.  Writes
DIR/results.csv, DIR/results.txt (what is printed) and DIR/results.png.
Exit status 0 when every target passed, 1 when one failed or could not be
evaluated.
"""
import argparse
import csv
import os
import subprocess
import sys

FIELDS = ["kernel", "backing", "size_mib", "mode", "pass", "vcpus",
          "populate_s", "prefault_s", "prefault_gibs", "pass_s", "total_s",
          "faults", "pages_4k", "pages_2m", "samples", "total_min_s",
          "total_max_s", "status"]
MODES = ["none", "read", "write", "populate+read"]
PASSES = ["read", "write"]
BACKING_TITLE = {"4k": "4 KiB pages", "thp": "THP (2 MiB)"}
MIB = 1 << 20


def num(v):
    if v in ("-", "", None):
        return None
    try:
        return float(v)
    except ValueError:
        return None


def load(path):
    rows, info = {}, ""
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("BENCHINFO,"):
                info = line.split(",", 1)[1]
            if not line.startswith("BENCH,"):
                continue
            parts = line.split(",")[1:]
            if len(parts) != len(FIELDS):
                print(f"report: ignoring a garbled line in {path}: {line}",
                      file=sys.stderr)
                continue
            r = dict(zip(FIELDS, parts))
            key = (r["backing"], int(r["size_mib"]), r["mode"], r["pass"],
                   int(r["vcpus"]))
            rows[key] = r
    return rows, info


def val(rows, key, field):
    r = rows.get(key)
    if not r or r["status"] != "ok":
        return None
    return num(r[field])


def prep_s(r):
    """Seconds the VMM spends before the guest runs: populate + pre-fault."""
    if not r or r["status"] != "ok":
        return None
    return (num(r["populate_s"]) or 0.0) + (num(r["prefault_s"]) or 0.0)


def fmt(v, spec=".3f", na="-"):
    return na if v is None else format(v, spec)


def ratio(up, ours):
    if up is None or ours is None or ours <= 0:
        return "-"
    return f"{up / ours:.2f}x"


def status_or(r, text):
    if r is None:
        return "missing"
    if r["status"] != "ok":
        return r["status"]
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--wall", type=int, default=None)
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()

    runs = []
    for spec in args.runs:
        name, path = spec.split("=", 1)
        rows, info = load(path)
        runs.append((name, rows, info))
    ours_name, ours, _ = runs[0]
    others = runs[1:]

    out_lines = []

    def p(s=""):
        out_lines.append(s)
        print(s)

    # ---- CSV ------------------------------------------------------------
    csv_path = os.path.join(args.out, "results.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run"] + FIELDS)
        for name, rows, _ in runs:
            for key in sorted(rows, key=order_key):
                w.writerow([name] + [rows[key][k] for k in FIELDS])

    sizes = sorted({k[1] for _, rows, _ in runs for k in rows})
    backings = [b for b in ("4k", "thp")
                if any(k[0] == b for _, rows, _ in runs for k in rows)]

    p("kvm-prefault benchmark (QEMU TCG, nested SVM/NPT; times are emulated:")
    p("read the ratios, measured in one run, and the fault counts)")
    for name, _, info in runs:
        p(f"  {name:10s} {info or '(no BENCHINFO line)'}")
    for n in args.note:
        p(f"  note: {n}")
    p()
    p("prep = what the VMM does before the guest runs (populate + pre-fault), s;")
    p("GiB/s = KVM_PRE_FAULT_MEMORY throughput; pass = guest's first pass, s;")
    p("faults = stage-2 faults in that pass (+1: the guest's code page);")
    p("4k/2m = KVM mappings at the end; speed-up = other's total / ours.")
    p("pass none = pre-fault only.  Each row: the median of up to 5 fresh VMs")
    p("(fewer once their times add up to 4 s; the CSV's samples column).")

    # ---- main table -----------------------------------------------------
    for b in backings:
        for s in sizes:
            p()
            p(f"== {BACKING_TITLE[b]}, {s} MiB ==")
            hdr = f"{'pre-fault':14s} {'pass':5s} {'vCPU':>4s} | {ours_name + ':':9s}" \
                  f"{'prep':>8s} {'GiB/s':>7s} {'pass':>8s} {'total':>8s} {'faults':>7s} {'4k/2m':>13s}"
            for name, _, _ in others:
                hdr += f" | {name + ':':10s}{'prep':>8s} {'pass':>8s} {'total':>8s} {'faults':>7s} {'4k/2m':>13s} {'speed-up':>8s}"
            p(hdr)
            p("-" * len(hdr))
            for m, ps, v in table_keys():
                key = (b, s, m, ps, v)
                if key not in ours and not any(key in o[1] for o in others):
                    continue
                line = f"{m:14s} {ps:5s} {v:4d} | {'':9s}" + cells(ours.get(key), gibs=True)
                for _, rows, _ in others:
                    r = rows.get(key)
                    line += f" | {'':10s}" + cells(r, gibs=False)
                    line += f" {ratio(val(rows, key, 'total_s'), val(ours, key, 'total_s')):>8s}"
                p(line)

    # ---- headline: write pre-fault against what upstream offers ----------
    for name, rows, _ in others:
        p()
        p(f"== the guest's first write pass: ours with write intent against {name} ==")
        p("   total s = populate + pre-fault + pass (stage-2 faults in the pass);")
        p("   x = that total / ours (above 1: ours is faster)")
        hdr = f"{'backing':7s} {'MiB':>5s} | {'ours write':>17s} | " + " | ".join(
            f"{name + ' ' + m:>26s}" for m in ("none", "read", "populate+read"))
        p(hdr)
        p("-" * len(hdr))
        for b in backings:
            for s in sizes:
                ok = (b, s, "write", "write", 1)
                t_ours = val(ours, ok, "total_s")
                if t_ours is None and not any((b, s, m, "write", 1) in rows
                                              for m in MODES):
                    continue
                line = f"{b:7s} {s:5d} | {fmt(t_ours, '.4f'):>8s} {'(' + fmt(val(ours, ok, 'faults'), '.0f') + ')':>8s} |"
                cells_ = []
                for m in ("none", "read", "populate+read"):
                    k = (b, s, m, "write", 1)
                    t = val(rows, k, "total_s")
                    if t is None:
                        r = rows.get(k)
                        cells_.append(f"{(r['status'] if r else '-'):>26s}")
                        continue
                    f = val(rows, k, "faults")
                    cells_.append(f"{t:8.4f} {'(' + fmt(f, '.0f') + ')':>9s} {ratio(t, t_ours):>7s}")
                p(line + " " + " | ".join(cells_))

    # ---- targets ----------------------------------------------------------
    p()
    p("== issue 5 targets (256 MiB, ours) ==")
    results = targets(ours, others[0][1] if others else None,
                      others[0][0] if others else "upstream")
    for ok, text in results:
        p(f"{'PASS' if ok else 'FAIL'}: {text}")
    if args.wall is not None:
        p()
        p(f"wall time: {args.wall} s ({args.wall // 60} min {args.wall % 60} s)")

    with open(os.path.join(args.out, "results.txt"), "w") as f:
        f.write("\n".join(out_lines) + "\n")

    chart(args.out, runs, sizes, backings)
    print(f"\nresults: {csv_path}, {os.path.join(args.out, 'results.txt')}, "
          f"{os.path.join(args.out, 'results.png')}")
    return 0 if all(ok for ok, _ in results) else 1


def table_keys():
    for ps in PASSES:
        for m in MODES:
            yield m, ps, 1
    yield "populate+read", "none", 1
    for m in ("read", "write"):
        for v in (1, 2):
            yield m, "none", v


def order_key(k):
    b, s, m, ps, v = k
    return (b, s, ["read", "write", "none"].index(ps) if ps in ("read", "write", "none") else 9,
            MODES.index(m) if m in MODES else 9, v)


def cells(r, gibs):
    width = 56 if gibs else 48
    if r is None or r["status"] != "ok":
        return f"{(r['status'] if r else 'missing'):>8s}".ljust(width)
    prep = prep_s(r) if r["mode"] != "none" else None
    s = f"{fmt(prep, '.4f'):>8s} "
    if gibs:
        s += f"{fmt(num(r['prefault_gibs']), '.2f'):>7s} "
    s += f"{fmt(num(r['pass_s']), '.4f'):>8s} {fmt(num(r['total_s']), '.4f'):>8s} " \
         f"{r['faults']:>7s} {r['pages_4k'] + '/' + r['pages_2m']:>13s}"
    return s


def prefault_only(rows, b, s, mode):
    """Populate + pre-fault seconds of the repeated pre-fault-only row
    (the median sample), and how many samples it had."""
    if rows is None:
        return None, 0
    r = rows.get((b, s, mode, "none", 1))
    return prep_s(r), (int(r["samples"]) if r and r["samples"].isdigit() else 0)


def spread(rows, key, scale=1.0):
    """(fastest, slowest) sample total of a row, times scale."""
    lo, hi = val(rows, key, "total_min_s"), val(rows, key, "total_max_s")
    if lo is None or hi is None:
        return None
    return lo * scale, hi * scale


def noise(a, b):
    """Text comparing the sample ranges of two sides of a target."""
    if a is None or b is None:
        return ""
    txt = f"; samples {a[0]:.4f}..{a[1]:.4f} vs {b[0]:.4f}..{b[1]:.4f}"
    if a[0] <= b[1] and b[0] <= a[1]:
        txt += ": the ranges overlap, within noise"
    return txt


def targets(ours, up, up_name):
    S = 256
    res = []

    def add(cond, text):
        res.append((bool(cond), text))

    for b in ("4k", "thp"):
        f = val(ours, (b, S, "write", "write", 1), "faults")
        add(f is not None and f <= 1,
            f"{b}: write pre-fault, then the first write pass takes <= 1 stage-2 fault: {fmt(f, '.0f')}")

    pf = val(ours, ("4k", S, "write", "write", 1), "prefault_s")
    ps = val(ours, ("4k", S, "write", "write", 1), "pass_s")
    none = val(ours, ("4k", S, "none", "write", 1), "pass_s")
    ok = None not in (pf, ps, none) and pf + ps <= 0.5 * none
    add(ok, f"4k: write pre-fault + first write pass <= half the write pass without pre-fault: "
            f"{fmt(pf, '.4f')} + {fmt(ps, '.4f')} s vs {fmt(none, '.4f')} s"
            + (f" ({(pf + ps) / none:.2f} of it)" if None not in (pf, ps, none) and none > 0 else "")
            + noise(spread(ours, ("4k", S, "write", "write", 1)),
                    spread(ours, ("4k", S, "none", "write", 1), 0.5)))

    for b in ("4k", "thp"):
        w, nw = prefault_only(ours, b, S, "write")
        pr, npr = prefault_only(ours, b, S, "populate+read")
        add(w is not None and pr is not None and w <= pr,
            f"{b}: write pre-fault <= MADV_POPULATE_WRITE + read pre-fault (medians of {nw} and {npr}): "
            f"{fmt(w, '.4f')} s vs {fmt(pr, '.4f')} s"
            + noise(spread(ours, (b, S, "write", "none", 1)),
                    spread(ours, (b, S, "populate+read", "none", 1))))

    pf = val(ours, ("thp", S, "write", "write", 1), "prefault_s")
    ps = val(ours, ("thp", S, "write", "write", 1), "pass_s")
    none = val(ours, ("thp", S, "none", "write", 1), "pass_s")
    ok = None not in (pf, ps, none) and pf + ps <= none
    add(ok, f"thp: write pre-fault + first write pass <= the write pass without pre-fault (after warm-up): "
            f"{fmt(pf, '.4f')} + {fmt(ps, '.4f')} s vs {fmt(none, '.4f')} s"
            + noise(spread(ours, ("thp", S, "write", "write", 1)),
                    spread(ours, ("thp", S, "none", "write", 1))))

    want = S * MIB // (2 * MIB)
    m2 = val(ours, ("thp", S, "write", "none", 1), "pages_2m")
    m4 = val(ours, ("thp", S, "write", "none", 1), "pages_4k")
    m2p = val(ours, ("thp", S, "write", "write", 1), "pages_2m")
    add(m2 == want and m2p == want and m4 == 0,
        f"thp: write pre-fault maps the range with 2 MiB pages: {fmt(m2, '.0f')} x 2 MiB and "
        f"{fmt(m4, '.0f')} x 4 KiB after the pre-fault, {fmt(m2p, '.0f')} x 2 MiB after the pass "
        f"(want {want}, 0, {want})")

    for b in ("4k", "thp"):
        mine, nm = prefault_only(ours, b, S, "read")
        theirs, nt = prefault_only(up, b, S, "read")
        ok = mine is not None and theirs is not None and mine <= theirs
        add(ok, f"{b}: read pre-fault throughput >= {up_name}'s (medians of {nm} and {nt}): "
                f"{fmt(S / 1024 / mine if mine else None, '.2f')} vs "
                f"{fmt(S / 1024 / theirs if theirs else None, '.2f')} GiB/s"
                + noise(spread(ours, (b, S, "read", "none", 1)),
                        spread(up, (b, S, "read", "none", 1)) if up else None))
    return res


def chart(out, runs, sizes, backings):
    """results.png: 2x2 panels drawn by gnuplot."""
    names = [n for n, _, _ in runs]
    nan = "NaN"
    d = os.path.join(out, "chart")
    os.makedirs(d, exist_ok=True)

    def cell(v):
        return nan if v is None or v <= 0 else repr(v)

    # (a), (b): prep + first write pass, per size and mode.
    for b in backings:
        with open(os.path.join(d, f"write-{b}.dat"), "w") as f:
            for s in sizes:
                for m in MODES:
                    vals = [val(rows, (b, s, m, "write", 1), "total_s") for _, rows, _ in runs]
                    f.write(f'"{s}M {m}" ' + " ".join(cell(v) for v in vals) + "\n")
    # (c): faults in the first write pass, smallest size.
    s0 = sizes[0]
    with open(os.path.join(d, "faults.dat"), "w") as f:
        for b in backings:
            for m in MODES:
                vals = [val(rows, (b, s0, m, "write", 1), "faults") for _, rows, _ in runs]
                f.write(f'"{b} {m}" ' + " ".join(cell(v) for v in vals) + "\n")
    # (d): pre-fault throughput at the largest size every run measured.
    common = [s for s in sizes if all(any(k[1] == s and r["status"] == "ok"
                                          for k, r in rows.items()) for _, rows, _ in runs)]
    s1 = common[-1] if common else sizes[-1]
    with open(os.path.join(d, "gibs.dat"), "w") as f:
        for b in backings:
            for m in ("read", "write"):
                for v in (1, 2):
                    vals = [val(rows, (b, s1, m, "none", v), "prefault_gibs") for _, rows, _ in runs]
                    f.write(f'"{b} {m} x{v}" ' + " ".join(cell(x) for x in vals) + "\n")

    cols = len(names)
    colors = ["#1b7837", "#b2182b", "#2166ac", "#e08214"]

    def plot(dat, title, ylabel, ymin="*"):
        s = [f'set title "{title}"', f'set ylabel "{ylabel}"']
        s.append("set logscale y")
        s.append(f"set yrange [{ymin}:*]")
        parts = []
        for i in range(cols):
            parts.append(f'"{dat}" using {i + 2}:xtic(1) title "{names[i]}" lc rgb "{colors[i % 4]}"')
        s.append("plot " + ", \\\n     ".join(parts))
        return "\n".join(s)

    gp = [
        "set terminal pngcairo noenhanced size 1800,1200 font 'DejaVu Sans,11'",
        f"set output '{os.path.join(out, 'results.png')}'",
        "set datafile missing 'NaN'",
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set key outside right top vertical",
        "set grid ytics",
        "set xtics rotate by -40 font ',9'",
        "set bmargin 6",
        "set multiplot layout 2,2 title 'kvm-prefault: write-intent pre-fault vs upstream KVM (QEMU TCG: emulated times, ratios matter)'",
    ]
    for b in backings:
        gp.append(plot(os.path.join(d, f"write-{b}.dat"),
                       f"{BACKING_TITLE[b]}: pre-fault + first guest write pass (missing bar: no write intent upstream, or skip-slow)",
                       "seconds (log)"))
    gp.append(plot(os.path.join(d, "faults.dat"),
                   f"stage-2 faults in the first guest write pass, {s0} MiB",
                   "faults (log)", ymin="0.5"))
    gp.append(plot(os.path.join(d, "gibs.dat"),
                   f"KVM_PRE_FAULT_MEMORY throughput, {s1} MiB, 1 and 2 vCPUs",
                   "GiB/s (log)"))
    gp.append("unset multiplot")
    script = os.path.join(d, "results.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"report: gnuplot failed:\n{r.stderr}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
