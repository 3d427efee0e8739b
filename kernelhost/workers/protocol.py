"""Framed pipe protocol between the kernel process and a subprocess vat worker.

Frame: 4-byte big-endian unsigned length, then that many bytes of payload. Payloads are
UTF-8 JSON arrays ``[kind, ...]``, except the second frame of the startup handshake, which is
the raw kernel bundle (zip bytes). The worker side of this protocol is implemented a second
time in ``kernelhost/kernel/supervisor.py``: it travels inside the kernel bundle and cannot
import this module. Keep the two in step (the handshake carries `PROTOCOL_VERSION`).

Startup (parent -> worker): frame 1 = JSON header (see `make_header`); frame 2 = kernel bundle.
Worker -> parent: ``["ready", {"protocol": 1}]``.

Parent -> worker                     Worker -> parent
``["setup", setup]``                 ``["setupDone", info]`` | ``["fatal", reason]``
``["deliver", delivery]``            zero or more ``["syscall", syscall, prior]`` each answered
                                     by ``["result", value]`` | ``["error", message]``, then
                                     ``["done", delivery_result, prior]``
``["probe"]``                        ``["probe", info]`` (environment, limits: diagnostics)
``["ping", x]``                      ``["pong", x]`` (benchmarks)
``["shutdown"]``                     ``["bye"]``, then the worker exits 0
any time                             ``["log", text]`` (what the vat printed) |
                                     ``["fatal", reason]`` (then it exits)

``prior`` is the list of syscalls that needed no answer (send, resolve, subscribe,
vatstoreSet/Delete, exit, GC drops ...) issued since the last frame. They travel with the
next read syscall or with ``done``; the parent hands them to the kernel *before* the syscall
of the same frame, so the kernel sees every syscall in the order the vat made it, and a
crank costs one round trip unless the vat reads.
"""

from __future__ import annotations

import json
import struct

PROTOCOL_VERSION = 1
HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # a frame larger than this is a protocol error, not a bundle

# Syscalls whose answer the vat needs at once: a worker sends these immediately (flushing
# any batched ones before them). Every other syscall type is batched. Unknown types are
# treated as reads by the worker only if listed here, so keep this in step with the kernel.
READ_SYSCALLS: frozenset[str] = frozenset({"vatstoreGet", "vatstoreGetNextKey", "callNow"})


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame/message."""


def encode(message) -> bytes:
    """One framed JSON message (compact, UTF-8)."""
    payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return HEADER.pack(len(payload)) + payload


def encode_raw(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes):
    try:
        message = json.loads(payload)
    except ValueError as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(message, list) or not message or not isinstance(message[0], str):
        raise ProtocolError(f"message must be a non-empty list starting with a kind: {message!r:.200}")
    return message


class FrameBuffer:
    """Accumulates bytes read from a pipe and yields complete frame payloads. Reading in
    large chunks (not 4 bytes, then n bytes) keeps a round trip to two read() calls."""

    __slots__ = ("_buf",)

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> bytes | None:
        buf = self._buf
        if len(buf) < 4:
            return None
        (size,) = HEADER.unpack_from(buf)
        if size > MAX_FRAME:
            raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME} byte limit")
        end = 4 + size
        if len(buf) < end:
            return None
        payload = bytes(buf[4:end])
        del buf[:end]
        return payload


def make_header(*, bundle_id: str, supervisor_module: str, package: str, preimport: list[str],
                nofile: int, cpu_seconds: float | None, memory_bytes: int | None,
                precompiled: bool = False, fork_server: bool = False) -> dict:
    """The first startup frame, read by the bootstrap script (kernelhost.workers.bootstrap).
    `precompiled`: a third frame follows the kernel bundle with its modules' code objects.
    `fork_server`: the process forks workers on request instead of becoming one."""
    return {
        "protocol": PROTOCOL_VERSION,
        "bundleID": bundle_id,
        "package": package,
        "supervisor": supervisor_module,
        "preimport": preimport,
        "precompiled": precompiled,
        "forkServer": fork_server,
        "limits": {"nofile": nofile, "cpuSeconds": cpu_seconds, "memoryBytes": memory_bytes},
    }
