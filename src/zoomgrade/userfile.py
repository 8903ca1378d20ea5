"""The files a user writes (a grading config, a label set, a name mapping): read as TOML, and what is wrong
with them said in one line that names the file, the key path and the cause."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic_core import ErrorDetails

from .errors import ZoomgradeError


def read_toml(path: str | Path, error: type[ZoomgradeError], what: str, source: str | None = None) -> dict[str, Any]:
    """The parsed file; any failure to read or parse it raised as one ``error`` line naming ``source`` (default:
    the path). ``what`` names the kind of file in the messages ("config file", "label-set file")."""
    where = source if source is not None else str(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{where}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{where}: is a directory, not a {what}") from None
    except UnicodeDecodeError:
        raise error(f"{where}: not a text file (a {what} is UTF-8 TOML)") from None
    except tomllib.TOMLDecodeError as err:
        raise error(f"{where}: not valid TOML ({err})") from None
    except OSError as err:
        raise error(f"{where}: cannot read ({err.strerror or err})") from None


def key_path(loc: Iterable[str | int]) -> str:
    """A validation error's location as the file spells it: ``categories.VI.colour``, ``fine[2]``
    (pydantic's ``[key]`` marker, for a bad key of a table, and the bracketed tags of tagged unions, such as
    ``[table]``, are left out)."""
    s = ""
    for part in loc:
        if isinstance(part, str) and part.startswith("[") and part.endswith("]"):
            continue
        s += f"[{part}]" if isinstance(part, int) else (f".{part}" if s else str(part))
    return s or "(top level)"


def problem(err: ErrorDetails, show_input: bool = False) -> str:
    """One pydantic error as ``<key path>: <cause>``; ``show_input`` adds the value found (", got ...") where
    the cause does not already say it."""
    if err["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"{key_path(err['loc'])}: unknown key"
    if err["type"] == "missing":
        return f"{key_path(err['loc'])}: missing"
    msg = err["msg"].removeprefix("Value error, ")
    shown = err.get("input")
    if show_input and err["type"] != "value_error" and not isinstance(shown, dict):
        msg += f", got {shown!r}"
    return f"{key_path(err['loc'])}: {msg}"
