"""The cascade: grade a slide coarse to fine (stage 1 at low power, stage 2 at high power where it
matters, prior fusion, fallback, adequacy and the slide rule), the exhaustive baseline, and both.

The front door is ``grade`` (one result) and ``grade_modes`` (the cascade and/or the baseline);
``grade.py`` reads as the method, one module per step beside it (docs/architecture.md).
"""

from ..types import MODES, Mode
from .config import GradeConfig, default_config, load_config
from .grade import grade, grade_modes

__all__ = ["MODES", "GradeConfig", "Mode", "default_config", "grade", "grade_modes", "load_config"]
