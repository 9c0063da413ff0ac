"""ioready.select's own tests: what CPython's suites do not pin down.

* Differential: the same calls on CPython's `select` and on ioready.select
  give the same results, or the same exception type with the same message.
* The difference on purpose: select() on descriptors >= 1024.
* PEP 475: a signal during a wait runs the Python handler and the wait goes
  on for the time that remains; a handler's exception propagates.
* Threads: concurrent epoll.poll() calls, close() during another thread's poll.
* Silence: importing the module prints and warns nothing.
(Switching programs over: install(), new_event_loop(), run() are in
test_switching.py and, under pytest, pytest/test_under_pytest.py.)
"""

import errno
import os
import resource
import select as cpython
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import ioready.select as ours


class Index:
    def __index__(self):
        return 1


class BadFileno:
    def fileno(self):
        return "x"


class Shrinking:
    """fileno() removes the last element of the list it is in."""

    def __init__(self, owner, fd):
        self.owner, self.fd = owner, fd

    def fileno(self):
        del self.owner[-1]
        return self.fd


def outcome(fn):
    try:
        return ("ok", fn())
    except BaseException as e:  # noqa: BLE001 - compared as data
        return (type(e).__name__, str(e))


class Differential(unittest.TestCase):
    """Each case runs against both modules; outcomes must be equal."""

    def setUp(self):
        self.r, self.w = os.pipe()
        os.write(self.w, b"x")
        self.addCleanup(os.close, self.r)
        self.addCleanup(os.close, self.w)

    def same(self, make_call, wording=True):
        """Equal results, or the same exception type and message.

        PyO3 parses the arguments: its TypeErrors name the argument
        ("argument 'fd': <CPython's message>"), and argument-count errors
        have PyO3's own wording (`wording=False`: the type must match).
        """
        want = outcome(lambda: make_call(cpython))
        got = outcome(lambda: make_call(ours))
        if got[0] == want[0] == "TypeError" and got[1] != want[1]:
            if not wording:
                return
            self.assertRegex(got[1], r"^argument '\w+': ")
            got = (got[0], got[1].split(": ", 1)[1])
        self.assertEqual(got, want)

    def test_select_arguments(self):
        r, w = self.r, self.w
        for timeout in [0, 0.0, 1e-9, Index(), True, float("nan"), float("inf"), 1e300,
                        1 << 64, -1, -1e-100, "x", [], None]:
            with self.subTest(timeout=timeout):
                self.same(lambda m: m.select([r], [w], [], timeout) if timeout is not None
                          else m.select([r], [w], []))
        for rlist in [lambda: 1, lambda: None, lambda: "ab", lambda: {r: 1}, lambda: (r, r),
                      lambda: iter([r]), lambda: [object()], lambda: [BadFileno()],
                      lambda: [-1], lambda: [1 << 40], lambda: [r, r, w]]:
            with self.subTest(rlist=rlist()):
                self.same(lambda m: m.select(rlist(), [], [], 0))
        # select() is a plain METH_FASTCALL function: CPython's count messages.
        self.same(lambda m: m.select())
        self.same(lambda m: m.select([], [], [], 0, 1))
        self.same(lambda m: m.select([], [], [], timeout=0), wording=False)

    def test_select_returns_the_objects_and_rereads_the_list(self):
        for m in (cpython, ours):
            with self.subTest(module=m.__name__):
                a, b = socket.socketpair()
                self.addCleanup(a.close)
                self.addCleanup(b.close)
                rl, wl, xl = m.select([self.r, a], [self.w, a, self.w], [], 0)
                self.assertEqual(rl, [self.r])
                self.assertIs(wl[1], a)
                self.assertEqual(len(wl), 3)
                self.assertIsNot(rl, xl)
                seq = []
                seq[:] = [Shrinking(seq, self.w)] * 6
                self.assertEqual(len(m.select([], seq, [], 0)[1]), 3)

    def test_poll_arguments(self):
        r, w = self.r, self.w
        for mask in [1.0, Index(), -1, 1 << 16, 1 << 64, True, None, "x", -(1 << 70), 0xFFFF]:
            with self.subTest(mask=mask):
                self.same(lambda m: m.poll().register(r, mask))
        for timeout in [0, 1.5, Index(), 1 << 31, 1 << 64, "x", float("nan"), float("inf"),
                        -(1 << 31) - 1, 2 ** 31 / 1000]:
            with self.subTest(timeout=timeout):
                def call(m):
                    p = m.poll()
                    p.register(r, m.POLLIN)
                    return p.poll(timeout)
                self.same(call)
        self.same(lambda m: m.poll().register(r, eventmask=1), wording=False)
        self.same(lambda m: m.poll().modify(r, 1))
        self.same(lambda m: m.poll().unregister(r))
        self.same(lambda m: m.poll().register(BadFileno()))
        self.same(lambda m: m.poll().register(-1))
        self.same(lambda m: m.poll(1), wording=False)
        # poll.poll is a plain METH_FASTCALL method: CPython's messages and
        # CPython's own check of `self`.
        self.same(lambda m: m.poll().poll(1, 2))
        self.same(lambda m: m.poll().poll(timeout=1), wording=False)
        self.same(lambda m: type(m.poll()).poll(1))
        self.same(lambda m: type(m.poll()).poll())

    def test_poll_order_and_closed_descriptors(self):
        for m in (cpython, ours):
            with self.subTest(module=m.__name__):
                p = m.poll()
                fd = os.dup(self.r)
                p.register(self.w, m.POLLOUT)
                p.register(fd, m.POLLIN)
                p.register(self.r, m.POLLIN)
                p.register(self.w, m.POLLOUT | m.POLLIN)  # re-register: same place
                os.close(fd)
                self.assertEqual(p.poll(0), [(self.w, m.POLLOUT), (fd, m.POLLNVAL),
                                             (self.r, m.POLLIN)])
                p.unregister(fd)
                p.unregister(self.w)
                p.register(self.w, m.POLLOUT)  # now last
                self.assertEqual(p.poll(0), [(self.r, m.POLLIN), (self.w, m.POLLOUT)])

    def test_epoll_arguments(self):
        r = self.r
        for args, kwargs in [((), {}), ((16,), {}), ((-1, cpython.EPOLL_CLOEXEC), {}),
                             ((0,), {}), ((-2,), {}), (("foo",), {}), ((1.5,), {}),
                             ((Index(),), {}), ((), {"flags": 12356}),
                             ((), {"sizehint": -2}), ((1 << 40,), {})]:
            with self.subTest(args=args, kwargs=kwargs):
                def call(m):
                    ep = m.epoll(*args, **kwargs)
                    ep.close()
                    return ep.closed
                self.same(call)
        self.same(lambda m: m.epoll(1, 2, 3), wording=False)
        for mask in [1.0, Index(), -1, 1 << 33, 1 << 64, None]:
            with self.subTest(mask=mask):
                def reg(m):
                    with m.epoll() as ep:
                        ep.register(r, mask)
                        return ep.poll(0)
                self.same(reg)
        for kwargs in [{"timeout": 0}, {"timeout": 1.0, "maxevents": 1}, {"timeout": 0, "maxevents": 0},
                       {"timeout": "x"}, {"timeout": float("nan")}, {"timeout": 1 << 31},
                       {"timeout": 1 << 64}, {"timeout": -1e-100}, {"timeout": -0.0001},
                       {"timeout": 0, "maxevents": 1.0}, {"timeout": 0, "maxevents": 1 << 40}]:
            with self.subTest(kwargs=kwargs):
                def wait(m):
                    with m.epoll() as ep:
                        ep.register(r, m.EPOLLIN)
                        return ep.poll(**kwargs)
                self.same(wait)

    def test_epoll_errors_and_close(self):
        r = self.r
        for name in ["register", "modify", "unregister", "double", "closed_fd", "10000",
                     "after_close", "fromfd"]:
            with self.subTest(case=name):
                def call(m):
                    ep = m.epoll()
                    try:
                        if name == "register":
                            return ep.register(object())
                        if name == "modify":
                            return ep.modify(r, m.EPOLLIN)
                        if name == "unregister":
                            return ep.unregister(r)
                        if name == "double":
                            ep.register(r)
                            return ep.register(r)
                        if name == "closed_fd":
                            fd = os.dup(r)
                            ep.register(fd)
                            os.close(fd)
                            return ep.unregister(fd)
                        if name == "10000":
                            return ep.register(10000)
                        if name == "after_close":
                            ep.close()
                            ep.close()
                            return [outcome(f) for f in (ep.fileno, ep.poll, ep.__enter__,
                                                         lambda: ep.register(r))] + [ep.closed]
                        if name == "fromfd":
                            return [m.epoll.fromfd(-1).closed, outcome(lambda: m.epoll.fromfd(-2))]
                    finally:
                        ep.close()
                self.same(call)

    def test_module_surface(self):
        public = {k for k in dir(cpython) if not k.startswith("_")}
        self.assertEqual(public - set(dir(ours)), set())
        for k in public:
            if isinstance(getattr(cpython, k), int):
                self.assertEqual(getattr(ours, k), getattr(cpython, k), k)
        for absent in ("kqueue", "kevent", "devpoll", "KQ_FILTER_READ"):
            self.assertFalse(hasattr(ours, absent))
        self.assertIs(ours.error, OSError)
        self.assertEqual(type(ours.select), type(cpython.select))
        self.assertEqual(type(ours.poll), type(cpython.poll))
        self.assertIsInstance(ours.epoll, type)
        poll_type = type(ours.poll())
        self.assertEqual((poll_type.__module__, poll_type.__name__), ("select", "poll"))
        with self.assertRaisesRegex(TypeError, r"^cannot create 'select\.poll' instances$"):
            poll_type()
        with self.assertRaises(TypeError):
            class Sub(ours.epoll):  # CPython's epoll is not subclassable either
                pass


