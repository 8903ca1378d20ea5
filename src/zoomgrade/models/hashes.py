"""Every model file that runs is the file its card describes: SHA-256 pinned in the card, checked at load.

The card's ``files`` maps each file beside it (``stage2.safetensors``, ``stage2.onnx``) to its SHA-256.
Loading refuses a file whose bytes differ (one line naming the file) and a card that pins no hash for a
file it would run; the hashes of what ran are recorded in result.json (``model_files``). Cards written
before ``files`` existed are checked against ``engine.weights_sha256`` (the weights their ONNX export came
from).

Whoever changes a model file on purpose (a re-export, new weights) records the new hashes with
``python -m zoomgrade.models.hashes DIR_OR_WEIGHTS...`` (``update_card_hashes``), which rewrites the cards'
``files`` and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..errors import ModelCardError

SUFFIXES = (".safetensors", ".onnx")


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _field(card: Any, name: str) -> dict[str, Any]:
    return (card.get(name) if isinstance(card, dict) else getattr(card, name, None)) or {}


def pinned(card: Any, path: Path) -> str | None:
    """The SHA-256 the card (a ``ModelCard`` or its JSON dict) pins for ``path`` (by file name), or None."""
    files = _field(card, "files")
    if path.name in files:
        return str(files[path.name])
    engine = _field(card, "engine")
    if path.suffix == ".safetensors" and engine.get("weights_sha256"):
        return str(engine["weights_sha256"])  # cards written before `files`
    return None


def verify_file(path: str | Path, card: Any) -> str:
    """Refuse ``path`` unless its SHA-256 is the one its card pins; returns the hash."""
    p = Path(path)
    want = pinned(card, p)
    if want is None:
        raise ModelCardError(
            f"{p}: its model card pins no SHA-256 for it, so it cannot be checked; record it "
            f"with `python -m zoomgrade.models.hashes {p.parent}` if the file is trusted"
        )
    have = sha256(p)
    if have != want:
        raise ModelCardError(
            f"{p}: SHA-256 {have[:16]}... is not the {want[:16]}... its model card pins (the "
            "file changed after its card was written); refused. Restore it, or record an "
            "intended change with `python -m zoomgrade.models.hashes`"
        )
    return have


def verify_weights(path: str | Path, card: Any) -> str:
    """A weights file its card describes: there, and the bytes the card pins (``verify_file``)."""
    p = Path(path)
    if not p.exists():
        raise ModelCardError(f"{p}: weights file not found")
    return verify_file(p, card)


def verify_folder(folder: str | Path, names: tuple[str, ...] = ("stage1", "stage2")) -> dict[str, str]:
    """Check every model file of a model folder against its card without loading a model (no torch): what a
    batch driver does before it starts workers, so a changed file is one error, not N failed slides."""
    out: dict[str, str] = {}
    for name in names:
        cpath = Path(folder) / f"{name}.json"
        try:
            card = json.loads(cpath.read_text())
        except (OSError, ValueError) as err:
            raise ModelCardError(f"{cpath}: cannot read the model card ({err.__class__.__name__})") from None
        for suffix in SUFFIXES:
            p = Path(folder) / f"{name}{suffix}"
            if p.exists():
                out[p.name] = verify_file(p, card)
    return out


def card_hashes(weights: str | Path) -> dict[str, str]:
    """{file name: SHA-256} of the model files beside ``weights`` (any suffix or none) that exist."""
    stem = Path(weights)
    stem = stem.with_suffix("") if stem.suffix in (*SUFFIXES, ".json") else stem
    return {stem.with_suffix(s).name: sha256(stem.with_suffix(s)) for s in SUFFIXES if stem.with_suffix(s).exists()}


def card_text(data: dict) -> str:
    """A card's file text (``card.write_card`` and ``update_card_hashes``; here, below ``card``, so both can)."""
    return json.dumps(data, indent=2) + "\n"


def update_card_hashes(weights: str | Path) -> dict[str, str]:
    """Rewrite the card's ``files`` with the hashes of the files beside it now (atomically); returns them."""
    stem = Path(weights)
    stem = stem.with_suffix("") if stem.suffix in (*SUFFIXES, ".json") else stem
    cpath = stem.with_suffix(".json")
    try:
        card = json.loads(cpath.read_text())
    except (OSError, ValueError) as err:
        raise ModelCardError(f"{cpath}: cannot read the model card ({err.__class__.__name__})") from None
    card["files"] = card_hashes(stem)
    atomic_write_text(cpath, card_text(card))
    return card["files"]


def _targets(arg: str) -> list[Path]:
    p = Path(arg)
    if p.is_dir():
        return sorted(c.with_suffix("") for c in p.glob("*.json") if any(c.with_suffix(s).exists() for s in SUFFIXES))
    return [p]


def main(argv: list[str] | None = None) -> int:
    """``python -m zoomgrade.models.hashes DIR_OR_WEIGHTS...``: record the model files' hashes in their cards."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m zoomgrade.models.hashes MODEL_FOLDER_OR_WEIGHTS...", file=sys.stderr)
        return 2
    try:
        for a in args:
            for t in _targets(a):
                for name, digest in update_card_hashes(t).items():
                    print(f"{t.with_suffix('.json')}: {name} {digest}")
    except ModelCardError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
