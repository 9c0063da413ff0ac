"""N calls of one select-module call, for instruction counting (count_instructions.sh).

    python calls_loop.py CASE MODULE     # CASE: select1 select3 poll0 pollN epoll0; MODULE: c | ours
"""
import os
import sys

case, which = sys.argv[1], sys.argv[2]
if which == "c":
    import select as mod
else:
    import ioready.select as mod

pairs = [os.pipe() for _ in range(3)]
for r, w in pairs:
    os.write(w, b"x")
rs = [r for r, _ in pairs]
ws = [w for _, w in pairs]
p = mod.poll()
ep = mod.epoll()
for r, w in pairs:
    p.register(r, mod.POLLIN)
    p.register(w, mod.POLLOUT)
    ep.register(r, mod.EPOLLIN)
    ep.register(w, mod.EPOLLOUT)
one = rs[:1]
calls = {
    "select1": lambda: mod.select(one, [], [], None),
    "select3": lambda: mod.select(rs, ws, [], 0),
    "poll0": lambda: p.poll(0),
    "pollN": lambda: p.poll(),
    "epoll0": lambda: ep.poll(0),
}
call = calls[case]
for _ in range(int(os.environ.get("N", "10000"))):
    call()
