"""A throwaway node and console, as real processes, for the soak and HTTP-load benchmarks.

    with Stack(block_time_ms=1000) as stack:   # migrate + genesis in a temp directory
        stack.start()                          # the console (and node) start serving
        stack.session_cookie()                 # a logged-in operator's session
        stack.manage("loadgen", ...)           # any command against the same node
        stack.rss_mb()                         # {"node": ..., "server": ...}

The processes are the ones an operator runs: in embedded mode (no REDIS_URL) one `serve`
process holds the ASGI server and the node runner thread; with REDIS_URL, `runnode` and
`serve --no-node` run apart and the live events cross Redis, so their memory is measured
separately. The chain database is a SQLite file in the directory or, with DATABASE_URL, a
PostgreSQL database of its own (dropped at the end); a real node's data is never touched.
Settings are the base settings with DEBUG off, as in production, with a one-off secret.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psutil

from kernelhost.sim import nodeproc

REPO = Path(__file__).resolve().parents[2]
# What counts as an error in a process's log: logging's ERROR/CRITICAL lines and tracebacks.
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StackError(RuntimeError):
    pass


class Stack:
    def __init__(self, *, block_time_ms: int = 1000, keep: bool | None = None) -> None:
        self.block_time_ms = block_time_ms
        # KC_KEEP_STACK=1 keeps the directory (logs, databases) for a post-mortem.
        self.keep = os.environ.get("KC_KEEP_STACK") == "1" if keep is None else keep
        self.dir = Path(tempfile.mkdtemp(prefix="kc-stack-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis_url = os.environ.get("REDIS_URL") or None
        self.mode = "redis" if self.redis_url else "embedded"
        self.processes: dict[str, subprocess.Popen] = {}
        self._old_sigterm = None
        self.env = self._make_env()

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        if threading.current_thread() is threading.main_thread():
            # A SIGTERM to the benchmark unwinds through __exit__, which stops the servers;
            # Python's default would leave them running without their parent.
            self._old_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            if nodeproc.postgres_available():
                nodeproc.use_postgres(self.dir, f"kc_stack_{os.getpid()}_{self.port}")
                self.env["DATABASE_URL"] = nodeproc.database_url(self.dir)
            self.must("migrate", "-v", "0")
            self.must("initnode")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stop()
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None
        if not self.keep:
            nodeproc.drop_postgres(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)

    def _make_env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "KERNELHOST_FAILPOINTS", "SWINGSTORE_PATH", "DJANGO_SETTINGS_MODULE")}
        env.update({
            "DJANGO_SETTINGS_MODULE": "console.settings.base",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),  # per run, never stored
            "SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
            "CSRF_COOKIE_SECURE": "false",
            "KERNELCONSOLE_VAR_DIR": str(self.dir),
            "SWINGSTORE_PATH": str(self.dir / "swingstore.sqlite"),
            "JOBS_MODE": "inprocess",  # no rq worker in the stack
            "PYTHONHASHSEED": "0",
            "LOG_LEVEL": "WARNING",
        })
        return env

    # -- commands ------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float | None = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def must(self, *args: str, timeout: float | None = 600) -> subprocess.CompletedProcess:
        result = self.manage(*args, timeout=timeout)
        if result.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)}: exit {result.returncode}\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return result

    def popen(self, name: str, *args: str) -> subprocess.Popen:
        """A long-running manage.py command; its output goes to `<name>.log` in the directory."""
        log = open(self.dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen([sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT, text=True)
        log.close()  # the child holds its own descriptor
        self.processes[name] = process
        return process

    def start(self, timeout: float = 60) -> None:
        block = str(self.block_time_ms)
        if self.mode == "redis":
            self.popen("node", "runnode", "--block-time-ms", block, "--quiet")
            self.popen("server", "serve", "--no-node", "--port", str(self.port))
        else:
            self.popen("server", "serve", "--port", str(self.port), "--block-time-ms", block)
        self.wait_http("/accounts/login/", timeout)  # public; /healthz is a (logged) 503 until block 1

    def wait_http(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise StackError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=5):
                    return
            except urllib.error.HTTPError:
                return  # it answers (503 until the first block: the health report says why)
            except OSError:
                if time.monotonic() > deadline:
                    raise StackError(f"the console did not answer on {self.url} in {timeout:.0f}s") from None
                time.sleep(0.2)

    def stop(self, timeout: float = 60) -> dict[str, int | None]:
        """SIGINT/SIGTERM as an operator would (finish the block, close connections), then wait."""
        codes: dict[str, int | None] = {}
        for name, process in self.processes.items():
            if process.poll() is None:
                process.send_signal(signal.SIGINT if name == "server" else signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.processes = {}
        return codes

    # -- what the benchmarks read -----------------------------------------------------------
    def session_cookie(self, username: str = "bench-operator") -> str:
        """A logged-in operator's session key (sessions live in the database)."""
        code = ("from django.test import Client\n"
                "from console.roles import OPERATORS\n"
                "from console.services.users import user_create_with_roles\n"
                f"u = user_create_with_roles(username={username!r}, password='bench-pass-not-secret-1', "
                "roles=(OPERATORS,))\n"
                "c = Client(); c.force_login(u); print(c.cookies['sessionid'].value)\n")
        return self.must("shell", "-c", code).stdout.strip().splitlines()[-1]

    def pids(self) -> dict[str, int]:
        """Which process to measure for the node and for the ASGI server."""
        server = self.processes["server"].pid
        return {"node": self.processes["node"].pid if "node" in self.processes else server, "server": server}

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the node and server processes, and of the node's vat workers."""
        figures = {}
        for role, pid in self.pids().items():
            try:
                process = psutil.Process(pid)
                figures[role] = process.memory_info().rss / 2**20
                if role == "node":
                    figures["workers"] = sum(c.memory_info().rss for c in process.children(recursive=True)) / 2**20
            except psutil.NoSuchProcess:
                figures[role] = float("nan")
        return figures

    def store_mb(self) -> dict[str, float]:
        """On-disk size of the swing-store (with its WAL) and, on SQLite, the chain database:
        the node's SQLite page cache and read caches grow with them, up to their bounds."""
        sizes = {}
        for name, stem in (("swingstore", "swingstore.sqlite"), ("chain", "chain.sqlite3")):
            files = [self.dir / stem, self.dir / f"{stem}-wal"]
            if files[0].exists():
                sizes[name] = round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1)
        return sizes

    def alive(self) -> dict[str, int | None]:
        return {name: process.poll() for name, process in self.processes.items()}

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def logged_errors(self) -> list[str]:
        """ERROR/CRITICAL lines, and each traceback as its last line (the exception itself)."""
        found = []
        for path in sorted(self.dir.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if line.startswith("Traceback "):
                    end = i + 1
                    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
                        end += 1
                    found.append(f"{path.stem}: traceback: {lines[end].strip() if end < len(lines) else '?'}")
                elif ERROR_LINE.search(line):
                    found.append(f"{path.stem}: {line.strip()}")
        return found

    def blocks(self) -> list[tuple[int, float, float]]:
        """(height, proposed→committed ms, committed_at epoch s) of every committed block."""
        with nodeproc._Conn(self.dir) as conn:
            rows = conn.execute("SELECT height, proposed_at, committed_at FROM chain_block "
                                "WHERE state='committed' ORDER BY height").fetchall()
        return [(h, (_ts(c) - _ts(p)) * 1000, _ts(c)) for h, p, c in rows]

    def busiest_vat(self) -> tuple[str, int]:
        """The vat with the longest transcript and its length, for the transcript page."""
        from console.node.selectors_kernel import vat_list
        from kernelhost.swingstore import open_swingstore

        store = open_swingstore(self.dir / "swingstore.sqlite", readonly=True)
        try:
            with store.read_transaction():
                rows = vat_list(store=store)
        finally:
            store.close()
        row = max(rows, key=lambda row: (row["transcriptLength"], row["id"]))
        return row["id"], row["transcriptLength"]


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _ts(value) -> float:
    """A timestamp column as epoch seconds (psycopg gives datetimes, sqlite3 ISO strings)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
