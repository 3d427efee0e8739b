"""A node in its own directory, driven through `manage.py` subprocesses.

Each node directory holds `swingstore.sqlite` and, with SQLite, `chain.sqlite3` (the chain
database, through KERNELCONSOLE_VAR_DIR). With PostgreSQL (DATABASE_URL set) each node gets
its own database instead, named in a `database_url` file in the directory. A prepared node is
copied per run (`CREATE DATABASE ... TEMPLATE` on PostgreSQL) instead of being rebuilt. State
is read back with sqlite3/psycopg directly, never through a second writer.

The same approach as tests/node/nodekit.py (the crash matrix), in the product tree so the
`simulate` command can use it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CRASH_EXIT = 86
SETTINGS = "console.settings.test"


def database_url(node_dir: Path) -> str | None:
    marker = node_dir / "database_url"
    return marker.read_text().strip() if marker.exists() else None


def _pg_url(name: str, base: str | None = None) -> str:
    base = base or os.environ["DATABASE_URL"]
    return base.rsplit("/", 1)[0] + "/" + name


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:  # the maintenance database
        conn.execute(sql)


def postgres_available() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


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
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "KERNELCONSOLE_VAR_DIR": str(node_dir),
        "SWINGSTORE_PATH": str(node_dir / "swingstore.sqlite"),
        "PYTHONHASHSEED": "0",
        "LOG_LEVEL": "WARNING",
    })
    if failpoints:
        env["KERNELHOST_FAILPOINTS"] = failpoints
    return env


def manage(node_dir: Path, *args: str, failpoints: str | None = None, stdin: str | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=REPO,
                          env=node_env(node_dir, failpoints), input=stdin, capture_output=True, text=True,
                          timeout=timeout)


class NodeCommandError(RuntimeError):
    pass


def must(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise NodeCommandError(f"{' '.join(map(str, result.args[2:]))}: exit {result.returncode}\n"
                               f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def shell(node_dir: Path, code: str) -> str:
    return must(manage(node_dir, "shell", "-c", code)).stdout


def copy_node(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock", "database_url"))
    template = database_url(src)
    if template:
        use_postgres(dst, f"kc_sim_{os.getpid()}_{dst.parent.name}_{dst.name}"[:63].lower(),
                     template=template.rsplit("/", 1)[1])
    return dst


def remove_node(node_dir: Path) -> None:
    drop_postgres(node_dir)
    shutil.rmtree(node_dir, ignore_errors=True)


class _Conn:
    """sqlite3 or psycopg, one `execute(sql) -> cursor` for both."""

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


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def app_hashes(node_dir: Path) -> dict[int, str]:
    with _Conn(node_dir) as conn:
        return dict(conn.execute("SELECT height, app_hash FROM chain_block WHERE state='committed'").fetchall())


def replayed_heights(node_dir: Path) -> list[int]:
    with _Conn(node_dir) as conn:
        return [h for (h,) in conn.execute("SELECT height FROM chain_block WHERE replayed ORDER BY height")]


def export_data_mirror(node_dir: Path) -> dict[str, str]:
    with _Conn(node_dir) as conn:
        return dict(conn.execute("SELECT key, value FROM chain_exportdataentry"))


def swingstore_export_data(node_dir: Path) -> dict[str, str]:
    from kernelhost.swingstore import export_swingstore

    export_data, _artifacts = export_swingstore(node_dir / "swingstore.sqlite", artifact_mode="operational")
    return dict(export_data)


def chain_state(node_dir: Path) -> dict:
    """Consensus state and tx results, in a comparable form."""
    with _Conn(node_dir) as conn:
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


def submit_all(node_dir: Path, txs: list[dict], *, prelude: str = "") -> list[str]:
    """Put `txs` in the node's mempool in this order (one subprocess); their tx hashes."""
    code = (f"{prelude}import json\nfrom kernelhost.chain.services.txs import submit_tx\n"
            f"txs = json.loads({json.dumps(json.dumps(txs))})\n"
            "print(json.dumps([submit_tx(tx).tx_hash for tx in txs]))\n")
    return json.loads(shell(node_dir, code).strip().splitlines()[-1])


def prepare_node(node_dir: Path, *, config: Path | None = None, postgres: bool = False,
                 pg_name: str | None = None) -> Path:
    """Migrate and run genesis in a fresh node directory."""
    node_dir.mkdir(parents=True, exist_ok=True)
    if postgres:
        use_postgres(node_dir, (pg_name or f"kc_sim_{os.getpid()}_prepared")[:63].lower())
    must(manage(node_dir, "migrate", "-v", "0"))
    must(manage(node_dir, "initnode", *(["--config", str(config)] if config else [])))
    return node_dir
