"""CSV cells a spreadsheet will not run: summary.csv and failures.csv are opened in Excel and LibreOffice.

A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is a formula to them (a slide
named ``=HYPERLINK(...).svs``); the OWASP rule prefixes such cells with a single quote, which the
spreadsheet shows as text. Numbers are written as numbers (a negative number is not text). The files end
their lines with CRLF (RFC 4180), so the csv writer quotes any cell holding a CR or LF and a name with a line
break inside cannot split a row.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as written to a CSV cell, with text that a spreadsheet would evaluate made inert."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
