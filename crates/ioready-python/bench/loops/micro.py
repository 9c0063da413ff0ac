"""Micro-benchmarks of an asyncio loop's own machinery, one per process:

  call_soon   callbacks scheduled with loop.call_soon and run by the loop:
              each turn, a callback schedules a batch of BATCH callbacks
              (each increments a counter) and one more batch-scheduling
              callback, until N have run. Time per callback = schedule + run.
  timer       loop.call_later(1000, cb) immediately followed by
              handle.cancel(), N times, inside one coroutine, then a
              sleep(0) so that the loop drops the cancelled timers: time per
              schedule+cancel pair.
  threadsafe  another thread calls loop.call_soon_threadsafe(cb) N times as
              fast as it can; the loop runs them; time from the thread's
              start to the N-th callback run: callbacks per second.

    python micro.py --loop uvloop:new_event_loop --bench call_soon --n 1000000

Prints one JSON object: {"bench", "loop", "n", "seconds", "ops_per_s"}.
Fails (exit 1) if the loop did not run exactly N callbacks (call_soon,
threadsafe) or ran any cancelled timer.
"""

import argparse
import asyncio
import json
import threading
import time

from loopspec import new_loop

BATCH = 1000


def bench_call_soon(loop, n):
    count = 0
    done = loop.create_future()

    def cb():
        nonlocal count
        count += 1

    def batch():
        left = n - count
        if left <= 0:
            done.set_result(None)
            return
        call_soon = loop.call_soon
        for _ in range(min(BATCH, left)):
            call_soon(cb)
        call_soon(batch)

    start = time.perf_counter()
    loop.call_soon(batch)
    loop.run_until_complete(done)
    elapsed = time.perf_counter() - start
    if count != n:
        raise SystemExit(f"call_soon: {count} callbacks ran, expected {n}")
    return elapsed


def bench_timer(loop, n):
    fired = 0

    def cb():
        nonlocal fired
        fired += 1

    async def work():
        call_later = loop.call_later
        for _ in range(n):
            call_later(1000.0, cb).cancel()
        await asyncio.sleep(0)

    start = time.perf_counter()
    loop.run_until_complete(work())
    elapsed = time.perf_counter() - start
    if fired:
        raise SystemExit(f"timer: {fired} cancelled timers ran")
    return elapsed


def bench_threadsafe(loop, n):
    count = 0
    done = loop.create_future()

    def cb():
        nonlocal count
        count += 1
        if count == n:
            done.set_result(None)

    def producer():
        call = loop.call_soon_threadsafe
        for _ in range(n):
            call(cb)

    t = threading.Thread(target=producer)
    start = time.perf_counter()
    t.start()
    loop.run_until_complete(done)
    elapsed = time.perf_counter() - start
    t.join()
    if count != n:
        raise SystemExit(f"threadsafe: {count} callbacks ran, expected {n}")
    return elapsed


BENCHES = {"call_soon": bench_call_soon, "timer": bench_timer, "threadsafe": bench_threadsafe}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", default="asyncio:new_event_loop", help="module:callable")
    ap.add_argument("--bench", choices=sorted(BENCHES), required=True)
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.n < 1:
        ap.error("--n must be at least 1")
    loop = new_loop(args.loop)
    asyncio.set_event_loop(loop)
    try:
        # One short warm-up run, then the measured one, on the same loop.
        BENCHES[args.bench](loop, min(args.n, 10_000))
        elapsed = BENCHES[args.bench](loop, args.n)
    finally:
        loop.close()
    print(json.dumps({"bench": args.bench, "loop": args.loop, "n": args.n,
                      "seconds": elapsed, "ops_per_s": args.n / elapsed}))


if __name__ == "__main__":
    main()
