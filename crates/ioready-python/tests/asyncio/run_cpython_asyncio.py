"""CPython's own test_asyncio, side by side on stock asyncio and on a loop
factory; a test that passes on stock asyncio and not on the factory is a
failure of the run, unless exceptions.txt names it with a reason.

    python run_cpython_asyncio.py [--loop module:callable] [--quick]
        [--baseline module:callable] [--jobs N] [--test-timeout S]
        [--modules test_events,test_streams] [--report DIR]

The factory is --loop, else $IOREADY_LOOP, else ioready:new_event_loop.
The baseline is asyncio:new_event_loop (stock SelectorEventLoop).

How the factory is put under the suites (cpython_bindings.py,
loopfactory.py): the loop-parametrised classes (test_events'
EventLoopTestsMixin + SubprocessTestsMixin, test_sock_lowlevel,
test_sendfile, test_server, test_buffered_proto, test_sslproto's start_tls
tests, test_unix_events' signal and Unix-socket tests, test_base_events'
BaseEventLoopWithSelectorTests) are bound to the
factory in place of their SelectorEventLoop classes, and every other test
gets the factory's loop from asyncio.new_event_loop() through the default
policy (test_streams, test_ssl, test_subprocess, asyncio.run(),
IsolatedAsyncioTestCase...). Tests that build their own loop (TestLoop,
mock loops) run too: they are equal on both sides by construction; the
report counts how many tests made at least one loop through the factory.

Each (side, module) runs in a child process (cpython_child.py) that writes
every test's outcome as it ends. A test that runs past --test-timeout is
stopped by faulthandler (stacks dumped), a crash (segfault, abort) ends the
child: either way that test is recorded as "timeout"/"crash" with where it
was, and a new child runs the module's remaining tests. Tests that differ
are run once more, alone, on the factory; a pass then is reported as
"passed on retry" (flaky) and counted as passed.

The default runs every module of test_asyncio (about 80 s for both sides
with 2 jobs on 2 shared cores). --quick runs the modules where loops do
their work: the bound ones plus test_streams, test_ssl, test_subprocess,
test_tasks, test_runners, test_taskgroups, test_timeouts, test_waitfor,
test_threads, test_pep492, test_context, test_locks, test_queues,
test_futures, test_futures2; it leaves out test_base_events,
test_selector_events, test_proactor_events, test_windows_*,
test_transports and test_protocols, which test asyncio's own Python
classes on mock or test loops. For asyncio's debug mode, run with
PYTHONASYNCIODEBUG=1 (both sides get it).

The last line is `N passed, M failed`: N tests passed on the factory, M
passed on stock asyncio and not on the factory (and are not listed in the
exceptions file), plus one per harness problem (the factory never used).
Exit status non-zero if M > 0.
"""

import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import loopfactory  # noqa: E402

CHILD = os.path.join(HERE, "cpython_child.py")
EXCEPTIONS = os.path.join(HERE, "exceptions.txt")
PKG = "test.test_asyncio"

CI_MODULES = [
    "test_events",
    "test_sock_lowlevel",
    "test_sendfile",
    "test_server",
    "test_buffered_proto",
    "test_sslproto",
    "test_unix_events",
    "test_streams",
    "test_ssl",
    "test_subprocess",
    "test_tasks",
    "test_runners",
    "test_taskgroups",
    "test_timeouts",
    "test_waitfor",
    "test_threads",
    "test_pep492",
    "test_context",
    "test_locks",
    "test_queues",
    "test_futures",
    "test_futures2",
]

PASSING = ("pass",)
MAX_RESTARTS = 25
MAX_RETRIES = 50  # more differences than this are not flakiness: no retry pass


def all_modules():
    import test.test_asyncio as pkg

    names = sorted(
        f[:-3] for f in os.listdir(os.path.dirname(pkg.__file__)) if f.startswith("test_") and f.endswith(".py")
    )
    return names


