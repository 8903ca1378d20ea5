"""The one check every refused slide passes: a SlideError of one line, "<path>: <cause>"."""

from __future__ import annotations

import pytest

from zoomgrade.errors import SlideError
from zoomgrade.slide import open_slide


def refusal(path, **kw) -> str:
    """The cause ``open_slide(path, **kw)`` is refused with, checked to be one line naming the file."""
    with pytest.raises(SlideError) as info:
        open_slide(path, **kw)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg and info.value.path == str(path)
    return msg
