"""The worker interface between the kernel and a vat's runtime, and the `local` worker.

A worker hosts one vat: liveslots plus the vat's code. The kernel talks to it
through two calls only:

    result, trailing = worker.deliver(delivery, syscall_handler)
    worker.shutdown()

- `delivery` is a JSON-able vat delivery: ``["message", vref, {"methargs": capdata,
  "result": vpid|None}]``, ``["notify", [[vpid, rejected, capdata], ...]]``,
  ``["startVat", capdata]`` or ``["bringOutYourDead"]``.
- Syscalls come back as JSON-able lists: ``["send", vref, {"methargs", "result"}]``,
  ``["resolve", [[vpid, rejected, capdata], ...]]``, ``["subscribe", vpid]``,
  ``["exit", failure, capdata]``, ``["vatstoreSet", key, value]``,
  ``["vatstoreDelete", key]`` need no answer; ``["vatstoreGet", key]``,
  ``["vatstoreGetNextKey", prior]`` and ``["callNow", dref, method, capdata]`` do.
- When the vat makes a syscall that needs an answer, the worker calls
  ``syscall_handler(batch)`` with every syscall not yet handed over, in order, the
  last one being the one that needs the answer; the handler returns that
  syscall's result (``["ok", value]`` or ``["error", message]``). Syscalls that
  need no answer and were made after the last such call are returned as
  `trailing`, in order, with the delivery's result. So a crank costs one round
  trip to a subprocess unless the vat reads.
- `result` is ``["ok", None, None]`` or ``["error", problem, None]``; an error
  makes the kernel terminate the vat.

The kernel creates workers from a *spec*; for any manager type other than
``local`` it calls the host's ``worker_factory(spec) -> worker``, which must
return an object with the two methods above. Spec keys:

    vatID, managerType, name       the vat
    source                         {"bundleID": ...} or {"kernelVat": name}
    entry                          the vat bundle's entry module
    vatBundle                      the vat bundle's zip bytes (None for kernel vats)
    kernelBundleID, kernelBundle   the running kernel's bundle, so a subprocess can
                                   load liveslots (and its supervisor) from the very
                                   same code the kernel runs
    options                        the vat's recorded options

Replay (after a restart) uses the same interface with a handler that answers
from the transcript instead of the kernel.
"""

from __future__ import annotations

from .liveslots import LiveSlots

__all__ = ["LocalWorker", "load_vat_code"]


def load_vat_code(files: dict, entry: str, extra_modules: dict, log=None) -> dict:
    """Load a vat bundle's entry module under the sandbox; returns its namespace."""
    from .sandbox import load_vat_namespace

    return load_vat_namespace(files, entry, extra_modules=extra_modules, log=log)


class LocalWorker:
    """Runs liveslots and the vat in the kernel's own process (manager type ``local``)."""

    __slots__ = ("_ls", "_pending", "_handler")

    def __init__(self, *, files: dict | None = None, entry: str | None = None,
                 namespace_loader=None, log=None):
        """Vat code comes from a bundle (`files` + `entry`, loaded in the sandbox) or,
        for vats that ship inside the kernel bundle, from a trusted
        `namespace_loader(extra_modules) -> namespace`."""
        if namespace_loader is None:
            if files is None or entry is None:
                raise ValueError("LocalWorker needs vat files + entry, or a namespace_loader")

            def namespace_loader(extra_modules):
                return load_vat_code(files, entry, extra_modules, log)

        self._pending = None
        self._handler = None
        self._ls = LiveSlots(self._emit, self._call, namespace_loader=namespace_loader)

    def _emit(self, vsc: list) -> None:
        pending = self._pending
        if pending is None:
            raise RuntimeError("syscall outside a delivery")
        pending.append(vsc)

    def _call(self, vsc: list):
        batch = self._pending
        if batch is None:
            raise RuntimeError("syscall outside a delivery")
        batch.append(vsc)
        self._pending = []
        return self._handler(batch)

    def deliver(self, delivery: list, syscall_handler) -> tuple[list, list]:
        self._handler = syscall_handler
        self._pending = []
        try:
            result = self._ls.dispatch(delivery)
            return result, self._pending
        finally:
            self._pending = None
            self._handler = None

    def shutdown(self) -> None:
        self._ls = None
