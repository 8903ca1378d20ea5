"""Measurements: `python -m zoomgrade.bench.<name>` (the `zoomgrade bench` command builds on these)."""