class BeyondCPython(unittest.TestCase):
    def test_select_accepts_descriptors_above_1024(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        high = 1500
        if hard != resource.RLIM_INFINITY and hard <= high:
            self.skipTest(f"RLIMIT_NOFILE hard limit {hard}")
        if soft <= high:
            resource.setrlimit(resource.RLIMIT_NOFILE, (high + 100, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        hr, hw = os.dup2(r, high), os.dup2(w, high + 1)
        self.addCleanup(os.close, hr)
        self.addCleanup(os.close, hw)
        # CPython refuses them ...
        with self.assertRaisesRegex(ValueError, "filedescriptor out of range"):
            cpython.select([hr], [], [], 0)
        # ... ioready.select waits on them.
        self.assertEqual(ours.select([hr], [hw], [], 0), ([], [hw], []))
        os.write(hw, b"x")
        self.assertEqual(ours.select([hr, r], [], [], 5), ([hr, r], [], []))


@unittest.skipUnless(threading.current_thread() is threading.main_thread(), "signals")
class Signals(unittest.TestCase):
    """PEP 475, as CPython: handler runs, the wait resumes with the time left."""

    def setUp(self):
        self.r, self.w = os.pipe()
        self.addCleanup(os.close, self.r)
        self.addCleanup(os.close, self.w)
        self.calls = 0
        old = signal.signal(signal.SIGALRM, self.handler)
        self.addCleanup(signal.signal, signal.SIGALRM, old)
        self.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)

    def handler(self, *args):
        self.calls += 1

    def waits(self):
        ep = ours.epoll()
        self.addCleanup(ep.close)
        ep.register(self.r, ours.EPOLLIN)
        p = ours.poll()
        p.register(self.r, ours.POLLIN)
        return {
            "select": lambda t: ours.select([self.r], [], [], t),
            "poll": lambda t: p.poll(t * 1000),
            "epoll": lambda t: ep.poll(t),
        }

    def test_interrupted_wait_resumes_for_the_time_left(self):
        for name, wait in self.waits().items():
            with self.subTest(wait=name):
                self.calls = 0
                signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)  # 20 signals/s
                start = time.monotonic()
                result = wait(0.5)
                elapsed = time.monotonic() - start
                signal.setitimer(signal.ITIMER_REAL, 0)
                self.assertIn(result, ([], ([], [], [])))
                self.assertGreater(self.calls, 2)
                self.assertGreaterEqual(elapsed, 0.5)
                self.assertLess(elapsed, 10)  # not restarted from scratch forever

    def test_handler_exception_propagates(self):
        def boom(*args):
            raise ZeroDivisionError("from the handler")

        signal.signal(signal.SIGALRM, boom)
        for name, wait in self.waits().items():
            with self.subTest(wait=name):
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                start = time.monotonic()
                with self.assertRaises(ZeroDivisionError):
                    wait(10)
                self.assertLess(time.monotonic() - start, 5)


class Threads(unittest.TestCase):
    def test_concurrent_epoll_polls_and_close_during_poll(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        ep = ours.epoll()
        ep.register(r, ours.EPOLLIN)
        results = []
        threads = [threading.Thread(target=lambda: results.append(ep.poll(30))) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.2)  # all three inside poll(), two on private buffers
        ep.close()       # does not pull the instance from under them
        self.assertTrue(ep.closed)
        os.write(w, b"x")
        for t in threads:
            t.join(30)
        self.assertEqual(results, [[(r, ours.EPOLLIN)]] * 3)

    def test_poll_register_while_another_thread_polls(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        p = ours.poll()
        p.register(r, ours.POLLIN)
        got = []
        t = threading.Thread(target=lambda: got.append(p.poll(30_000)))
        t.start()
        time.sleep(0.2)
        p.register(w, ours.POLLOUT)  # allowed; takes effect at the next poll()
        with self.assertRaisesRegex(RuntimeError, "concurrent poll"):
            p.poll(0)
        os.write(w, b"x")
        t.join(30)
        self.assertEqual(got, [[(r, ours.POLLIN)]])
        self.assertEqual(p.poll(0), [(r, ours.POLLIN), (w, ours.POLLOUT)])


class Silence(unittest.TestCase):
    def test_import_and_exit_print_and_warn_nothing(self):
        code = "import ioready.select; ioready.select.install(); import selectors, subprocess, asyncio"
        done = subprocess.run([sys.executable, "-X", "warn_default_encoding", "-W", "error",
                               "-X", "dev", "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual((done.returncode, done.stdout, done.stderr), (0, "", ""))

    def test_run_makes_selectors_use_the_module(self):
        code = ("import selectors, sys, ioready.select\n"
                "assert selectors.select is ioready.select\n"
                "assert selectors.DefaultSelector()._selector.__class__ is ioready.select.epoll\n"
                "print('ok', sys.argv[1:])\n")
        done = subprocess.run([sys.executable, "-m", "ioready", "-m",
                               "ioready_probe_mod"], capture_output=True, text=True, timeout=60)
        # No such module: the runner reports the import error after installing.
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("ioready_probe_mod", done.stderr)
        script = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ioready_probe_{os.getpid()}.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(code)
        self.addCleanup(os.unlink, script)
        done = subprocess.run([sys.executable, "-m", "ioready", script, "a", "b"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual((done.returncode, done.stdout.strip(), done.stderr), (0, "ok ['a', 'b']", ""))


if __name__ == "__main__":
    unittest.main()
