"""No growth: RSS and open descriptors of one process across many
connections opened, echoed once and closed, on a given loop (not in CI:
1,000,000 connections take minutes).

    python bench/soak.py --loop ioready:new_event_loop --connections 1000000

An asyncio.Protocol echo server and asyncio-streams clients in the same
process on 127.0.0.1 (port 0), `--concurrency` clients at a time; every
`--report` connections it collects garbage and prints the RSS (VmRSS) and
the number of open descriptors. Exit status 1 if, after the first report,
the descriptor count changes or RSS grows by more than `--rss-slack` KiB.
"""

import argparse
import asyncio
import gc
import importlib
import os
import sys


def factory(spec):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def soak(args):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x" * 64)
        await reader.readexactly(64)
        writer.close()
        await writer.wait_closed()

    baseline = None
    done = 0
    status = 0
    while done < args.connections:
        batch = min(args.concurrency, args.connections - done)
        await asyncio.gather(*[one() for _ in range(batch)])
        done += batch
        if done % args.report == 0 or done == args.connections:
            gc.collect()
            rss, fds = rss_kib(), len(os.listdir("/proc/self/fd"))
            print(f"{done:>9} connections: rss {rss} KiB, descriptors {fds}", flush=True)
            if baseline is None:
                baseline = (rss, fds)
            elif fds != baseline[1] or rss > baseline[0] + args.rss_slack:
                status = 1
    server.close()
    await server.wait_closed()
    return status


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", default="ioready:new_event_loop")
    ap.add_argument("--connections", type=int, default=1_000_000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--report", type=int, default=50_000)
    ap.add_argument("--rss-slack", type=int, default=2048)
    args = ap.parse_args()
    loop = factory(args.loop)()
    try:
        return loop.run_until_complete(soak(args))
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
