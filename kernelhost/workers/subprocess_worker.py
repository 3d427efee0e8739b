"""Subprocess vat workers: one OS process per vat, with memory, CPU and file limits.

`SubprocessWorker` implements the kernel's worker interface (kernelhost/kernel/worker.py):

    result, trailing = worker.deliver(delivery, syscall_handler)
    worker.shutdown()

and `make_worker_factory()` returns the ``worker_factory(spec)`` the controller takes.

The worker process runs ``python -s -S -P -B -c BOOTSTRAP`` (see bootstrap.py) in an empty
temporary directory with the environment ``{"PYTHONHASHSEED": "0"}`` and nothing else. It
loads the supervisor, liveslots and the sandbox from the kernel bundle sent over the pipe,
never from the source tree. Limits: RLIMIT_AS (memory), RLIMIT_CPU re-armed before each
delivery (CPU seconds per delivery), RLIMIT_NOFILE down to the open pipes, RLIMIT_FSIZE 0,
RLIMIT_NPROC 0, RLIMIT_CORE 0, and a wall-clock limit per delivery enforced here.

By default the process is forked from a fork server (forkserver.py) that has run the same
bootstrap up to the point a worker starts serving: the same worker, from the same bundle
bytes, in ~9 ms instead of ~70 ms. ``fork_server=False``, another interpreter, or a server
that cannot start gives the fresh start described above.

Whatever goes wrong with the process -- killed, crashed, out of memory, over its CPU or
wall-clock budget, a protocol violation -- `deliver()` raises `WorkerDied(reason)`; the
worker is then dead for good and the kernel should terminate the vat (or panic if it is
critical), never the node. A syscall handler that raises (a kernel panic, a replay
mismatch) kills the worker and its exception propagates unchanged.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import io
import marshal
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from . import forkserver, protocol
from .bootstrap import BOOTSTRAP

__all__ = ["WorkerLimits", "WorkerDied", "SubprocessWorker", "make_worker_factory",
           "find_supervisor_module", "WORKER_ENV", "PYTHON_FLAGS"]

# -s no user site, -S no site (so no site-packages: nothing of the venv, no kernelhost),
# -P no script/cwd directory on sys.path, -B never write .pyc (RLIMIT_FSIZE is 0).
# Not -I: it implies -E, which would ignore PYTHONHASHSEED.
PYTHON_FLAGS = ("-s", "-S", "-P", "-B")
WORKER_ENV = {"PYTHONHASHSEED": "0"}
BUNDLE_PACKAGE = "_kernelbundle"  # the private name the kernel bundle is mounted under
GiB = 1 << 30


@dataclass(frozen=True)
class WorkerLimits:
    """Resource limits of one worker process. None disables a limit.

    cpu_seconds is per delivery (RLIMIT_CPU is re-armed before each one); wall_seconds is
    the time the kernel waits for a delivery (or a syscall answer's follow-up) before it
    kills the worker; startup_seconds bounds process start + bundle load + setup.
    """

    memory_bytes: int | None = 1 * GiB
    cpu_seconds: float | None = 30.0
    wall_seconds: float | None = 120.0
    startup_seconds: float = 60.0
    nofile: int = 0  # 0: only the descriptors open when the supervisor starts


class WorkerDied(Exception):
    """The worker process is gone or had to be stopped. `reason` says why.

    The kernel runs from a bundle under a private module name, so it cannot import this
    class: it should treat any exception escaping ``worker.deliver()`` that is not one of
    its own as a dead worker (``getattr(exc, "worker_died", False)`` is True here)."""

    worker_died = True

    def __init__(self, reason: str, *, returncode: int | None = None, stderr: str = ""):
        self.reason = reason
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(reason)


def find_supervisor_module(files: dict[str, bytes], entry_module: str) -> str:
    """The dotted name, inside the kernel bundle, of the supervisor module: next to the
    kernel's entry package (``kernel/supervisor.py`` for entry ``kernel``), else the only
    ``supervisor.py`` in the bundle."""
    base = entry_module.replace(".", "/")
    package_dirs = []
    if base + "/__init__.py" in files:
        package_dirs.append(base + "/")
    if "/" in base:
        package_dirs.append(base.rsplit("/", 1)[0] + "/")
    package_dirs.append("")
    for prefix in package_dirs:
        if prefix + "supervisor.py" in files:
            return (prefix + "supervisor").replace("/", ".")
    candidates = sorted(m for m in files if m == "supervisor.py" or m.endswith("/supervisor.py"))
    if len(candidates) == 1:
        return candidates[0][:-3].replace("/", ".")
    raise WorkerDied(f"kernel bundle has no unique supervisor module (found {candidates})")


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


class _StderrTail(threading.Thread):
    """Drains the worker's stderr (a full pipe would block it) and keeps the last bytes for
    the WorkerDied reason (a traceback, a fatal error)."""

    def __init__(self, stream, limit: int = 8192):
        super().__init__(name="vat-worker-stderr", daemon=True)
        self.stream = stream
        self.chunks: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.limit = limit

    def run(self):
        try:
            while True:
                chunk = os.read(self.stream.fileno(), 4096)
                if not chunk:
                    break
                self.chunks.append(chunk)
                self.size += len(chunk)
                while self.size > self.limit and len(self.chunks) > 1:
                    self.size -= len(self.chunks.popleft())
        except OSError:
            pass

    def text(self) -> str:
        return b"".join(self.chunks)[-self.limit:].decode("utf-8", "replace")


_PRECOMPILED: dict[str, bytes] = {}  # kernel bundle ID -> marshalled {file name: code object}
_PRECOMPILED_KEEP = 4  # a node runs one kernel bundle at a time (two around an upgrade)
_PRECOMPILED_LOCK = threading.Lock()


def precompiled_bundle(kernel_bundle: bytes, bundle_id: str) -> bytes | None:
    """The kernel bundle's modules compiled once per node process, as the bootstrap would
    compile them in each worker (same file names, `dont_inherit`), marshalled. None when the
    bytes are not the bundle `bundle_id` names (the worker refuses those; and the cache is
    keyed by what the bytes are, never by what a caller says they are)."""
    data = bytes(kernel_bundle)
    if "b1-" + hashlib.sha512(data).hexdigest() != bundle_id:
        return None
    with _PRECOMPILED_LOCK:
        cached = _PRECOMPILED.get(bundle_id)
        if cached is None:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                cached = marshal.dumps({
                    name: compile(zf.read(name), "<kernel-bundle>/" + name, "exec", dont_inherit=True)
                    for name in sorted(zf.namelist()) if name.endswith(".py")})
            while len(_PRECOMPILED) >= _PRECOMPILED_KEEP:
                _PRECOMPILED.pop(next(iter(_PRECOMPILED)))
            _PRECOMPILED[bundle_id] = cached
        return cached


class SubprocessWorker:
    """One vat in its own process. Not thread-safe: one delivery at a time (the kernel is
    single-threaded)."""

    def __init__(self, *, kernel_bundle: bytes, kernel_bundle_id: str, setup: dict,
                 limits: WorkerLimits | None = None, supervisor_module: str | None = None,
                 python: str | None = None, log: Callable[[str], None] | None = None,
                 name: str = "vat", fork_server: bool = True):
        """Start the process, send it the kernel bundle and `setup`, wait until it is ready.

        setup: ``{"mode": "liveslots", "files": {path: source text}, "entry": ...}`` (the
            vat's bundle) or ``{"mode": "echo"}`` (transport tests).
        supervisor_module: dotted name of supervisor.py inside the kernel bundle; found from
            the bundle's manifest when None.
        Raises WorkerDied if the worker cannot start.
        """
        self.limits = limits or WorkerLimits()
        self.name = name
        self.log = log
        self._dead: WorkerDied | None = None
        self._buffer = protocol.FrameBuffer()
        if supervisor_module is None:
            from kernelhost.swingstore.bundleformat import read_bundle_files, validate_bundle

            manifest = validate_bundle(kernel_bundle, kernel_bundle_id)
            supervisor_module = find_supervisor_module(read_bundle_files(kernel_bundle), manifest.entry_module)
        own_interpreter = python in (None, sys.executable)
        self._tmpdir = None
        self._proc = None
        startup = b""
        if fork_server and own_interpreter:
            self._proc = self._fork(kernel_bundle, kernel_bundle_id, supervisor_module)
        if self._proc is None:
            # Code objects are only portable to the same interpreter (marshal's format is per version).
            codes = precompiled_bundle(kernel_bundle, kernel_bundle_id) if own_interpreter else None
            startup = self._startup_frames(kernel_bundle, kernel_bundle_id, supervisor_module, codes,
                                           fork_server=False)
            self._tmpdir = tempfile.mkdtemp(prefix="vat-worker-")
            try:
                self._proc = subprocess.Popen(
                    [python or sys.executable, *PYTHON_FLAGS, "-c", BOOTSTRAP],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    cwd=self._tmpdir, env=dict(WORKER_ENV), close_fds=True, bufsize=0,
                    start_new_session=True)  # a Ctrl-C to the node's process group is the node's business
            except OSError as exc:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                raise WorkerDied(f"cannot start worker process: {exc}") from exc
        self._wfd = self._proc.stdin.fileno()
        self._rfd = self._proc.stdout.fileno()
        os.set_blocking(self._wfd, False)
        self._poll_in = select.poll()
        self._poll_in.register(self._rfd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._poll_out = select.poll()
        self._poll_out.register(self._wfd, select.POLLOUT | select.POLLERR)
        self._stderr = _StderrTail(self._proc.stderr)
        self._stderr.start()
        deadline = time.monotonic() + self.limits.startup_seconds
        try:
            if startup:
                self._write(startup, deadline)
            self._expect("ready", deadline)
            self._send(["setup", setup], deadline)
            self._expect("setupDone", deadline)
        except WorkerDied:
            self._cleanup()
            raise

    def _startup_frames(self, kernel_bundle: bytes, kernel_bundle_id: str, supervisor_module: str,
                        codes: bytes | None, *, fork_server: bool) -> bytes:
        """What the bootstrap reads first: header, kernel bundle, code objects if any."""
        header = protocol.make_header(
            bundle_id=kernel_bundle_id, supervisor_module=supervisor_module, package=BUNDLE_PACKAGE,
            preimport=[], nofile=self.limits.nofile, cpu_seconds=self.limits.cpu_seconds,
            memory_bytes=self.limits.memory_bytes, precompiled=codes is not None, fork_server=fork_server)
        frames = protocol.encode(header) + protocol.encode_raw(bytes(kernel_bundle))
        if codes is not None:
            frames += protocol.encode_raw(codes)
        return frames

    def _fork(self, kernel_bundle: bytes, kernel_bundle_id: str, supervisor_module: str):
        """A worker forked by this bundle's fork server, or None (no server: start afresh)."""
        limits = self.limits
        key = (kernel_bundle_id, supervisor_module, limits.nofile, limits.cpu_seconds, limits.memory_bytes)

        def startup() -> bytes:
            codes = precompiled_bundle(kernel_bundle, kernel_bundle_id)
            if codes is None:  # the bytes are not that bundle: let the fresh start refuse them
                raise forkserver.ForkServerGone("kernel bundle does not match its ID")
            return self._startup_frames(kernel_bundle, kernel_bundle_id, supervisor_module, codes,
                                        fork_server=True)

        try:
            server = forkserver.fork_server_for(key, startup, startup_seconds=limits.startup_seconds,
                                                flags=PYTHON_FLAGS, env=WORKER_ENV)
            return None if server is None else server.spawn(limits.startup_seconds)
        except forkserver.ForkServerGone:
            return None

    # ------------------------------------------------------------------ the worker interface
    def deliver(self, delivery: list, syscall_handler: Callable[[list], list]) -> tuple[list, list]:
        """Run one delivery; returns ``(result, trailing_syscalls)``. Syscalls that need an
        answer reach `syscall_handler(batch)` (batch = pending no-answer syscalls + that
        one, in order) while the worker waits."""
        self._check_alive()
        deadline = None if self.limits.wall_seconds is None else time.monotonic() + self.limits.wall_seconds
        self._send(["deliver", delivery], deadline)
        while True:
            message = self._recv(deadline)
            kind = message[0]
            if kind == "syscall":
                batch = message[2]
                batch.append(message[1])
                try:
                    answer = syscall_handler(batch)
                except BaseException:
                    # The kernel gave up mid-delivery: the worker is waiting for an answer
                    # that will not come. Stop it; the kernel's exception goes on up.
                    self._die("stopped: the kernel's syscall handler raised", kill=True)
                    raise
                self._send(["result", answer], deadline)
            elif kind == "done":
                return message[1], message[2]
            elif kind == "log":
                if self.log is not None:
                    self.log(message[1])
            elif kind == "fatal":
                raise self._die(str(message[1]), kill=True)
            else:
                raise self._die(f"protocol error: unexpected {kind!r} during a delivery", kill=True)

    def shutdown(self) -> None:
        """Ask the worker to exit; kill it if it does not within a second. Idempotent."""
        if self._dead is None:
            try:
                deadline = time.monotonic() + 1.0
                self._send(["shutdown"], deadline)
                self._expect("bye", deadline)
                self._proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except (WorkerDied, subprocess.TimeoutExpired):
                pass
            if self._dead is None:
                self._dead = WorkerDied("shut down", returncode=self._proc.returncode)
        self._cleanup()

    # ------------------------------------------------------------------ extras
    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._dead is None and self._proc.poll() is None

    def kill(self) -> None:
        """Kill the process now (an operator's "stop this vat's worker")."""
        if self._dead is None:
            self._die("killed by the host", kill=True)
        self._cleanup()

    def probe(self) -> dict:
        """Diagnostics from inside the worker: environment, sys.path, limits, flags."""
        self._check_alive()
        deadline = time.monotonic() + 10.0
        self._send(["probe"], deadline)
        return self._expect("probe", deadline)[1]

    def ping(self, value=None):
        """One framed round trip (benchmarks)."""
        self._check_alive()
        self._send(["ping", value], None)
        return self._expect("pong", None)[1]

    def __del__(self):
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass

    # ------------------------------------------------------------------ transport
    def _check_alive(self):
        if self._dead is not None:
            raise WorkerDied(f"worker is dead ({self._dead.reason})", returncode=self._dead.returncode,
                             stderr=self._dead.stderr)

    def _send(self, message, deadline):
        self._write(protocol.encode(message), deadline)

    def _write(self, data: bytes, deadline):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._wfd, view)
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EBADF):
                    raise self._die(None) from None
                raise
            timeout = self._timeout_ms(deadline)
            if not self._poll_out.poll(timeout) and timeout is not None:
                raise self._die(self._timeout_reason(), kill=True)

    def _recv(self, deadline):
        while True:
            try:
                payload = self._buffer.next_frame()
            except protocol.ProtocolError as exc:
                raise self._die(f"protocol error: {exc}", kill=True) from None
            if payload is not None:
                try:
                    return protocol.decode(payload)
                except protocol.ProtocolError as exc:
                    raise self._die(f"protocol error: {exc}", kill=True) from None
            timeout = self._timeout_ms(deadline)
            if not self._poll_in.poll(timeout):
                if timeout is not None:
                    raise self._die(self._timeout_reason(), kill=True)
                continue
            try:
                chunk = os.read(self._rfd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                raise self._die(None)
            self._buffer.feed(chunk)

    def _expect(self, kind: str, deadline):
        while True:
            message = self._recv(deadline)
            if message[0] == kind:
                return message
            if message[0] == "log":
                if self.log is not None:
                    self.log(message[1])
                continue
            if message[0] == "fatal":
                raise self._die(str(message[1]), kill=True)
            raise self._die(f"protocol error: expected {kind!r}, got {message[0]!r}", kill=True)

    @staticmethod
    def _timeout_ms(deadline):
        if deadline is None:
            return None
        return max(0, int((deadline - time.monotonic()) * 1000))

    def _timeout_reason(self) -> str:
        return f"no answer within the wall-clock limit ({self.limits.wall_seconds}s per delivery)"

    def _die(self, reason: str | None, *, kill: bool = False) -> WorkerDied:
        """Mark the worker dead (killing it if asked), work out why, return the exception."""
        if self._dead is not None:
            return self._dead
        if kill and self._proc.poll() is None:
            try:
                self._proc.kill()
            except OSError:
                pass
        try:
            returncode = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            returncode = self._proc.wait()
        self._stderr.join(timeout=1)
        stderr = self._stderr.text()
        if reason is None:
            reason = self._exit_reason(returncode)
        self._dead = WorkerDied(f"vat worker {self.name} (pid {self._proc.pid}): {reason}",
                                returncode=returncode, stderr=stderr)
        if stderr.strip() and "Traceback" in stderr:
            self._dead.args = (self._dead.reason + "\n" + stderr.strip()[-2000:],)
        return self._dead

    def _exit_reason(self, returncode: int) -> str:
        if returncode is None:
            return "stopped answering"
        if returncode < 0:
            sig = -returncode
            if sig == signal.SIGXCPU:
                return f"CPU time limit exceeded ({self.limits.cpu_seconds}s per delivery, SIGXCPU)"
            if sig == signal.SIGXFSZ:
                return "tried to write a file (SIGXFSZ)"
            if sig == signal.SIGKILL:
                return "killed (SIGKILL)"
            return f"killed by {_signal_name(sig)}"
        return f"exited unexpectedly with status {returncode}"

    def _cleanup(self):
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        forkserver.kill_and_reap(self._proc)
        self._stderr.join(timeout=1)
        try:
            self._proc.stderr.close()
        except OSError:
            pass
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


def vat_setup_from_bundle(vat_bundle: bytes, entry: str | None = None) -> dict:
    """The liveslots setup message for a vat bundle: its ``*.py`` sources as text."""
    from kernelhost.swingstore.bundleformat import read_bundle_files, validate_bundle

    manifest = validate_bundle(vat_bundle)
    files = read_bundle_files(vat_bundle)
    sources = {path: data.decode("utf-8") for path, data in sorted(files.items()) if path.endswith(".py")}
    return {"mode": "liveslots", "files": sources, "entry": entry or manifest.entry_member}


def make_worker_factory(*, limits: WorkerLimits | None = None,
                        log: Callable[[str, str], None] | None = None) -> Callable[[dict], SubprocessWorker]:
    """The controller's ``worker_factory(spec) -> worker`` for subprocess workers.

    spec (see kernelhost/kernel/worker.py): vatID, name, entry, vatBundle (zip bytes),
    kernelBundleID, kernelBundle. Kernel vats (no vatBundle) are not supported here: they are
    part of the kernel and run as local workers. log(vat_id, text) receives what vats print.
    """
    supervisor_cache: dict[str, str] = {}

    def factory(spec: dict) -> SubprocessWorker:
        vat_bundle = spec.get("vatBundle")
        if vat_bundle is None:
            raise WorkerDied(f"vat {spec.get('vatID')}: subprocess workers need a vat bundle "
                             "(kernel vats run as local workers)")
        kernel_bundle_id = spec["kernelBundleID"]
        kernel_bundle = spec["kernelBundle"]
        module = supervisor_cache.get(kernel_bundle_id)
        if module is None:
            from kernelhost.swingstore.bundleformat import read_bundle_files, validate_bundle

            manifest = validate_bundle(kernel_bundle, kernel_bundle_id)
            module = find_supervisor_module(read_bundle_files(kernel_bundle), manifest.entry_module)
            supervisor_cache[kernel_bundle_id] = module
        vat_id = spec.get("vatID", "?")
        return SubprocessWorker(
            kernel_bundle=kernel_bundle, kernel_bundle_id=kernel_bundle_id,
            setup=vat_setup_from_bundle(vat_bundle, spec.get("entry")), limits=limits,
            supervisor_module=module, name=str(spec.get("name") or vat_id),
            log=(lambda text: log(vat_id, text)) if log is not None else None)

    return factory
