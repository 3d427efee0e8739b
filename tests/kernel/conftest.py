"""Fixtures for kernel tests: in-memory swing-stores, vat sources written to tmp dirs,
and a helper that runs genesis and starts a controller."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from kernelhost.controller import initialize_swingset, make_controller
from kernelhost.controller.bundling import KERNEL_SOURCE_DIR
from kernelhost.swingstore import open_swingstore

VATS_DIR = Path(__file__).resolve().parent / "vats"
DEMO_VATS = Path(__file__).resolve().parents[2] / "kernelhost" / "demo" / "vats"


@pytest.fixture
def store():
    s = open_swingstore(None)
    yield s
    s.close()


@pytest.fixture
def vat_source(tmp_path):
    """vat_source(name, code) -> directory holding vat.py with `code`."""

    def make(name: str, code: str) -> str:
        d = tmp_path / "vatsrc" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "vat.py").write_text(textwrap.dedent(code))
        return str(d)

    return make


def three_vat_config(**overrides) -> dict:
    """left (bootstrap, critical), middle, right: the test vats in tests/kernel/vats."""
    vats = {
        "left": {"source": str(VATS_DIR / "left"), "critical": True},
        "middle": {"source": str(VATS_DIR / "middle")},
        "right": {"source": str(VATS_DIR / "right")},
    }
    for name, extra in overrides.items():
        vats.setdefault(name, {}).update(extra)
    return {"bootstrap": "left", "devices": ["timer", "bridge", "mailbox"], "vats": vats,
            "bundles": {"counter": {"source": str(DEMO_VATS / "counter")}}}


def boot(store, config: dict, **controller_kw):
    """Genesis + controller + run bootstrap."""
    initialize_swingset(store.kernel, config)
    c = make_controller(store.kernel, **controller_kw)
    c.run()
    return c


def call(c, vat: str, method: str, *args, policy=None):
    """Queue a message to a vat root, run, and return (state, value)."""
    kp = c.queue_to_vat_root(vat, method, list(args))
    c.run(policy)
    return c.kp_status(kp)


def copy_kernel_source(dest: Path, *, replace: dict | None = None) -> Path:
    """A copy of the kernel source tree with text replacements {file: [(old, new)]}."""
    shutil.copytree(KERNEL_SOURCE_DIR, dest, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
    for name, edits in (replace or {}).items():
        p = dest / name
        text = p.read_text()
        for old, new in edits:
            assert old in text, f"{old!r} not in {name}"
            text = text.replace(old, new)
        p.write_text(text)
    return dest