def load_exceptions(path, spec):
    """Patterns (fnmatch) -> reason, for every spec or for this one.

    Format: `test-id-or-pattern  reason`, one a line; `#` comments;
    a line `[module:callable]` starts a section for that factory only."""
    rules = {}
    section = None
    if not os.path.exists(path):
        return rules
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            if section is not None and section != spec:
                continue
            pattern, _, reason = line.partition(" ")
            rules[pattern] = reason.strip() or "(no reason given)"
    return rules


def excepted(rules, test_id):
    for pattern, reason in rules.items():
        if fnmatch.fnmatchcase(test_id, pattern):
            return pattern, reason
    return None


_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+) in (\S+)')


def stack_summary(stderr_text):
    """Where a child was when faulthandler dumped it: the newest frame in a
    test_asyncio file and the newest frame of that thread."""
    blocks, cur = [], []
    for line in stderr_text.splitlines():
        if line.startswith(("Thread 0x", "Current thread 0x")):
            if cur:
                blocks.append(cur)
            cur = []
        m = _FRAME.match(line)
        if m:
            cur.append((os.path.basename(m.group(1)), m.group(2), m.group(3), m.group(1)))
    if cur:
        blocks.append(cur)
    for block in reversed(blocks):  # the main thread is dumped last
        in_test = [f for f in block if "test_asyncio" in f[3]]
        if in_test:
            top = block[0]
            t = in_test[0]
            where = f"{t[0]}:{t[1]} in {t[2]}"
            if top is not t:
                where += f"; {top[0]}:{top[1]} in {top[2]}"
            return where
    if blocks and blocks[-1]:
        f = blocks[-1][0]
        return f"{f[0]}:{f[1]} in {f[2]}"
    return "no stack dumped"


def cause_of(rec):
    """A failure's cause without its place and object addresses, to group
    the failures that one defect explains."""
    why = rec.get("why") or rec.get("outcome", "")
    why = re.sub(r" \[at [^\]]*\]$", "", why)
    why = re.sub(r"0x[0-9a-fA-F]+", "0x…", why)
    return f"{rec.get('outcome')}: {why}"


