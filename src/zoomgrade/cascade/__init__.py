"""The cascade: grade a slide coarse to fine (stage 1 at low power, stage 2 at high power where it
matters, prior fusion, fallback, adequacy and the slide rule), the exhaustive baseline, and both."""

from .config import GradeConfig, default_config, load_config
from .grade import grade

__all__ = ["GradeConfig", "default_config", "grade", "load_config"]
