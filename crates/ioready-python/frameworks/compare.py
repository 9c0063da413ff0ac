"""Per-test comparison of framework suites run on several loops (run.sh).

Reads RESULTS/<framework>/<loop>.xml (junit XML written by pytest), and
writes a markdown report: per framework and loop, the counts, and every test
that passed on stock asyncio ("asyncio.xml") but failed, errored or was
missing on the loop, with the first line of its failure message.
"""

import argparse
import os
import xml.etree.ElementTree as ET
from pathlib import Path


def outcomes(path):
    """{test id: (outcome, message)} from one junit XML file."""
    out = {}
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        tid = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, msg = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                msg = child.get("message") or (child.text or "")
                break
            if child.tag == "skipped":
                outcome = "skipped"
                msg = child.get("message") or ""
        if outcome == "error" and tid in out and out[tid][0] == "passed":
            outcome = "error (teardown)"
        out[tid] = (outcome, " ".join(msg.strip().splitlines()[:1])[:300])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", default="crates/ioready-python/frameworks/run.sh")
    a = ap.parse_args()
    res = Path(a.results)
    lines = ["# Framework test suites on each loop\n",
             "Reproduce with:\n\n```sh\ncrates/ioready-python/frameworks/setup.sh\n" + a.command + "\n```\n",
             "Each suite runs once on stock asyncio (the reference) and once per loop, bound by an "
             "event loop policy whose `new_event_loop` calls the loop's factory "
             "(crates/ioready-python/frameworks/loopbind.py). A test counts against a loop when it "
             "passed on stock asyncio and failed, errored, or did not run on the loop. Machine: "
             f"{os.cpu_count()} CPUs, load average (1 min) {os.getloadavg()[0]:.1f} as this report was "
             "written: on busy shared cores timing-sensitive tests can flake, so a single failure is a "
             "lead, not a verdict, until re-run.\n"]
    for fw in sorted(p for p in res.iterdir() if p.is_dir()):
        ref_path = fw / "asyncio.xml"
        if not ref_path.exists():
            continue
        ref = outcomes(ref_path)
        lines.append(f"## {fw.name}\n")
        lines.append("| loop | passed | failed | errors | skipped | pass on asyncio, not on this loop |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        details = []
        for xml in [ref_path] + sorted(p for p in fw.glob("*.xml") if p.name != "asyncio.xml"):
            got = outcomes(xml)
            count = {k: sum(1 for o, _ in got.values() if o.startswith(k)) for k in ("passed", "failed", "error", "skipped")}
            loop = xml.stem
            regress = []
            if loop != "asyncio":
                for tid, (o, _) in ref.items():
                    if o != "passed":
                        continue
                    g = got.get(tid)
                    if g is None:
                        regress.append((tid, "not run", "(missing from the loop's results: a crash or hang?)"))
                    elif g[0] not in ("passed", "skipped"):
                        regress.append((tid, g[0], g[1]))
                    elif g[0] == "skipped":
                        regress.append((tid, "skipped", g[1]))
            lines.append(f"| {loop} | {count['passed']:,} | {count['failed']:,} | {count['error']:,} | "
                         f"{count['skipped']:,} | {'–' if loop == 'asyncio' else len(regress)} |")
            if regress:
                details.append(f"\n### {fw.name}: pass on stock asyncio, not on {loop} ({len(regress)})\n")
                details.append("| test | outcome | first line of the failure |\n|---|---|---|")
                missing = [r for r in regress if r[1] == "not run"]
                if len(missing) > 50:
                    # A run that stopped early (collection error, crash, hang
                    # killed by the timeout): one line, not thousands.
                    details.append(f"| {len(missing)} tests | not run | the run on {loop} ended early or "
                                   f"collected nothing: see results/{fw.name}/{loop}.log |")
                    regress = [r for r in regress if r[1] != "not run"]
                for tid, o, msg in sorted(regress):
                    msg = msg.replace("|", "\\|")
                    details.append(f"| `{tid}` | {o} | {msg} |")
        lines += details
        lines.append("")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {os.path.relpath(a.out)}")


if __name__ == "__main__":
    main()
