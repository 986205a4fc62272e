"""A TCP port that accepts connections and never answers: a Redis host gone silent.

Shared by the cache and rate-limit degradation tests (the ``black_hole`` fixture of the root
conftest). It counts the connections made, so a
test sees how many probes (and retries) reached it.
"""

from __future__ import annotations

import socket
import threading


class BlackHole:
    """Listens on a free loopback port; accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()
