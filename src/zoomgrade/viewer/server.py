"""The viewer's web server (Tornado): pages, the JSON they are drawn from, tiles, and the results' own files.

Every route takes a slide *key* from the results index, never a path: only the files the index names are
served (each slide's outputs and the slide file its result.json names), and the package's static folder.
Requests that match no route, or name no known slide or tile, get a short 4xx page; an error while reading
a slide is a 5xx line, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tornado.web

from ..errors import ZoomgradeError
from .heatmap_layer import heatmap_overlay
from .index import ResultsError, ResultsIndex, SlideEntry
from .slide_doc import slide_document
from .tiles import (
    DEFAULT_TILE_CACHE_BYTES,
    BytesLRU,
    SlidePool,
    SlideUnavailable,
    render_tile,
)

HERE = Path(__file__).parent
STATIC, TEMPLATES = HERE / "static", HERE / "templates"
KEY = r"([0-9a-f]{12})"
#: what the pages may load: only this server (images also as data: URIs, which report.html inlines)
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass
class Viewer:
    """What the handlers share: the index, the open slides, the tile cache and the reading threads."""

    index: ResultsIndex
    pool: SlidePool = field(default_factory=SlidePool)
    cache: BytesLRU = field(default_factory=lambda: BytesLRU(DEFAULT_TILE_CACHE_BYTES))
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, "zoomgrade-tiles"))
    #: Host headers accepted (DNS-rebinding guard); None accepts any (the user bound a public address)
    hosts: set[str] | None = None

    def expect(self, entry: SlideEntry) -> tuple[int, int] | None:
        return entry.dims

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.pool.close()


class Base(tornado.web.RequestHandler):
    def initialize(self, viewer: Viewer) -> None:
        self.viewer = viewer

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.clear_header("Server")

    def prepare(self) -> None:
        hosts = self.viewer.hosts
        if hosts is not None and self.request.host.lower() not in hosts:
            raise tornado.web.HTTPError(403, reason="unknown Host header")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # A short page, never a traceback (the server's log has the details of a 5xx).
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")

    def entry(self, key: str) -> SlideEntry:
        e = self.viewer.index.get(key)
        if e is None:
            raise tornado.web.HTTPError(404, reason="no such slide in this results folder")
        return e

    def send_json(self, obj: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        # "</" escaped so that no string can close a script element if the JSON is ever inlined
        self.finish(json.dumps(obj, allow_nan=False, default=str).replace("</", "<\\/"))

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.viewer.executor, fn, *args)


class NotFound(Base):
    def prepare(self) -> None:
        super().prepare()
        raise tornado.web.HTTPError(404, reason="not found")


class WorklistPage(Base):
    def get(self) -> None:
        self.render("worklist.html", folder=self.viewer.index.root.name)


class WorklistApi(Base):
    def get(self) -> None:
        self.viewer.index.refresh(force=True)  # a reload of the worklist shows what a running batch just wrote
        rows = [e.row() for e in self.viewer.index.entries()]
        self.send_json({"folder": self.viewer.index.root.name, "slides": rows})


class SlidePage(Base):
    def get(self, key: str) -> None:
        e = self.entry(key)
        self.render("slide.html", key=e.key, name=e.name)


class SlideApi(Base):
    async def get(self, key: str) -> None:
        e = self.entry(key)
        if e.result_dir is None:
            self.send_json({"key": e.key, "name": e.name, "status": e.status, "error": e.error, "regions": []})
            return
        try:
            doc = self.viewer.index.result(e)
        except ResultsError as err:
            self.send_json({"key": e.key, "name": e.name, "status": "failed", "error": str(err), "regions": []})
            return
        slide_error, dzi = None, None
        try:
            dzi = await self.run(self._dzi, e)
        except SlideUnavailable as err:
            slide_error = str(err)
        self.send_json(slide_document(e, doc, slide_error, dzi))

    def _dzi(self, e: SlideEntry) -> dict:
        v = self.viewer
        with v.pool.lease(e.key, v.index.slide_file(e), v.expect(e)) as (slide, dz):
            return dz.to_json(slide.mpp)


class TileHandler(Base):
    async def get(self, key: str, level: str, col: str, row: str) -> None:
        e = self.entry(key)
        ck = (key, int(level), int(col), int(row))
        data = self.viewer.cache.get(ck)
        if data is None:
            try:
                data = await self.run(self._tile, e, *ck[1:])
            except SlideUnavailable:  # the cause is on the slide's page (its JSON), not in a status line
                raise tornado.web.HTTPError(404, reason="slide unavailable") from None
            except ZoomgradeError:
                raise tornado.web.HTTPError(500, reason="the slide could not be read here") from None
            if data is None:
                raise tornado.web.HTTPError(404, reason="no such tile")
            self.viewer.cache.put(ck, data)
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(data)

    def _tile(self, e: SlideEntry, level: int, col: int, row: int) -> bytes | None:
        v = self.viewer
        with v.pool.lease(e.key, v.index.slide_file(e), v.expect(e)) as (slide, dz):
            return render_tile(slide, dz, level, col, row)


class HeatmapHandler(Base):
    async def get(self, key: str) -> None:
        e = self.entry(key)
        ck = (key, "heatmap")
        data = self.viewer.cache.get(ck)
        if data is None:
            path, size = self.viewer.index.output_file(e, "heatmap.png"), self.viewer.expect(e)
            data = await self.run(heatmap_overlay, path, size) if path and size else None
            if data is None:
                raise tornado.web.HTTPError(404, reason="no stage-1 heatmap for this slide")
            self.viewer.cache.put(ck, data)
        self.set_header("Content-Type", "image/png")
        self.finish(data)


class FileHandler(Base):
    """A slide's own output files; report.html gets a link to this slide's viewer page."""

    def get(self, key: str, name: str) -> None:
        e = self.entry(key)
        path = self.viewer.index.output_file(e, name)
        if path is None:
            raise tornado.web.HTTPError(404, reason="no such file for this slide")
        data = path.read_bytes()
        if name == "report.html":
            data = _link_report(data, e.key)
        self.set_header("Content-Type", _mime(name))
        self.finish(data)


class RunFileHandler(Base):
    def get(self, name: str) -> None:
        path = self.viewer.index.run_file(name)
        if path is None:
            raise tornado.web.HTTPError(404, reason="no such file in this results folder")
        self.set_header("Content-Type", _mime(name))
        self.finish(path.read_bytes())


class Static(tornado.web.StaticFileHandler):
    """The package's static folder (Tornado refuses paths outside it); same headers as the pages."""

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.clear_header("Server")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")


