"""The seeds' select() programs (PyMOTW), ported to Python 3, on ioready.select.

The echo server runs under `python -m ioready` (so its unchanged
`import select` gets ioready.select), bound to a free port; the multi-socket
client and the slow client talk to it as in the article. Every wait is
bounded: the clients by a subprocess timeout, the server is stopped at the end.
"""

import os
import re
import subprocess
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")
TIMEOUT = 60  # seconds, per process: generous for 2 busy cores


class Server:
    """An echo server script under ioready.select, with its stderr collected."""

    def __init__(self, script):
        env = dict(os.environ, IOREADY_VERBOSE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ioready", os.path.join(SEEDS, script), "0"],
            stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.changed = threading.Condition()
        self.started = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.started.wait(TIMEOUT):
            self.stop()
            raise AssertionError("server did not start: %r" % self.lines)
        banner = "\n".join(self.lines)
        self.port = int(re.search(r"starting up on \S+ port (\d+)", banner).group(1))

    def _read(self):
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
            if line.startswith("starting up on"):
                self.started.set()
        self.started.set()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, text, count):
        """Until `count` lines contain `text` (or TIMEOUT): a client's exit
        does not mean the server has logged what it did about it yet."""
        with self.changed:
            self.changed.wait_for(
                lambda: sum(text in line for line in self.lines) >= count
                or self.proc.poll() is not None, TIMEOUT)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(TIMEOUT)
        self.reader.join(TIMEOUT)
        self.proc.stderr.close()
        return self.lines


def run_client(script, port):
    done = subprocess.run([sys.executable, os.path.join(SEEDS, script), str(port)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise AssertionError(f"{script} failed:\n{done.stderr}")
    return done.stderr.splitlines()


class SeedPrograms(unittest.TestCase):
    def test_echo_server_with_multi_socket_client(self):
        server = Server("select_echo_server.py")
        try:
            client = run_client("select_echo_multiclient.py", server.port)
            server.wait_for("after reading no data", 2)
        finally:
            log = server.stop()
        self.assertIn("ioready: select is ioready.select", log[0])
        sent = [line.replace(": sending ", ": ") for line in client if ": sending " in line]
        received = [line.replace(": received ", ": ") for line in client if ": received " in line]
        self.assertEqual(len(sent), 6, client)
        # Each socket gets back exactly what it sent, message by message.
        self.assertEqual(sorted(sent), sorted(received), client)
        self.assertEqual(sum("new connection from" in line for line in log), 2, log)
        self.assertEqual(sum(line.startswith("received ") for line in log), 6, log)
        self.assertEqual(sum(line.startswith("sending ") for line in log), 6, log)
        # The client exits; the server sees both connections close.
        self.assertEqual(sum("after reading no data" in line for line in log), 2, log)

    def test_timeout_server_with_slow_client(self):
        server = Server("select_echo_server_timeout.py")
        try:
            client = run_client("select_echo_slow_client.py", server.port)
            server.wait_for("after reading no data", 1)
        finally:
            log = server.stop()
        self.assertIn("ioready: select is ioready.select", log[0])
        echoed = "".join(re.match(r'received "(.*)"$', line).group(1)
                         for line in client if line.startswith("received "))
        self.assertEqual(echoed, "Part one of the message.Part two of the message.", client)
        self.assertEqual(client[-1], "closing socket")
        # The client pauses 1 s and 1.5 s: the 1 s select() timeout fires.
        self.assertTrue(any("timed out" in line for line in log), log)
        self.assertEqual(sum("after reading no data" in line for line in log), 1, log)


if __name__ == "__main__":
    unittest.main()
