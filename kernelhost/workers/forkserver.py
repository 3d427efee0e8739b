"""A fork server for subprocess vat workers.

Starting a worker from nothing costs an interpreter start, mounting the kernel bundle,
importing the supervisor, liveslots, the sandbox and every module vat code may import: about
80 ms, nearly all of it the same in every worker. Under dynamic-vat churn (more vats than
``maxVatsOnline``, so the warehouse keeps evicting and reloading) that was the node's
throughput limit. A fork server runs the same bootstrap (bootstrap.py, ``"forkServer": true``
in its header) up to the point where a worker would start serving, then waits; each
``spawn()`` hands it three pipe ends over a Unix socket (SCM_RIGHTS) and it forks a child
that continues the bootstrap from there: its own pipes on fds 3 and 4, no child processes
(RLIMIT_NPROC 0), nothing further to open (RLIMIT_NOFILE), then ``supervisor.main``. The
child is the same worker a fresh start would make, from the same bundle bytes.

The fork server is single-threaded, so forking it is safe (forking the node, which serves
websockets and runs jobs on threads, is not). It reaps its children and reports each exit
status to the node, so a worker's death still says "killed (SIGKILL)" or "CPU time limit
exceeded". It exits when the node closes the socket; its workers exit when their own pipes
close. One server per kernel bundle and limits, per node process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from . import protocol
from .bootstrap import BOOTSTRAP

__all__ = ["ForkServer", "ForkServerGone", "ForkedProcess", "fork_server_for", "kill_and_reap"]

_KEEP = 4  # servers per node process: one kernel bundle at a time, two around an upgrade
_SERVERS: dict[tuple, ForkServer] = {}
_SERVERS_LOCK = threading.Lock()


class ForkServerGone(Exception):
    """The fork server cannot start workers (it exited, or never started)."""


class ForkedProcess:
    """The part of `subprocess.Popen` a SubprocessWorker uses, for a forked worker. Not the
    node's child: its exit status comes from the fork server (None if the server is gone)."""

    def __init__(self, server: ForkServer, pid: int, stdin, stdout, stderr):
        self._server = server
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.exit_status(self.pid, 0.0, blocking=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.exit_status(self.pid, timeout)
        return self.returncode

    def kill(self) -> None:
        # poll() first: once the server has reported the exit, the pid may belong to
        # someone else.
        if self.poll() is None and not self._server.lost(self.pid):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class ForkServer:
    """One fork-server process. `spawn()` is thread-safe."""

    def __init__(self, *, python: str, flags: tuple, env: dict, startup: bytes, startup_seconds: float):
        """Start the process and send it `startup` (header, kernel bundle, code objects: the
        frames a fresh worker gets); raises ForkServerGone if it does not report ready."""
        self._lock = threading.Lock()
        self._buffer = protocol.FrameBuffer()
        self._exits: dict[int, int] = {}
        self._spawned: dict[int, int] = {}
        self._requests = 0
        self._dead: str | None = None
        self._ready = False
        self._tmpdir = tempfile.mkdtemp(prefix="vat-forkserver-")
        self._sock, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # The socket is the server's stdin and stdout: the bootstrap reads its startup
            # frames from fd 0 and answers on fd 1 as a worker would.
            self._proc = subprocess.Popen(
                [python, *flags, "-c", BOOTSTRAP], stdin=child_end, stdout=child_end, stderr=None,
                cwd=self._tmpdir, env=dict(env), close_fds=True, start_new_session=True)
        except OSError as exc:
            self._sock.close()
            raise ForkServerGone(f"cannot start the fork server: {exc}") from exc
        finally:
            child_end.close()
        deadline = time.monotonic() + startup_seconds
        with self._lock:
            try:
                self._sock.settimeout(startup_seconds)
                self._sock.sendall(startup)
                while self._dead is None and not self._ready:
                    self._pump(deadline)
            except OSError as exc:
                self._mark_dead(f"startup failed: {exc}")
            if self._dead is not None:
                self.close()
                raise ForkServerGone(self._dead)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._dead is None and self._proc.poll() is None

    def spawn(self, timeout: float) -> ForkedProcess:
        """Fork a worker; returns it with the node's ends of its stdin, stdout and stderr."""
        deadline = time.monotonic() + timeout
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        err_r, err_w = os.pipe()
        ours, theirs = (to_child_w, from_child_r, err_r), (to_child_r, from_child_w, err_w)
        try:
            with self._lock:
                if self._dead is not None:
                    raise ForkServerGone(self._dead)
                self._requests += 1
                request = self._requests
                try:
                    self._sock.settimeout(timeout)
                    socket.send_fds(self._sock, [protocol.encode(["spawn", request])], list(theirs))
                    while request not in self._spawned and self._dead is None:
                        self._pump(deadline)
                except OSError as exc:
                    self._mark_dead(f"spawn failed: {exc}")
                if self._dead is not None:
                    raise ForkServerGone(self._dead)
                pid = self._spawned.pop(request)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        return ForkedProcess(self, pid, os.fdopen(to_child_w, "wb", buffering=0),
                             os.fdopen(from_child_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0))

    def exit_status(self, pid: int, timeout: float | None, *, blocking: bool = True) -> int | None:
        """The exit status of worker `pid` (as Popen.returncode), waiting up to `timeout`;
        None if it is still running and `timeout` is 0, or if the server is gone (the status
        is lost). Raises subprocess.TimeoutExpired when a positive timeout runs out."""
        if not self._lock.acquire(blocking=blocking):
            return None  # another thread is reading the socket (or a finalizer runs mid-read)
        try:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                if pid in self._exits:
                    return self._exits.pop(pid)
                if self._dead is not None:
                    return None
                if not self._pump(deadline):
                    if not timeout:
                        return None
                    raise subprocess.TimeoutExpired(f"vat worker {pid}", timeout)
        finally:
            self._lock.release()

    def lost(self, pid: int) -> bool:
        """True when worker `pid` can no longer be told apart from a reused pid."""
        return self._dead is not None and not _exists(pid)

    def close(self) -> None:
        """Stop the server (its running workers go on; their exit statuses are lost)."""
        try:
            self._sock.close()
        except OSError:
            pass
        kill_and_reap(self._proc)
        self._mark_dead("closed")
        try:
            os.rmdir(self._tmpdir)
        except OSError:
            pass

    # ------------------------------------------------------------------ internals (lock held)
    def _pump(self, deadline: float | None) -> bool:
        """Read what the server sent, until one message arrived or `deadline` passed (None:
        wait). Returns False on timeout."""
        while True:
            payload = self._buffer.next_frame()
            if payload is not None:
                self._handle(protocol.decode(payload))
                return True
            if deadline is None:
                self._sock.settimeout(None)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._sock.settimeout(0.0)
                else:
                    self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(1 << 16)
            except (BlockingIOError, TimeoutError):
                return False
            except OSError as exc:
                self._mark_dead(f"lost the fork server: {exc}")
                return True
            if not chunk:
                self._mark_dead(f"the fork server (pid {self._proc.pid}) exited")
                return True
            self._buffer.feed(chunk)

    def _handle(self, message: list) -> None:
        kind = message[0]
        if kind == "exit":
            self._exits[int(message[1])] = int(message[2])
            if len(self._exits) > 10_000:  # statuses nobody asked for (a worker never waited on)
                self._exits.pop(next(iter(self._exits)))
        elif kind == "spawned":
            self._spawned[int(message[1])] = int(message[2])
        elif kind == "forkServerReady":
            self._ready = True
        elif kind == "fatal":
            self._mark_dead(f"the fork server failed: {message[1]}")
        else:
            self._mark_dead(f"protocol error: unexpected {kind!r} from the fork server")

    def _mark_dead(self, reason: str) -> None:
        if self._dead is None:
            self._dead = reason


def kill_and_reap(proc) -> None:
    """SIGKILL `proc` (a Popen or ForkedProcess) unless it has exited, and wait up to 5 s."""
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fork_server_for(key: tuple, make_startup, *, startup_seconds: float, python: str = sys.executable,
                    flags: tuple, env: dict) -> ForkServer | None:
    """The running fork server for `key` (kernel bundle ID and the limits the bootstrap
    applies), started with `make_startup()`'s frames when there is none or it died. None when
    one cannot be started: the caller starts the worker the slow way."""
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is not None and server.alive:
            return server
        if server is not None:
            _SERVERS.pop(key).close()
        try:
            server = ForkServer(python=python, flags=flags, env=env, startup=make_startup(),
                                startup_seconds=startup_seconds)
        except ForkServerGone:
            return None
        while len(_SERVERS) >= _KEEP:
            _SERVERS.pop(next(iter(_SERVERS))).close()
        _SERVERS[key] = server
        return server
