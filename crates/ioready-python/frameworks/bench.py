"""HTTP frameworks on each loop under wrk, interleaved (run by bench.sh).

For every repetition, app (uvicorn serving apps/hello_asgi.py; aiohttp
serving apps/aiohttp_hello.py), connection count and loop in turn: a fresh
server on that loop, wrk on 127.0.0.1 (one thread, keep-alive, GET / with a
1 KiB response), server and wrk pinned to the same core; records requests/s,
p99 (wrk --latency) and the server's CPU (utime+stime from /proc, over wrk's
run) per request. Medians over the repetitions, ratios to the baseline loop.
"""

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rpartition(")")[2].split()
    return int(rest[11]) + int(rest[12])


def split_spec(spec):
    """'module:callable@ENGINE' -> ('module:callable', 'ENGINE' or None): the
    server runs with IOREADY_BACKEND=ENGINE (ioready's readiness transports
    beside its default io_uring engine)."""
    factory, _, engine = spec.partition("@")
    return factory, engine or None


def short(spec):
    """The name a loop is reported under: its module, plus @ENGINE."""
    factory, engine = split_spec(spec)
    name = factory.partition(":")[0]
    return f"{name}@{engine}" if engine else name


def server_cmd(a, app, spec):
    spec, _ = split_spec(spec)
    if app == "uvicorn":
        return [a.uvicorn_python, "-m", "uvicorn", "hello_asgi:app", "--loop", spec, "--host", "127.0.0.1",
                "--port", "0", "--no-access-log", "--log-level", "info", "--backlog", "4096"]
    return [a.aiohttp_python, "aiohttp_hello.py", "--loop", spec, "--port", "0"]


