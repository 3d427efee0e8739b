"""The main loop of a subprocess vat worker.

This module travels inside the kernel bundle: the worker process loads it (with liveslots and
the sandbox) from the very bundle the kernel runs, through the bootstrap script of
``kernelhost.workers``. Standard library only, relative imports only; it does no I/O of its
own: the bootstrap hands it ``read_frame() -> bytes | None`` and ``write(bytes)`` over the
protocol pipe, plus a few privileged hooks (re-arming the CPU limit, the diagnostic probe).

The wire protocol (frames of 4-byte big-endian length + JSON) is described in
``kernelhost/workers/protocol.py``; this is its worker half, written out again here because
the bundle cannot import the host's modules. Keep the two in step (`PROTOCOL_VERSION`).

Syscall batching: syscalls that need no answer are queued and travel with the next syscall
that needs one (``["syscall", syscall, prior]``) or with the delivery's end (``["done",
result, trailing]``). The kernel's worker interface (worker.py) is the same shape:
``syscall_handler(prior + [syscall])`` and ``(result, trailing)``.
"""

from __future__ import annotations

import json
import struct

__all__ = ["PROTOCOL_VERSION", "main", "prepare", "SyscallChannel"]

PROTOCOL_VERSION = 1
_HEADER = struct.Struct(">I")
# Preallocated: after a MemoryError there may be no memory left to build this message.
_OOM_FRAME = None


class ProtocolError(Exception):
    pass


class _Stop(Exception):
    """The parent closed the pipe: leave quietly."""


def prepare() -> None:
    """Import everything a vat delivery can need, before the bootstrap takes away the ability
    to open files (which also ends imports from disk)."""
    global _OOM_FRAME
    from . import liveslots, sandbox, worker  # noqa: F401 - imported for their side effect of loading

    sandbox.preimport_allowed()
    _OOM_FRAME = _frame(["fatal", "out of memory: the vat exceeded the worker's memory limit (RLIMIT_AS)"])


def _frame(message) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode("ascii")
    return _HEADER.pack(len(payload)) + payload


class SyscallChannel:
    """The worker's end of the pipe: framed JSON messages, plus syscall batching."""

    __slots__ = ("_read", "_write", "pending")

    def __init__(self, read_frame, write):
        self._read = read_frame
        self._write = write
        self.pending: list | None = None  # syscalls not yet handed over, during a delivery

    def send(self, message) -> None:
        self._write(_frame(message))

    def recv(self):
        payload = self._read()
        if payload is None:
            raise _Stop()
        message = json.loads(payload)
        if not isinstance(message, list) or not message or not isinstance(message[0], str):
            raise ProtocolError(f"bad message {message!r:.200}")
        return message

    # liveslots' two syscall entry points
    def emit(self, vsc: list) -> None:
        pending = self.pending
        if pending is None:
            raise RuntimeError("syscall outside a delivery")
        pending.append(vsc)

    def call(self, vsc: list):
        prior = self.pending
        if prior is None:
            raise RuntimeError("syscall outside a delivery")
        self.pending = []
        self.send(["syscall", vsc, prior])
        reply = self.recv()
        if reply[0] == "result":
            return reply[1]
        raise ProtocolError(f"expected a syscall result, got {reply[0]!r}")

    def log(self, text: str) -> None:
        self.send(["log", text])


class _EchoVat:
    """A vat without liveslots, for transport tests and benchmarks: a delivery
    ``["echo", [syscall, ...]]`` makes those syscalls (reads per the READ set in the setup)
    and returns ``["ok", [answers of the reads], None]``."""

    def __init__(self, channel: SyscallChannel, reads):
        self.channel = channel
        self.reads = frozenset(reads)

    def dispatch(self, delivery):
        answers = []
        for vsc in delivery[1] if delivery[0] == "echo" else ():
            if vsc[0] in self.reads:
                answers.append(self.channel.call(vsc))
            else:
                self.channel.emit(vsc)
        return ["ok", answers, None]


