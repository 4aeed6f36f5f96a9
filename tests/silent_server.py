"""A local server that accepts connections and never answers, as some firewalls and proxies do."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator


@contextlib.contextmanager
def silent_server(hang_up_after: float = 20.0) -> Iterator[str]:
    """Yield ``http://127.0.0.1:<port>``: every connection to it is accepted, then left without a byte.

    A client without a timeout would wait for ever; so that a test of such a client fails instead
    of hanging, the server hangs up every connection ``hang_up_after`` seconds after it started.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()
    deadline = time.monotonic() + hang_up_after

    def serve() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:  # the 0.1 s accept timeout: time to look at the clock and at stop
                pass
            if time.monotonic() > deadline:
                while held:
                    held.pop().close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()
