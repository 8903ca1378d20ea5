"""Helpers shared by the viewer's tests (a module of its own: every test folder has a conftest.py)."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

#: a file name that is markup: the viewer must show it as text
HOSTILE = "<img src=x onerror=alert(1)> & \"smear'.svs"


def copy_results(src: Path, dst: Path) -> Path:
    """A private copy of a results folder (tests that damage files must not touch the shared one)."""
    shutil.copytree(src, dst)
    return dst


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET, 4xx/5xx included."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
