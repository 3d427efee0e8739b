"""Fixtures for the swing-store tests: real store files in tmp_path."""

from __future__ import annotations

import hashlib

import pytest

from kernelhost.swingstore import open_swingstore
from kernelhost.swingstore.bundleformat import make_bundle_from_files


class Recorder:
    """Export callback that keeps every batch it receives."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str | None]]] = []

    def __call__(self, records) -> None:
        self.batches.append(list(records))

    @property
    def records(self) -> list[tuple[str, str | None]]:
        return [r for batch in self.batches for r in batch]

    def shadow(self, base: dict | None = None) -> dict:
        """Apply every record in order, as the host's consensus DB would."""
        state = dict(base or {})
        for key, value in self.records:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        return state


def vat_bundle(marker: str = "0") -> bytes:
    return make_bundle_from_files(
        {"counter/__init__.py": f"MARKER = {marker!r}\n".encode(),
         "counter/vat.py": b"def build_root_object(vat_powers, vat_parameters, baggage):\n"
                           b"    return None\n"},
        kind="vat", entry="counter.vat", api_version=1,
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "swingstore.sqlite"


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def store(db_path, recorder):
    s = open_swingstore(db_path, export_callback=recorder)
    yield s
    s.close()


@pytest.fixture
def recorder_factory():
    return Recorder


@pytest.fixture
def make_vat_bundle():
    return vat_bundle