def _mime(name: str) -> str:
    if name.endswith((".json", ".geojson")):
        return "application/json; charset=utf-8"
    if name.endswith(".csv"):
        return "text/csv; charset=utf-8"
    if name.endswith(".html"):
        return "text/html; charset=utf-8"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _link_report(html: bytes, key: str) -> bytes:
    """report.html as served here: a bar linking to this slide's viewer page after <body> (the key is hex)."""
    bar = (
        f'<p style="margin:0;padding:8px 16px;background:#263238;font:15px sans-serif">'
        f'<a style="color:#fff" href="/slide/{key}">Open this slide in the zoomgrade viewer</a> &middot; '
        f'<a style="color:#fff" href="/">worklist</a></p>'
    ).encode()
    i = html.find(b"<body>")
    return html[: i + 6] + bar + html[i + 6 :] if i >= 0 else bar + html


def make_app(viewer: Viewer) -> tornado.web.Application:
    a = {"viewer": viewer}
    routes: list[Any] = [
        (r"/", WorklistPage, a),
        (r"/api/worklist", WorklistApi, a),
        (rf"/slide/{KEY}", SlidePage, a),
        (rf"/api/slide/{KEY}", SlideApi, a),
        (rf"/tiles/{KEY}/(\d{{1,2}})/(\d{{1,7}})_(\d{{1,7}})\.jpg", TileHandler, a),
        (rf"/heatmap/{KEY}\.png", HeatmapHandler, a),
        (rf"/files/{KEY}/([a-z.]+)", FileHandler, a),
        (r"/(summary\.csv|failures\.csv)", RunFileHandler, a),
        (r"/static/(.*)", Static, {"path": str(STATIC)}),
    ]
    return tornado.web.Application(
        routes,
        template_path=str(TEMPLATES),
        default_handler_class=NotFound,
        default_handler_args=a,
        autoescape="xhtml_escape",
        compress_response=True,
        serve_traceback=False,
        xsrf_cookies=False,
    )
