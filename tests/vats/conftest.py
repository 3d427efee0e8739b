"""Scenario fixtures: a node on an on-disk swing-store in tmp_path that can be restarted
for real (shut the controller down, commit or not, close the store, reopen it, start a
new controller)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernelhost.controller import initialize_swingset, make_controller
from kernelhost.swingstore import open_swingstore

VATS = Path(__file__).resolve().parent / "vats"
BUNDLES = ("counter_v1", "counter_v2", "counter_diverge", "bad_import", "bad_open", "bad_mro", "hog")


def scenario_config() -> dict:
    return {
        "bootstrap": "boot",
        "devices": [],
        "vats": {"boot": {"source": str(VATS / "boot"), "critical": True}},
        "bundles": {name: {"source": str(VATS / name)} for name in BUNDLES},
    }


class Node:
    def __init__(self, path: Path, config: dict | None = None, **controller_kw):
        self.db = path / "swingstore.sqlite"
        self.config = config or scenario_config()
        self.controller_kw = controller_kw
        self.store = open_swingstore(self.db)
        initialize_swingset(self.store.kernel, self.config)
        self.c = make_controller(self.store.kernel, **controller_kw)
        self.c.run()
        self.store.host.commit()

    # ---- lifecycle
    def restart(self, *, commit: bool = True, **controller_kw) -> None:
        """Stop (committing first, or not) and start again from the store on disk."""
        self.c.shutdown()
        if commit:
            self.store.host.commit()
        self.store.close()
        self.store = open_swingstore(self.db)
        kw = dict(self.controller_kw)
        kw.update(controller_kw)
        self.c = make_controller(self.store.kernel, **kw)

    def close(self) -> None:
        try:
            self.c.shutdown()
        finally:
            self.store.close()

    # ---- driving
    def boot(self, method: str, *args):
        """Call the boot vat's root, run to quiescence, return its fulfilled value."""
        kp = self.c.queue_to_vat_root("boot", method, list(args))
        self.c.run()
        state, value = self.c.kp_status(kp)
        assert state == "fulfilled", (method, state, value)
        self.c.kp_release(kp)
        return value

    def create(self, name: str, bundle: str = "counter_v1", **options) -> str:
        r = self.boot("create", name, bundle, options)
        assert r[0] == "ok", r
        return r[1]

    def call(self, name: str, method: str, *args):
        return self.boot("call", name, method, list(args))

    def vat(self, name: str) -> dict:
        return [v for v in self.c.get_status()["vats"] if v["name"] == name][0]

    def kv(self, key: str):
        return self.store.kernel.kv.get(key)

    def json(self, key: str):
        raw = self.kv(key)
        return None if raw is None else json.loads(raw)

    def spans(self, vat_id: str) -> list:
        """[(startPos, endPos, incarnation, isCurrent)] as stored."""
        return [(s["startPos"], s["endPos"], s["incarnation"], s["isCurrent"])
                for s in self.store.kernel.transcripts.list_spans(vat_id)]

    def entry_types(self, vat_id: str, start: int) -> list:
        return [json.loads(i)["d"][0] for i in self.store.kernel.transcripts.read_span(vat_id, start)]


@pytest.fixture
def node(tmp_path):
    nodes = []

    def make(config: dict | None = None, **controller_kw) -> Node:
        n = Node(tmp_path / f"n{len(nodes)}", config, **controller_kw)
        nodes.append(n)
        return n

    yield make
    for n in nodes:
        try:
            n.close()
        except Exception:  # noqa: BLE001 - already closed
            pass
