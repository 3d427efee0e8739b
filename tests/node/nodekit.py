"""Helpers for node tests that run real `manage.py` subprocesses on their own files.

Each node lives in a directory: `swingstore.sqlite` and, with SQLite, `chain.sqlite3` (the
chain database, through KERNELCONSOLE_VAR_DIR). With PostgreSQL (the test run has a
DATABASE_URL, as in CI) each node gets its own database instead, named in a `database_url`
file in the node directory. A prepared node (migrated, genesis done, workload in the mempool)
is copied per case (`CREATE DATABASE ... TEMPLATE` on PostgreSQL) instead of being rebuilt,
which keeps the crash matrix fast. State is read back with sqlite3/psycopg directly.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kernelhost.sim.nodeproc import (  # noqa: F401 - re-exported for the node tests
    _Conn,
    _json,
    app_hashes,
    chain_state,
    database_url,
    drop_postgres,
    export_data_mirror,
    replayed_heights,
    swingstore_export_data,
    use_postgres,
)

_db = _Conn

REPO = Path(__file__).resolve().parents[2]
TEST_GENESIS = Path(__file__).resolve().parent / "genesis-test.json"
CRASH_EXIT = 86


def node_env(node_dir: Path, failpoints: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "KERNELHOST_FAILPOINTS", "SWINGSTORE_PATH")}
    url = database_url(node_dir)
    if url:
        env["DATABASE_URL"] = url
    env.update({
        "DJANGO_SETTINGS_MODULE": "console.settings.test",
        "KERNELCONSOLE_VAR_DIR": str(node_dir),
        "SWINGSTORE_PATH": str(node_dir / "swingstore.sqlite"),
        "PYTHONHASHSEED": "0",
        "LOG_LEVEL": "WARNING",
    })
    if failpoints:
        env["KERNELHOST_FAILPOINTS"] = failpoints
    return env


def manage(node_dir: Path, *args: str, failpoints: str | None = None, stdin: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=node_env(node_dir, failpoints),
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def must(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def shell(node_dir: Path, code: str) -> str:
    return must(manage(node_dir, "shell", "-c", code)).stdout


def copy_node(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock", "database_url"))
    template = database_url(src)
    if template:
        use_postgres(dst, f"kc_node_{os.getpid()}_{dst.name}"[:63], template=template.rsplit("/", 1)[1])
    return dst


def vat_bundle_b64(source: Path) -> str:
    sys.path.insert(0, str(REPO))
    from kernelhost.swingstore.bundleformat import make_bundle

    return base64.b64encode(make_bundle(source, kind="vat", entry="vat.py", api_version=1)).decode()


def submit_all(node_dir: Path, txs: list[dict]) -> list[str]:
    code = ("import json,sys\nfrom kernelhost.chain.services.txs import submit_tx\n"
            f"txs = json.loads({json.dumps(json.dumps(txs))})\n"
            "print(json.dumps([submit_tx(tx).tx_hash for tx in txs]))\n")
    return json.loads(shell(node_dir, code).strip().splitlines()[-1])


def prepare_node(node_dir: Path, *, config: Path = TEST_GENESIS, postgres: bool = False) -> Path:
    node_dir.mkdir(parents=True, exist_ok=True)
    if postgres:
        use_postgres(node_dir, f"kc_node_{os.getpid()}_prepared")
    must(manage(node_dir, "migrate", "-v", "0"))
    must(manage(node_dir, "initnode", "--config", str(config)))
    return node_dir
