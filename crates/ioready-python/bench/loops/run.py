"""The loop benchmark: asyncio event loops side by side in one interleaved run.

Run through bench/loops.sh (which builds the load generator and the
benchmark venv); see its --help. For every repetition, every point
(API x connections x message size) and every loop in turn (so drift of the
machine hits all alike): a fresh echo server (echo_server.py) on that loop,
driven closed-loop by the project's Rust load generator (`ioready bench`,
every echoed byte checked), server and load generator pinned to one core;
records round trips/s, p99 and the server's CPU time (utime+stime from
/proc/PID/stat, over the whole load-generator run, warm-up and connects
included) divided by every round trip of that run. Then the
micro-benchmarks (micro.py), interleaved the same way, and system calls per
echoed message (`strace -f -c` attached to the server over a fixed number of
round trips). Medians over the repetitions; ratios to the baseline loop
(uvloop). Writes OUT/raw.jsonl, the markdown report (DOC) and, per API, a
chart of throughput against connections at 64 B (through bench-report).
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER = HERE / "echo_server.py"
MICRO = HERE / "micro.py"
APIS = ("sockets", "streams", "protocol", "buffered")


def short(spec):
    """The loop's name in the report: its module, and the engine of a
    "module:callable@ENGINE" spec (see loopspec.new_loop)."""
    module = spec.partition(":")[0]
    engine = spec.partition("@")[2]
    return f"{module}@{engine}" if engine else module


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rpartition(")")[2].split()
    # Fields 14 and 15 (utime, stime) of stat are rest[11], rest[12].
    return int(rest[11]) + int(rest[12])


class Server:
    def __init__(self, python, spec, api, pin, tmp):
        self.log = open(Path(tmp) / "server.out", "w+")
        self.proc = subprocess.Popen(
            pin + [python, str(SERVER), "--loop", spec, "--api", api],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=HERE)
        self.addr = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.log.seek(0)
            m = re.search(r"listening on (127\.0\.0\.1:\d+)", self.log.read())
            if m:
                self.addr = m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        out = self.log.read()
        self.stop()
        raise RuntimeError(f"server {spec} {api} did not start:\n{out}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def echo_point(a, spec, api, conns, size, rep, tmp):
    srv = Server(a.python, spec, api, a.pin, tmp)
    try:
        before = cpu_ticks(srv.proc.pid)
        r = subprocess.run(
            a.pin + a.loadgen + ["--addr", srv.addr, "-c", str(conns), "-s", str(size),
                                 "-d", str(a.duration), "-w", str(a.warmup), "--json", "--quiet"],
            capture_output=True, text=True)
        after = cpu_ticks(srv.proc.pid)
        with open(f"/proc/{srv.proc.pid}/status") as f:
            hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
    finally:
        srv.stop()
    rec = {"kind": "echo", "loop": short(spec), "spec": spec, "api": api, "connections": conns,
           "size": size, "rep": rep, "cpu_ticks": after - before, "clk_tck": os.sysconf("SC_CLK_TCK"),
           "peak_rss_kib": hwm, "loadgen_rc": r.returncode}
    try:
        rec["load"] = json.loads(r.stdout)
    except json.JSONDecodeError:
        rec["load"] = None
        rec["loadgen_stderr"] = r.stderr[-2000:]
    return rec


def micro_point(a, spec, bench, n, rep):
    r = subprocess.run(a.pin + [a.python, str(MICRO), "--loop", spec, "--bench", bench, "--n", str(n)],
                       capture_output=True, text=True, cwd=HERE, timeout=600)
    rec = {"kind": "micro", "loop": short(spec), "spec": spec, "bench": bench, "n": n, "rep": rep}
    if r.returncode == 0:
        res = json.loads(r.stdout.strip().splitlines()[-1])
        rec.update(seconds=res["seconds"], ops_per_s=res["ops_per_s"])
    else:
        rec["error"] = (r.stderr or r.stdout)[-2000:]
    return rec


def strace_point(a, spec, api, conns, size, n, tmp):
    srv = Server(a.python, spec, api, [], tmp)
    out = Path(tmp) / "strace.txt"
    try:
        tids = os.listdir(f"/proc/{srv.proc.pid}/task")
        args = ["strace", "-f", "-c", "-o", str(out)]
        for t in tids:
            args += ["-p", t]
        st = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let strace attach before the work starts
        r = subprocess.run(a.loadgen + ["--addr", srv.addr, "-c", str(conns), "-s", str(size),
                                        "-n", str(n), "--json", "--quiet"],
                           capture_output=True, text=True)
        time.sleep(0.3)
        st.send_signal(signal.SIGINT)
        st.wait(30)
    finally:
        srv.stop()
    text = out.read_text() if out.exists() else ""
    calls = {}
    total = None
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[3].isdigit():
            if f[-1] == "total":
                total = int(f[3])
            else:
                calls[f[-1]] = int(f[3])
    load = json.loads(r.stdout) if r.stdout.strip() else None
    msgs = conns * n
    return {"kind": "strace", "loop": short(spec), "spec": spec, "api": api, "connections": conns,
            "size": size, "round_trips": msgs, "total_calls": total, "calls": calls,
            "errors": None if load is None else load["errors"]["total"]}


def median(v):
    return statistics.median(v) if v else float("nan")


def fmt_int(v):
    return "–" if v != v else f"{v:,.0f}"


def ratio(v, base):
    if v != v or base != base or not base:
        return ""
    return f" ({v / base:.2f}×)"


def size_name(s):
    return f"{s // 1024} KiB" if s >= 1024 and s % 1024 == 0 else f"{s} B"


def report(a, recs, loops):
    names = [short(s) for s in loops]
    base = short(a.baseline)
    lines = []
    echo = [r for r in recs if r["kind"] == "echo"]
    if echo:
        lines.append("### Echo: round trips/s (median; ratio to %s)\n" % base)
        agg = {}
        errs = {}
        for r in echo:
            k = (r["api"], r["connections"], r["size"], r["loop"])
            ld = r["load"]
            if ld is None:
                errs[k] = errs.get(k, 0) + 1
                continue
            e = ld["errors"]["total"]
            if e:
                errs[k] = errs.get(k, 0) + e
            cpu = r["cpu_ticks"] / r["clk_tck"]
            agg.setdefault(k, []).append((ld["round_trips_per_s"], ld["latency_us"]["p99"],
                                          1e6 * cpu / max(ld["all_round_trips"], 1)))
        keys = sorted({(r["api"], r["connections"], r["size"]) for r in echo},
                      key=lambda k: (APIS.index(k[0]), k[1], k[2]))
        head = "| API | conns | size | " + " | ".join(names) + " |\n|---|---:|---:|" + "---:|" * len(names)
        lines.append(head)
        cpu_rows = []
        for api, c, s in keys:
            rt = {n: median([x[0] for x in agg.get((api, c, s, n), [])]) for n in names}
            cp = {n: median([x[2] for x in agg.get((api, c, s, n), [])]) for n in names}
            cells = []
            for n in names:
                mark = f" ⚠{errs[(api, c, s, n)]} err" if (api, c, s, n) in errs else ""
                cells.append(fmt_int(rt[n]) + ratio(rt[n], rt.get(base, float("nan"))) + mark)
            lines.append(f"| {api} | {c:,} | {size_name(s)} | " + " | ".join(cells) + " |")
            cpu_rows.append(f"| {api} | {c:,} | {size_name(s)} | " + " | ".join(
                ("–" if cp[n] != cp[n] else f"{cp[n]:.1f}") + ratio(cp[n], cp.get(base, float("nan")))
                for n in names) + " |")
        lines.append("\n### Echo: server CPU per round trip, µs (median; ratio to %s; lower is better)\n" % base)
        lines.append(head)
        lines += cpu_rows
        if errs:
            lines.append("\n⚠: errors counted by the load generator (failed connects, closed "
                         "connections, wrong bytes) or a failed run, summed over repetitions.")
    micro = [r for r in recs if r["kind"] == "micro"]
    if micro:
        lines.append("\n### Micro-benchmarks: operations/s (median; ratio to %s)\n" % base)
        lines.append("| benchmark | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
        for b in sorted({r["bench"] for r in micro}):
            vals = {n: median([r["ops_per_s"] for r in micro
                               if r["bench"] == b and r["loop"] == n and "ops_per_s" in r]) for n in names}
            failed = {n for n in names if any(r["bench"] == b and r["loop"] == n and "error" in r for r in micro)}
            lines.append(f"| {b} | " + " | ".join(
                fmt_int(vals[n]) + ratio(vals[n], vals.get(base, float("nan"))) + (" ⚠failed" if n in failed else "")
                for n in names) + " |")
    st = [r for r in recs if r["kind"] == "strace"]
    if st:
        r0 = st[0]
        lines.append(f"\n### System calls per echoed message (`strace -f -c` attached to the server; "
                     f"{r0['api']} API, {r0['connections']} connections × {size_name(r0['size'])}, "
                     f"{r0['round_trips']:,} round trips)\n")
        lines.append("| loop | calls / message | most frequent (calls / message) |\n|---|---:|---|")
        for r in st:
            if not r["total_calls"]:
                lines.append(f"| {r['loop']} | – | strace gave no count |")
                continue
            top = sorted(r["calls"].items(), key=lambda kv: -kv[1])[:5]
            lines.append(f"| {r['loop']} | {r['total_calls'] / r['round_trips']:.2f} | " + ", ".join(
                f"{k} {v / r['round_trips']:.2f}" for k, v in top) + " |")
    return "\n".join(lines) + "\n"


def charts(a, recs, loops, out):
    """Throughput against connections at the smallest size, one chart per
    API, drawn by bench-report from compare.sh's raw format."""
    made = []
    if not a.report_tool or not Path(a.report_tool).exists():
        return made
    echo = [r for r in recs if r["kind"] == "echo" and r["load"] is not None]
    if not echo:
        return made
    size = min(r["size"] for r in echo)
    for api in APIS:
        rows = [r for r in echo if r["api"] == api and r["size"] == size]
        if not rows:
            continue
        d = out / f"chart-{api}"
        d.mkdir(parents=True, exist_ok=True)
        raw = d / "raw.tsv"
        with open(raw, "w") as f:
            f.write("# server\tconnections\trep\tpeak_rss_kib\tcpu_ticks\tclk_tck\tjson\n")
            for spec in loops:
                for r in rows:
                    if r["spec"] == spec:
                        f.write(f"{r['loop']}\t{r['connections']}\t{r['rep']}\t{r['peak_rss_kib']}\t"
                                f"{r['cpu_ticks']}\t{r['clk_tck']}\t{json.dumps(r['load'], separators=(',', ':'))}\n")
        p = subprocess.run([a.report_tool, "compare", str(raw), str(d), str(d / "report.md"),
                            f"{api} API", "--baseline", short(a.baseline)],
                           capture_output=True, text=True)
        if p.returncode == 0:
            made.append((api, d))
        else:
            print(f"bench-report failed for {api}: {p.stderr}", file=sys.stderr)
    return made