def start(a, app, spec, tmp):
    log = open(Path(tmp) / "server.out", "w+")
    env = dict(os.environ)
    engine = split_spec(spec)[1]
    if engine:
        env["IOREADY_BACKEND"] = engine
    proc = subprocess.Popen(a.pin + server_cmd(a, app, spec), stdout=log, stderr=subprocess.STDOUT, cwd=APPS,
                            env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read()
        m = re.search(r"(?:listening on |running on http://)(127\.0\.0\.1:\d+)", text)
        if m:
            # The loop really running (printed at startup by both apps) must
            # be the one asked for, else the comparison compares nothing.
            cls = re.search(r"running loop (\S+)", text)
            if cls is None or a.expect[spec] not in cls.group(1):
                stop(proc, log)
                raise RuntimeError(f"{app} --loop {spec}: running loop {cls and cls.group(1)}, "
                                   f"expected one with {a.expect[spec]!r}")
            return proc, log, m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop(proc, log)
    raise RuntimeError(f"{app} on {spec} did not start:\n{text}")


def stop(proc, log):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


def to_us(v, unit):
    return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def parse_wrk(text):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = to_us(*m.groups()) if m else float("nan")
    total = int(re.search(r"(\d+) requests in", text).group(1))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = (sum(int(x) for x in errs.groups()) if errs else 0) + (int(non2xx.group(1)) if non2xx else 0)
    return rps, p99, total, errors


def point(a, app, spec, conns, rep, tmp):
    proc, log, addr = start(a, app, spec, tmp)
    try:
        url = f"http://{addr}/"
        if a.warmup > 0:
            subprocess.run(a.pin + ["wrk", "-t1", f"-c{conns}", f"-d{a.warmup}s", url], capture_output=True)
        before = cpu_ticks(proc.pid)
        r = subprocess.run(a.pin + ["wrk", "-t1", f"-c{conns}", f"-d{a.duration}s", "--latency", url],
                           capture_output=True, text=True)
        after = cpu_ticks(proc.pid)
    finally:
        stop(proc, log)
    rec = {"app": app, "loop": short(spec), "spec": spec, "connections": conns, "rep": rep}
    try:
        rps, p99, total, errors = parse_wrk(r.stdout)
        rec.update(rps=rps, p99_us=p99, requests=total, errors=errors,
                   cpu_us_per_req=1e6 * (after - before) / os.sysconf("SC_CLK_TCK") / max(total, 1))
    except (AttributeError, ValueError):
        rec["error"] = (r.stdout + r.stderr)[-1000:]
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvicorn-python", required=True)
    ap.add_argument("--aiohttp-python", required=True)
    ap.add_argument("--loops", required=True)
    ap.add_argument("--baseline", default="uvloop:new_event_loop")
    ap.add_argument("--apps", default="uvicorn aiohttp")
    ap.add_argument("--conns", default="64 256")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--pin", default="taskset -c 1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--command", default="crates/ioready-python/frameworks/bench.sh")
    a = ap.parse_args()
    a.pin = a.pin.split()
    loops = a.loops.split()
    names = [short(s) for s in loops]
    # What the running loop's description must contain (apps/*: describe).
    a.expect = {s: {"asyncio": "SelectorEventLoop/selectors.", "uvloop": "uvloop.",
                    "rloop": "rloop.", "ioready_select": "/ioready_select", "ioready": "ioready"}.get(s.partition(":")[0], "")
                for s in loops}
    for s in loops:
        engine = split_spec(s)[1]
        if engine:
            a.expect[s] = "@" + engine
    base = a.baseline.partition(":")[0]
    if base not in names:
        base = names[0]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ioready-fw-bench-")
    recs = []
    # What else the machine was doing, said in the report rather than assumed.
    load_before = os.getloadavg()[0]
    with open(out / "raw.jsonl", "w") as raw:
        for rep in range(1, a.reps + 1):
            for app in a.apps.split():
                for c in [int(x) for x in a.conns.split()]:
                    for spec in loops:
                        try:
                            rec = point(a, app, spec, c, rep, tmp)
                        except RuntimeError as e:
                            rec = {"app": app, "loop": short(spec), "spec": spec,
                                   "connections": c, "rep": rep, "error": str(e)[-1000:]}
                        recs.append(rec)
                        raw.write(json.dumps(rec) + "\n")
                        raw.flush()
                        print(f"rep {rep} {app:8} {c:4} conns {rec['loop']:15} "
                              f"{rec.get('rps', 0):>10,.0f} req/s p99 {rec.get('p99_us', 0):>9,.0f} us "
                              f"{rec.get('error', '')[:200]}", file=sys.stderr, flush=True)
    lines = ["| app | conns | metric | " + " | ".join(names) + " |", "|---|---:|---|" + "---:|" * len(names)]
    for app in a.apps.split():
        for c in [int(x) for x in a.conns.split()]:
            for metric, label, fmt in (("rps", "requests/s", "{:,.0f}"), ("p99_us", "p99 µs", "{:,.0f}"),
                                       ("cpu_us_per_req", "server CPU µs/request", "{:.1f}")):
                med = {}
                for n in names:
                    v = [r[metric] for r in recs if r["app"] == app and r["connections"] == c
                         and r["loop"] == n and metric in r]
                    med[n] = statistics.median(v) if v else float("nan")
                cells = []
                for n in names:
                    v = med[n]
                    bad = sum(1 for r in recs if r["app"] == app and r["connections"] == c and r["loop"] == n
                              and (r.get("error") or r.get("errors")))
                    cell = "–" if v != v else fmt.format(v)
                    if v == v and med[base] == med[base] and med[base]:
                        cell += f" ({v / med[base]:.2f}×)"
                    if bad:
                        cell += f" ⚠{bad}"
                    cells.append(cell)
                lines.append(f"| {app} | {c} | {label} | " + " | ".join(cells) + " |")
    versions = subprocess.run([a.uvicorn_python, "-c", (
        "import importlib.metadata as m\n"
        "for d in ('uvicorn','httptools','uvloop','rloop','ioready-select','ioready'):\n"
        "  try: print(d, m.version(d))\n"
        "  except m.PackageNotFoundError: pass")], capture_output=True, text=True).stdout.split("\n")
    av = subprocess.run([a.aiohttp_python, "-c", "import aiohttp; print('aiohttp', aiohttp.__version__)"],
                        capture_output=True, text=True).stdout.strip()
    doc = ["# HTTP frameworks on each loop (wrk)\n",
           "Reproduce with:\n\n```sh\n" + a.command + "\n```\n",
           f"Machine: {os.cpu_count()} CPUs, Linux {platform.release()}; load average (1 min) "
           f"{load_before:.1f} when the run began, {os.getloadavg()[0]:.1f} when it ended (on shared cores "
           "figures wobble 10–25 %: compare ratios within the run). Python "
           f"{platform.python_version()}; " + ", ".join(v for v in versions + [av] if v) + ". "
           f"wrk 1 thread, keep-alive, GET / → 200 with a 1 KiB body; server and wrk both pinned "
           f"(`{' '.join(a.pin) or 'none'}`); {a.reps} repetitions interleaved (loops alternated per point), "
           f"{a.warmup} s warm-up + {a.duration} s measured, a fresh server per point; medians, ratio to "
           f"{base}. uvicorn runs as `python -m uvicorn hello_asgi:app --loop <module:callable>` "
           "(httptools parser, no access log); aiohttp as apps/aiohttp_hello.py (AppRunner, no access log). "
           "⚠n: n runs with wrk socket errors or non-2xx answers.\n",
           "\n".join(lines), ""]
    Path(a.doc).write_text("\n".join(doc) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
