"""``ViewerServer``: the viewer's Tornado app on its own thread and event loop, on a local port.

``start()`` returns once it listens (``url``); ``wait()`` blocks until it stops; ``stop()`` closes it and the
slides it opened. Used by ``zoomgrade view``, the tests and the latency measurement alike.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Self

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from .index import ResultsIndex
from .server import Viewer, make_app


class ViewerServer:
    """The server on its own thread and event loop: ``start()`` returns once it listens; ``url``; ``stop()``."""

    def __init__(self, results_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.viewer = Viewer(ResultsIndex(results_dir))
        self.sockets = bind_sockets(port, host)  # port 0: a free port; OSError (in use) reaches the caller
        self.port = self.sockets[0].getsockname()[1]
        self.host = host
        local = host in ("127.0.0.1", "localhost", "::1")
        self.viewer.hosts = {f"{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]")} if local else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/"

    def _main(self) -> None:
        async def serve() -> None:
            server = HTTPServer(make_app(self.viewer), xheaders=False)
            server.add_sockets(self.sockets)
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()
            server.stop()

        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(serve())
        finally:
            self._loop.close()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._main, name="zoomgrade-viewer", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        return self

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        self.viewer.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
