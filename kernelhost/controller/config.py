"""Genesis config files.

A config is JSON: ``{"vats": {name: {"source": "<dir or .zip or b1-...>",
"parameters": {...}, "critical": bool}}, "bootstrap": name, "devices": [...],
"bundles": {name: {"source": ...}}}``. Relative sources are relative to the
config file. The default is kernelhost/demo/genesis.json.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["DEFAULT_GENESIS", "load_config"]

DEFAULT_GENESIS = Path(__file__).resolve().parent.parent / "demo" / "genesis.json"


def load_config(path: str | Path | None = None) -> dict:
    """Read a genesis config; ``baseDir`` is set to the file's folder."""
    p = Path(path or DEFAULT_GENESIS).resolve()
    config = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{p}: a genesis config must be a JSON object")
    config.setdefault("baseDir", str(p.parent))
    return config