class Runner:
    def __init__(self, python, workdir, test_timeout, package=PKG, child_args=()):
        self.python = python
        self.package = package
        self.child_args = list(child_args)
        self.workdir = workdir
        self.test_timeout = test_timeout
        self.lock = threading.Lock()
        self.deadline = None  # monotonic time after which no child starts
        self.loop_types = {}  # spec -> the types of the loops its factory made
        self._left = []  # a command line of processes left by each child

    def qualified(self, module):
        return f"{self.package}.{module}" if self.package else module

    def list_tests(self, spec, module):
        out = subprocess.run(
            [self.python, CHILD, "--loop", spec, "--module", self.qualified(module), "--list"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"listing {module} on {spec} failed:\n{out.stderr[-2000:]}")
        return out.stdout.split()

    def run_module(self, side, spec, module, only=None, tag=""):
        """{test id: record} and [fixture errors] for one module on one side."""
        stem = f"{side}{tag}-{module}"
        out_path = os.path.join(self.workdir, stem + ".jsonl")
        err_path = os.path.join(self.workdir, stem + ".stderr")
        skip_path = os.path.join(self.workdir, stem + ".skip")
        only_path = None
        if only is not None:
            only_path = os.path.join(self.workdir, stem + ".only")
            with open(only_path, "w") as f:
                f.write("\n".join(sorted(only)) + "\n")
        for p in (out_path, err_path):
            if os.path.exists(p):
                os.unlink(p)
        records, fixtures, interrupted = {}, [], {}
        t0 = time.monotonic()
        for attempt in range(MAX_RESTARTS + 1):
            if self.deadline is not None and time.monotonic() > self.deadline:
                fixtures.append({"id": f"{module} (child)", "outcome": "error",
                                 "why": "time budget (--budget) spent: the rest of the module was not run", "tb": ""})
                break
            with open(skip_path, "w") as f:
                f.write("\n".join(sorted(set(records) | set(interrupted))) + "\n")
            cmd = [
                self.python, CHILD, "--loop", spec, "--module", self.qualified(module), *self.child_args,
                "--out", out_path, "--skip", skip_path, "--test-timeout", str(self.test_timeout),
            ]
            if only_path:
                cmd += ["--only", only_path]
            err_start = os.path.getsize(err_path) if os.path.exists(err_path) else 0
            with open(err_path, "ab") as err:
                proc = subprocess.Popen(cmd, stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=self.workdir)
                rc = self._wait(proc, out_path)
            left = self._reap_group(proc.pid)
            if left:
                fixtures.append({"id": f"{module} (child)", "outcome": "note",
                                 "why": f"{left} process(es) left running by the tests were killed: {self._left[-1]}",
                                 "tb": ""})
            started = None
            for ev in self._events(out_path):
                if ev["ev"] == "start":
                    started = ev["id"]
                elif ev["ev"] == "end":
                    records[ev["id"]] = ev
                    if started == ev["id"]:
                        started = None
                elif ev["ev"] == "loops":
                    with self.lock:
                        self.loop_types.setdefault(spec, set()).update(ev["types"])
                elif ev["ev"] == "fixture":
                    if ev not in fixtures:
                        fixtures.append(ev)
            with open(err_path, "rb") as f:
                f.seek(err_start)
                err_text = f.read().decode("utf-8", "replace")
            # (A start left without an end by an earlier attempt is already
            # in `interrupted`.)
            if started is not None and started not in records and started not in interrupted:
                if rc == "hung":
                    kind, why = "timeout", f"no progress for {self.test_timeout + 30:.0f}s, killed"
                elif isinstance(rc, int) and rc < 0:
                    kind, why = "crash", f"killed by signal {signal.Signals(-rc).name}"
                elif "Timeout (" in err_text:
                    kind, why = "timeout", f"still running after {self.test_timeout:.0f}s"
                else:
                    kind, why = "crash", f"child exited with status {rc}"
                why += f" [at {stack_summary(err_text)}]"
                interrupted[started] = {"id": started, "outcome": kind, "why": why, "tb": err_text[-4000:],
                                        "secs": None, "loops": None}
                continue
            if rc != 0:
                fixtures.append({"id": f"{module} (child)", "outcome": "error",
                                 "why": f"child exited with status {rc}", "tb": err_text[-4000:]})
            break
        else:
            fixtures.append({"id": f"{module} (child)", "outcome": "error",
                             "why": f"gave up after {MAX_RESTARTS} restarts", "tb": ""})
        records.update(interrupted)
        return records, fixtures, time.monotonic() - t0

    def _wait(self, proc, out_path):
        """The child's exit status, or "hung" if its output stopped growing
        for test_timeout + 30 s (faulthandler should have ended it first)."""
        last_size, last_change = -1, time.monotonic()
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            size = os.path.getsize(out_path) if os.path.exists(out_path) else 0
            now = time.monotonic()
            if size != last_size:
                last_size, last_change = size, now
            elif now - last_change > self.test_timeout + 30:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return "hung"

    def _reap_group(self, pgid):
        """Kill what the child's tests left running in its process group (a
        test that fails before killing its subprocess leaves it sleeping);
        returns how many there were."""
        left = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:  # fields: state, ppid, pgrp, ...
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        left.append(f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120])
            except (OSError, IndexError, ValueError):
                continue
        if left:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            with self.lock:
                self._left.append(left[0])
        return len(left)

    @staticmethod
    def _events(path):
        if not os.path.exists(path):
            return []
        events = []
        with open(path) as f:
            for line in f:
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by a crash
        return events


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loop", default=None)
    ap.add_argument("--baseline", default=loopfactory.BASELINE)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--modules")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--test-timeout", type=float, default=30.0,
                    help="seconds one test may run (the slowest on stock asyncio here: 5.6 s)")
    ap.add_argument("--budget", type=float, default=900.0,
                    help="seconds for the whole run; no child starts after it (tests not run are failures)")
    ap.add_argument("--exceptions", default=EXCEPTIONS)
    ap.add_argument("--report")
    ap.add_argument("--no-retry", action="store_true")
    args = ap.parse_args()

    spec = args.loop or loopfactory.spec_from_env()
    loopfactory.resolve(spec)  # a clear error now, not in every child
    if args.modules:
        modules = [m if m.startswith("test_") else "test_" + m for m in args.modules.split(",")]
    elif args.quick:
        modules = CI_MODULES
    else:
        modules = all_modules()
    rules = load_exceptions(args.exceptions, spec)
    workdir = args.report or tempfile.mkdtemp(prefix="cpython-asyncio-")
    os.makedirs(workdir, exist_ok=True)
    runner = Runner(sys.executable, workdir, args.test_timeout)
    runner.deadline = time.monotonic() + args.budget
    print(f"factory: {spec}; baseline: {args.baseline}; python: {sys.executable}", flush=True)
    print(f"modules: {len(modules)} ({'chosen' if args.modules else 'quick' if args.quick else 'all'});"
          f" jobs {args.jobs}; test timeout {args.test_timeout:.0f}s; logs in {workdir}", flush=True)

    sides = {"stock": args.baseline, "factory": spec}
    results = {side: {} for side in sides}
    fixtures = {side: {} for side in sides}
    times = {side: {} for side in sides}
    t_start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {}
        for module in modules:
            for side, s in sides.items():
                futs[pool.submit(runner.run_module, side, s, module)] = (side, module)
        for fut in concurrent.futures.as_completed(futs):
            side, module = futs[fut]
            recs, fx, secs = fut.result()
            results[side][module] = recs
            fixtures[side][module] = fx
            times[side][module] = secs
            print(f"  {side:7} {module:22} {len(recs):4} tests {secs:6.1f}s", flush=True)
    wall = time.monotonic() - t_start

    def outcome(side, module, tid):
        rec = results[side][module].get(tid)
        return rec["outcome"] if rec else "not run"

    # First comparison, then one retry of the differences on the factory.
    def differing():
        out = {}
        for module in modules:
            for tid, rec in results["stock"][module].items():
                if rec["outcome"] in PASSING and outcome("factory", module, tid) not in PASSING:
                    out.setdefault(module, set()).add(tid)
        return out

    retried_ok = []
    diffs = differing()
    n_diffs = sum(map(len, diffs.values()))
    if n_diffs > MAX_RETRIES:
        print(f"{n_diffs} differing tests: too many to be flakiness, not retried (at most {MAX_RETRIES})", flush=True)
    elif diffs and not args.no_retry:
        print(f"retrying {sum(map(len, diffs.values()))} differing tests once, alone, on the factory", flush=True)
        for module, ids in diffs.items():
            if ids:
                recs, _, _ = runner.run_module("factory", spec, module, only=ids, tag="-retry")
                for tid, rec in recs.items():
                    if rec["outcome"] in PASSING:
                        retried_ok.append((tid, results["factory"][module].get(tid, {}).get("why", "")))
                        results["factory"][module][tid] = rec
        diffs = differing()

    # Report.
    failed_ids, known = [], []
    for module in modules:
        for tid in sorted(diffs.get(module, ())):
            rec = results["factory"][module].get(tid) or {"outcome": "not run", "why": "not run on the factory"}
            hit = excepted(rules, tid)
            if hit:
                known.append((tid, hit[1], rec))
            else:
                failed_ids.append((tid, rec))
    # A pattern is stale if it matches no differing test at all.
    matching = {p for p in rules for m in modules for tid in diffs.get(m, ()) if fnmatch.fnmatchcase(tid, p)}
    stale = sorted(p for p in rules if p not in matching and p.startswith(PKG))  # others: own tests

    print()
    print(f"{'module':22} {'tests':>5} | {'stock pass':>10} {'fail':>4} {'skip':>4} |"
          f" {'factory pass':>12} {'fail':>4} {'skip':>4} {'on loop':>7} | {'diff':>4} {'known':>5} |"
          f" {'s stock':>7} {'s fact.':>7}")
    tot = {"n": 0, "sp": 0, "sf": 0, "ss": 0, "fp": 0, "ff": 0, "fs": 0, "loop": 0, "d": 0, "k": 0}
    known_ids = {t for t, _, _ in known}
    for module in modules:
        s, f = results["stock"][module], results["factory"][module]
        ids = set(s) | set(f)

        def count(recs, outs):
            return sum(1 for r in recs.values() if r["outcome"] in outs)

        row = {
            "n": len(ids),
            "sp": count(s, PASSING), "sf": count(s, ("fail", "error", "crash", "timeout", "xpass")),
            "ss": count(s, ("skip", "xfail")),
            "fp": count(f, PASSING), "ff": count(f, ("fail", "error", "crash", "timeout", "xpass")),
            "fs": count(f, ("skip", "xfail")),
            "loop": sum(1 for r in f.values() if (r.get("loops") or 0) > 0),
            "d": len(diffs.get(module, ())),
            "k": len(diffs.get(module, set()) & known_ids),
        }
        for k in tot:
            tot[k] += row[k]
        print(f"{module:22} {row['n']:5} | {row['sp']:10} {row['sf']:4} {row['ss']:4} |"
              f" {row['fp']:12} {row['ff']:4} {row['fs']:4} {row['loop']:7} | {row['d']:4} {row['k']:5} |"
              f" {times['stock'][module]:7.1f} {times['factory'][module]:7.1f}")
    print(f"{'total':22} {tot['n']:5} | {tot['sp']:10} {tot['sf']:4} {tot['ss']:4} |"
          f" {tot['fp']:12} {tot['ff']:4} {tot['fs']:4} {tot['loop']:7} | {tot['d']:4} {tot['k']:5} |"
          f" wall {wall:.0f}s")
    print("(on loop: factory-side tests that made at least one loop through the factory;"
          " diff: pass on stock, not on the factory)")

    for side, s in sides.items():
        print(f"loops the {side} side's factory made: {', '.join(sorted(runner.loop_types.get(s, ()))) or 'none'}")
    for side in sides:
        for module in modules:
            for fx in fixtures[side][module]:
                print(f"fixture {fx['outcome']} [{side}] {fx['id']}: {fx['why']}")
    both_fail = [
        (tid, rec["why"]) for module in modules for tid, rec in sorted(results["stock"][module].items())
        if rec["outcome"] not in PASSING + ("skip", "xfail")
    ]
    for tid, why in both_fail:
        print(f"fails on stock asyncio (not compared): {tid}: {why}")
    for tid, why in retried_ok:
        print(f"passed on retry (flaky on the factory): {tid}: first run: {why}")
    for tid, reason, rec in known:
        print(f"known difference: {tid}: {reason} (saw: {rec['outcome']}: {rec['why']})")
    for pattern in stale:
        print(f"exception no longer needed (matches no difference): {pattern}")
    problems = []
    if tot["loop"] == 0:
        problems.append("no test made a loop through the factory: the binding did not take")
    for p in problems:
        print(f"HARNESS PROBLEM: {p}")
    for tid, rec in failed_ids:
        print(f"FAILED: {tid}: {rec['outcome']}: {rec['why']}")
    if len(failed_ids) > 1:
        causes = {}
        for tid, rec in failed_ids:
            causes.setdefault(cause_of(rec), []).append(tid)
        print(f"failures by cause ({len(causes)} causes, most common first):")
        for cause, tids in sorted(causes.items(), key=lambda kv: -len(kv[1]))[:30]:
            print(f"  {len(tids):4} x {cause}  (e.g. {tids[0]})")

    if args.report:
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump({"factory": spec, "baseline": args.baseline, "modules": modules, "results": results,
                       "fixtures": fixtures, "times": times, "wall": wall,
                       "failed": [t for t, _ in failed_ids], "known": [t for t, _, _ in known]}, f, indent=1)
    passed = tot["fp"]
    failed = len(failed_ids) + len(problems)
    if not args.report and not failed:
        shutil.rmtree(workdir, ignore_errors=True)  # kept when something failed: the logs are there
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