def _make_vat(setup: dict, channel: SyscallChannel):
    mode = setup.get("mode", "liveslots")
    if mode == "echo":
        return _EchoVat(channel, setup.get("reads", ("vatstoreGet", "vatstoreGetNextKey", "callNow")))
    if mode != "liveslots":
        raise ValueError(f"unknown worker mode {mode!r}")
    from .liveslots import LiveSlots
    from .worker import load_vat_code

    files = {path: text.encode("utf-8") for path, text in setup["files"].items()}
    entry = setup["entry"]

    def namespace_loader(extra_modules):
        # the vat code is checked and loaded on startVat, as in a local worker
        return load_vat_code(files, entry, extra_modules, channel.log)

    emit = channel.emit

    def emit_watching_for_oom(vsc: list) -> None:
        # Liveslots turns an exception in a vat method into a rejected result, so a
        # MemoryError (RLIMIT_AS reached) would pass for an ordinary vat error. Running out
        # of memory is the worker's failure, not the vat's answer: stop here (the delivery
        # fails, main() reports "out of memory", the parent raises WorkerDied).
        if vsc[0] == "resolve":
            for _vpid, rejected, data in vsc[1]:
                if rejected and "MemoryError" in data.get("body", "") and _is_memory_error(data):
                    raise MemoryError("a vat method ran out of memory")
        emit(vsc)

    return LiveSlots(emit_watching_for_oom, channel.call, namespace_loader=namespace_loader)


def _is_memory_error(capdata: dict) -> bool:
    from .marshal import unserialize

    try:
        value = unserialize(capdata, lambda slot, iface, is_promise: None)
    except Exception:  # noqa: BLE001 - not decodable: not ours to judge
        return False
    return isinstance(value, BaseException) and (
        type(value) is MemoryError or getattr(value, "name", None) == "MemoryError")


def main(read_frame, write, hooks: dict | None = None) -> int:
    """Serve the kernel until it says shutdown or closes the pipe. Returns the exit status."""
    hooks = hooks or {}
    before_delivery = hooks.get("before_delivery") or (lambda: None)
    channel = SyscallChannel(read_frame, write)
    vat = None
    try:
        channel.send(["ready", {"protocol": PROTOCOL_VERSION}])
        while True:
            message = channel.recv()
            kind = message[0]
            if kind == "deliver":
                if vat is None:
                    raise ProtocolError("deliver before setup")
                before_delivery()
                channel.pending = []
                try:
                    result = vat.dispatch(message[1])
                except MemoryError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a delivery that blows up fails, the worker lives
                    result = ["error", f"{type(exc).__name__}: {exc}", None]
                if result[0] == "error" and str(result[1]).startswith("MemoryError"):
                    # liveslots turns every exception into a failed delivery; running out of
                    # memory is a resource failure of the worker, not a vat error: report it
                    # as such (the parent raises WorkerDied) and leave a heap in doubt.
                    raise MemoryError(result[1])
                trailing, channel.pending = channel.pending, None
                channel.send(["done", result, trailing])
            elif kind == "setup":
                try:
                    vat = _make_vat(message[1], channel)
                except Exception as exc:  # noqa: BLE001 - reported to the parent, which gives up on the worker
                    channel.send(["fatal", f"worker setup failed: {type(exc).__name__}: {exc}"])
                    return 3
                channel.send(["setupDone", {"mode": message[1].get("mode", "liveslots")}])
            elif kind == "ping":
                channel.send(["pong", message[1] if len(message) > 1 else None])
            elif kind == "probe":
                probe = hooks.get("probe")
                channel.send(["probe", probe() if probe else {}])
            elif kind == "shutdown":
                channel.send(["bye"])
                return 0
            else:
                raise ProtocolError(f"unknown message kind {kind!r}")
    except _Stop:
        return 0
    except MemoryError:
        vat = None
        channel.pending = None
        if _OOM_FRAME is not None:
            write(_OOM_FRAME)
        return 4
    except ProtocolError as exc:
        channel.send(["fatal", f"protocol error: {exc}"])
        return 5
