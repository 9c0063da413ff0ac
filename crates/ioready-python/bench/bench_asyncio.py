"""Whole asyncio programs on ioready.select.new_event_loop() against the
default loop (a SelectorEventLoop on CPython's epoll): what switching an
asyncio program over changes, end to end.

    python bench/bench_asyncio.py [--repeat 7] [--markdown]

Workloads (each run alternates the two loops, `repeat` times; medians):
  * yield: 50,000 `await asyncio.sleep(0)`: one loop iteration, so one
    epoll.poll(0) call, each; the rest is asyncio's own Python code;
  * echo: 5,000 round trips of 64 bytes over TCP on 127.0.0.1, asyncio
    streams on both ends (one client, one server connection).
Below 1.0 the ioready.select loop is faster.
"""

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time

import ioready.select

YIELDS = 50_000
ROUND_TRIPS = 5_000
PAYLOAD = b"x" * 64


async def yields():
    for _ in range(YIELDS):
        await asyncio.sleep(0)


async def echo():
    async def handle(reader, writer):
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(ROUND_TRIPS):
        writer.write(PAYLOAD)
        await reader.readexactly(len(PAYLOAD))
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


def timed(factory, workload):
    loop = factory()
    try:
        start = time.perf_counter()
        loop.run_until_complete(workload())
        return time.perf_counter() - start
    finally:
        loop.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    loops = {"default": asyncio.new_event_loop, "ours": ioready.select.new_event_loop}
    rows = []
    for name, workload, count in (("yield", yields, YIELDS), ("echo", echo, ROUND_TRIPS)):
        times = {"default": [], "ours": []}
        for _ in range(args.repeat):
            for key, factory in loops.items():
                times[key].append(timed(factory, workload) / count)
        d, o = statistics.median(times["default"]), statistics.median(times["ours"])
        rows.append((name, count, d, o, o / d))
    head = (f"Python {platform.python_version()} ({sys.executable}), {platform.machine()}, "
            f"{os.cpu_count()} CPUs; median of {args.repeat} runs")
    if args.markdown:
        print(head + "\n")
        print("| workload | default loop (CPython epoll) | ioready.select.new_event_loop() | ratio |")
        print("|---|---:|---:|---:|")
        for name, count, d, o, ratio in rows:
            print(f"| {name} ({count:,}) | {d * 1e6:.2f} us | {o * 1e6:.2f} us | {ratio:.3f} |")
    else:
        print(head)
        for name, count, d, o, ratio in rows:
            print(f"{name:6s} default {d * 1e6:7.2f} us  ours {o * 1e6:7.2f} us  ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