def main():
    ap = argparse.ArgumentParser(description="asyncio loops side by side (see bench/loops.sh)")
    ap.add_argument("--python", required=True)
    ap.add_argument("--loadgen", required=True, help="the load generator command, e.g. 'target/release/ioready bench'")
    ap.add_argument("--report-tool", default="")
    ap.add_argument("--loops", required=True, help="space-separated module:callable")
    ap.add_argument("--baseline", default="uvloop:new_event_loop")
    ap.add_argument("--apis", default=" ".join(APIS))
    ap.add_argument("--conns", default="1 64 1000")
    ap.add_argument("--sizes", default="64 1024 16384")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--micro-n", type=int, default=1_000_000)
    ap.add_argument("--strace-n", type=int, default=500, help="round trips per connection under strace")
    ap.add_argument("--only", default="echo micro strace")
    ap.add_argument("--pin", default="taskset -c 1", help="prefix pinning server and load generator ('' for none)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--command", default="bench/loops.sh")
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from OUT/raw.jsonl")
    a = ap.parse_args()
    a.python = os.path.abspath(a.python)
    a.loadgen = a.loadgen.split()
    a.pin = a.pin.split()
    loops = a.loops.split()
    if short(a.baseline) not in [short(s) for s in loops]:
        a.baseline = loops[0]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / "raw.jsonl"
    recs = []
    only = a.only.split()
    tmp = tempfile.mkdtemp(prefix="ioready-loops-")
    apis, conns, sizes = a.apis.split(), [int(x) for x in a.conns.split()], [int(x) for x in a.sizes.split()]
    t0 = time.monotonic()
    if a.report_only:
        recs = [json.loads(x) for x in raw_path.read_text().splitlines() if x.strip()]
        only = []
    with open(raw_path, "a" if a.report_only else "w") as raw:
        def keep(rec):
            recs.append(rec)
            raw.write(json.dumps(rec) + "\n")
            raw.flush()
        if "echo" in only:
            total = a.reps * len(apis) * len(conns) * len(sizes) * len(loops)
            k = 0
            for rep in range(1, a.reps + 1):
                for api in apis:
                    for c in conns:
                        for s in sizes:
                            for spec in loops:
                                k += 1
                                try:
                                    rec = echo_point(a, spec, api, c, s, rep, tmp)
                                except RuntimeError as e:
                                    rec = {"kind": "echo", "loop": short(spec), "spec": spec, "api": api,
                                           "connections": c, "size": s, "rep": rep, "load": None,
                                           "loadgen_stderr": str(e)[-2000:]}
                                keep(rec)
                                ld = rec["load"]
                                rate = f"{ld['round_trips_per_s']:>12,.0f} rt/s err {ld['errors']['total']}" if ld else "FAILED"
                                print(f"[{k}/{total} {time.monotonic() - t0:6.0f}s] rep {rep} {api:8} {c:5} conns "
                                      f"{s:6} B {short(spec):15} {rate}", file=sys.stderr, flush=True)
        if "micro" in only:
            for rep in range(1, a.reps + 1):
                for bench in ("call_soon", "timer", "threadsafe"):
                    for spec in loops:
                        rec = micro_point(a, spec, bench, a.micro_n, rep)
                        keep(rec)
                        print(f"micro rep {rep} {bench:10} {short(spec):15} "
                              f"{rec.get('ops_per_s', 0):>12,.0f}/s {rec.get('error', '')[-200:]}",
                              file=sys.stderr, flush=True)
        if "strace" in only and shutil.which("strace"):
            for spec in loops:
                rec = strace_point(a, spec, "protocol", 64, 64, a.strace_n, tmp)
                keep(rec)
                print(f"strace {short(spec):15} {rec['total_calls']} calls for {rec['round_trips']} round trips",
                      file=sys.stderr, flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    body = report(a, recs, loops)
    made = charts(a, recs, loops, out)
    ncpu = os.cpu_count()
    model = ""
    try:
        model = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    except (OSError, AttributeError):
        pass
    versions = subprocess.run([a.python, "-c", (
        "import importlib.metadata as m\n"
        "for d in ('uvloop','rloop','ioready-select','ioready'):\n"
        "  try: print(d, m.version(d))\n"
        "  except m.PackageNotFoundError: pass")], capture_output=True, text=True).stdout.split("\n")
    doc = [
        "# asyncio loops side by side\n",
        "Reproduce with:\n\n```sh\n" + a.command + "\n```\n",
        f"Machine: {ncpu} CPUs ({model}), Linux {platform.release()}, shared with other builds "
        "while this ran (figures wobble 10–25 %; compare the ratios of one run). "
        f"Python {platform.python_version()}; " + ", ".join(v for v in versions if v) + ". "
        f"Pinning: `{' '.join(a.pin) or 'none'}` for server and load generator (one core: a cheaper "
        "server shows as more round trips/s). "
        f"Echo: {a.reps} repetition(s) interleaved (loops alternated per point), warm-up {a.warmup} s + "
        f"{a.duration} s measured per point, a fresh server per point, closed loop with one message "
        f"in flight per connection; load generator `{' '.join(a.loadgen)}` (Rust, checks every byte). "
        "Server CPU per round trip = the server's utime+stime (from /proc, over the whole load "
        "generator run) / every round trip of that run. "
        f"Micro-benchmarks: {a.micro_n:,} operations per run, {a.reps} runs per loop, interleaved. "
        f"Loops: {', '.join(f'`{s}`' for s in loops)}.\n",
        body,
    ]
    rel_base = Path(a.doc).resolve().parent
    for api, d in made:
        rel = os.path.relpath(d.resolve(), rel_base)
        doc.append(f"![{api}: throughput against connections]({rel}/throughput.svg)\n")
    doc.append(f"Raw results: [{os.path.relpath(raw_path.resolve(), rel_base)}]"
               f"({os.path.relpath(raw_path.resolve(), rel_base)}).\n")
    Path(a.doc).write_text("\n".join(doc))
    print(body)


if __name__ == "__main__":
    main()
