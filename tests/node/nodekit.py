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
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_GENESIS = Path(__file__).resolve().parent / "genesis-test.json"
CRASH_EXIT = 86


def database_url(node_dir: Path) -> str | None:
    marker = node_dir / "database_url"
    return marker.read_text().strip() if marker.exists() else None


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:  # the maintenance database
        conn.execute(sql)


def _pg_url(name: str) -> str:
    base = os.environ["DATABASE_URL"]
    return base.rsplit("/", 1)[0] + "/" + name


def use_postgres(node_dir: Path, name: str, template: str | None = None) -> None:
    """Give the node its own PostgreSQL database (copied from `template`'s if given)."""
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    node_dir.mkdir(parents=True, exist_ok=True)
    (node_dir / "database_url").write_text(_pg_url(name))


def drop_postgres(node_dir: Path) -> None:
    url = database_url(node_dir)
    if url:
        _pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')


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


class _Conn:
    """sqlite3 or psycopg, one `execute(sql) -> rows` for both."""

    def __init__(self, node_dir: Path) -> None:
        url = database_url(node_dir)
        if url:
            import psycopg

            self.conn = psycopg.connect(url)
        else:
            self.conn = sqlite3.connect(f"file:{node_dir / 'chain.sqlite3'}?mode=ro", uri=True)

    def execute(self, sql: str):
        cursor = self.conn.cursor()
        cursor.execute(sql)
        return cursor

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()


def _db(node_dir: Path) -> _Conn:
    return _Conn(node_dir)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def app_hashes(node_dir: Path) -> dict[int, str]:
    with _db(node_dir) as conn:
        rows = conn.execute("SELECT height, app_hash FROM chain_block WHERE state='committed'").fetchall()
    return dict(rows)


def replayed_heights(node_dir: Path) -> list[int]:
    with _db(node_dir) as conn:
        return [h for (h,) in conn.execute("SELECT height FROM chain_block WHERE replayed ORDER BY height")]


def export_data_mirror(node_dir: Path) -> dict[str, str]:
    with _db(node_dir) as conn:
        return dict(conn.execute("SELECT key, value FROM chain_exportdataentry"))


def swingstore_export_data(node_dir: Path) -> dict[str, str]:
    from kernelhost.swingstore import export_swingstore

    export_data, _artifacts = export_swingstore(node_dir / "swingstore.sqlite", artifact_mode="operational")
    return dict(export_data)


def chain_state(node_dir: Path) -> dict:
    with _db(node_dir) as conn:
        return {
            "height": tuple(conn.execute("SELECT height, app_hash, kernel_state FROM chain_nodestate").fetchone()),
            "balances": [(a, d, str(int(m))) for a, d, m in conn.execute(
                "SELECT address, denom, amount FROM chain_balance ORDER BY address, denom")],
            "actions": [tuple(r) for r in conn.execute(
                "SELECT seq, action_id, kind, state, consumed_height FROM chain_action ORDER BY seq")],
            "storage": [tuple(r) for r in conn.execute("SELECT path, value FROM chain_storageentry ORDER BY path")],
            "txs": [(h, i, t, c, _json(d)) for h, i, t, c, d in conn.execute(
                "SELECT height, \"index\", type, code, data FROM chain_transaction ORDER BY height, \"index\"")],
            "export": tuple(conn.execute("SELECT count(*) FROM chain_exportdataentry").fetchone()),
        }


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
