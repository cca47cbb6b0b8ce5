"""An HTTP endpoint on 127.0.0.1 that keeps what it is posted: an OpenLineage consumer, a chat webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

WAIT_SECONDS = 10  # for the server's thread to stop; every request is answered at once


class JsonReceiver:
    """What it was posted, in order: each body as JSON, and the path it was posted to."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.paths.append(self.path)
                received.posted.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests read what was posted, not the access log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


Kind = TypeVar("Kind", bound=JsonReceiver)


@contextmanager
def receiving(kind: type[Kind]) -> Iterator[Kind]:
    """A receiver (of `kind`) running for the block, stopped after it."""
    found = kind()
    found.thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()
        found.thread.join(timeout=WAIT_SECONDS)
