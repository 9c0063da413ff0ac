"""Call overhead of ioready.select against CPython's own select module.

    python bench/bench_select.py [--repeat 9] [--number 20000] [--markdown]

Both modules are measured side by side in one process with timeit, on the
same ready descriptors (pipes with unread data, and their writable ends), so
every call returns at once and what is measured is the call: argument
conversion, the syscall, the GIL release, building the result. Each case is
timed `repeat` times, alternating the two modules, each time `number` calls;
the table gives the median time per call and the ratio ours / CPython's
(below 1.0 is faster than CPython).
"""

import argparse
import os
import platform
import select as cpython
import socket
import statistics
import sys
import timeit

import ioready.select as ours


def pipes(n):
    """`n` pipes with one unread byte each: read ends readable, write ends writable."""
    pairs = []
    for _ in range(n):
        r, w = os.pipe()
        os.write(w, b"x")
        pairs.append((r, w))
    return pairs


def cases(mod):
    """name -> zero-argument callable, for module `mod`."""
    few = pipes(3)
    rs = [r for r, _ in few]
    ws = [w for _, w in few]
    sock_a, sock_b = socket.socketpair()
    sock_b.send(b"x")
    sockets = [sock_a, sock_b]

    p = mod.poll()
    for r, w in few:
        p.register(r, mod.POLLIN)
        p.register(w, mod.POLLOUT)
    ep = mod.epoll()
    for r, w in few:
        ep.register(r, mod.EPOLLIN)
        ep.register(w, mod.EPOLLOUT)
    sel = mod.select
    keep = (few, sockets, p, ep)  # alive for the whole run

    return keep, {
        "select.select(3 ready ints, 3 ready ints, [], 0)": lambda: sel(rs, ws, [], 0),
        "select.select(2 ready sockets, 2 sockets, [], 0)": lambda: sel(sockets, sockets, [], 0),
        "select.select([1 ready int], [], [], None)": lambda: sel(rs[:1], [], [], None),
        "poll.poll(0), 6 registered, 6 ready": lambda: p.poll(0),
        "poll.poll(), 6 registered, 6 ready": lambda: p.poll(),
        "epoll.poll(0), 6 registered, 6 ready": lambda: ep.poll(0),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--number", type=int, default=20000)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()

    keep_c, c_cases = cases(cpython)
    keep_o, o_cases = cases(ours)
    rows = []
    for name in c_cases:
        # Same results first: the benchmark compares equal work.
        c_res, o_res = c_cases[name](), o_cases[name]()
        assert len(c_res) == len(o_res), (name, c_res, o_res)
        times = {"c": [], "o": []}
        for _ in range(args.repeat):
            for key, fn in (("c", c_cases[name]), ("o", o_cases[name])):
                times[key].append(timeit.timeit(fn, number=args.number) / args.number)
        c_med, o_med = statistics.median(times["c"]), statistics.median(times["o"])
        rows.append((name, c_med, o_med, o_med / c_med))

    head = (f"Python {platform.python_version()} ({sys.executable}), {platform.machine()}, "
            f"{os.cpu_count()} CPUs; median of {args.repeat} x {args.number} calls")
    if args.markdown:
        print(head + "\n")
        print("| call | CPython select | ioready.select | ratio |")
        print("|---|---:|---:|---:|")
        for name, c, o, ratio in rows:
            print(f"| `{name}` | {c * 1e9:.0f} ns | {o * 1e9:.0f} ns | {ratio:.3f} |")
    else:
        print(head)
        for name, c, o, ratio in rows:
            print(f"{name:55s} cpython {c * 1e9:7.0f} ns  ours {o * 1e9:7.0f} ns  ratio {ratio:.3f}")
    del keep_c, keep_o


if __name__ == "__main__":
    main()
