"""regiond's control socket for the benchmark scripts: one request, or a `watch` stream
(docs/control-protocol.md)."""
import json
import socket
from datetime import datetime


def parse_time(text):
    """An event's ISO 8601 time as seconds since the epoch."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def call(sock, request, timeout=30):
    """Sends one request line and returns the reply's result (None on an error reply)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall((json.dumps(request) + "\n").encode())
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data).get("result")


class Watch:
    """A `watch` connection: events one at a time, or the next of a kind."""

    def __init__(self, sock):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(sock)
        self.s.sendall(b'{"cmd":"watch"}\n')
        self.buffer = b""
        self.next_line()

    def next_line(self):
        while b"\n" not in self.buffer:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("regiond closed the watch")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def wait(self, kind, region=None):
        while True:
            event = self.next_line().get("event", {})
            if event.get("kind") == kind and (region is None or event.get("region") == region):
                return event

    def close(self):
        self.s.close()
