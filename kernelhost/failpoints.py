"""Failpoints: named places where a test can make the node crash or raise.

`KERNELHOST_FAILPOINTS="name=action,name=action"` with action one of
`crash` (os._exit(86) at once: no cleanup, no commit, no flush),
`crash@N` (on the Nth hit), `raise` or `raise@N` (FailpointError).

The environment is parsed once, on first use; with nothing set `failpoint(name)` is one
dict lookup, so the calls can stay in hot paths (after every crank).

The kernel never imports this module (it is bundled and self-contained): the host passes
`failpoint` into the controller's options, and the kernel calls it by name.
"""

from __future__ import annotations

import os
import sys

CRASH_EXIT_CODE = 86
ENV_VAR = "KERNELHOST_FAILPOINTS"

# name -> one-line description, printed by `manage.py failpoints`.
FAILPOINTS: dict[str, str] = {
    "block.after_proposal": "after block h's tx list is committed to the chain DB, before BEGIN_BLOCK(h)",
    "kernel.after_crank": "inside the kernel after each crank (uncommitted kernel work of the block is lost)",
    "kernel.mid_delivery": "in the middle of a delivery: a vat's bridge device call, before the chain applies it",
    "host.before_swingstore_commit": "COMMIT_BLOCK: host.height/chainSends written, swing-store not yet committed",
    "host.after_swingstore_commit": "after the swing-store commit (point A), before the chain commit (point B)",
    "chain.after_commit": "after the chain DB commit (point B), before after-commit work and publishing",
    "kernel.upgrade.after_shutdown": "kernel upgrade: old controller shut down, new kernel not yet started",
    "vat.upgrade.after_stop": "inside the kernel: vat upgrade after the old incarnation stopped",
}


class FailpointError(RuntimeError):
    """Raised by a failpoint armed with `raise`. Never caught as a kernel panic."""


class _Armed:
    __slots__ = ("action", "at", "hits")

    def __init__(self, action: str, at: int | None) -> None:
        self.action = action
        self.at = at
        self.hits = 0


_armed: dict[str, _Armed] | None = None


def parse(spec: str) -> dict[str, _Armed]:
    armed: dict[str, _Armed] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, action = item.partition("=")
        if not sep:
            raise ValueError(f"{ENV_VAR}: {item!r} is not name=action")
        kind, at_sep, count = action.partition("@")
        if kind not in ("crash", "raise"):
            raise ValueError(f"{ENV_VAR}: unknown action {action!r} for {name!r} (crash, crash@N, raise, raise@N)")
        if name not in FAILPOINTS:
            raise ValueError(f"{ENV_VAR}: unknown failpoint {name!r}; see `manage.py failpoints`")
        at = int(count) if at_sep else None
        if at is not None and at < 1:
            raise ValueError(f"{ENV_VAR}: {item!r}: N must be >= 1")
        armed[name] = _Armed(kind, at)
    return armed


def configure(spec: str | None) -> None:
    """Re-arm from a spec string (tests); None re-reads the environment on next use."""
    global _armed
    _armed = None if spec is None else parse(spec)


def failpoint(name: str) -> None:
    global _armed
    if _armed is None:
        _armed = parse(os.environ.get(ENV_VAR, ""))
    armed = _armed.get(name)
    if armed is None:
        return
    armed.hits += 1
    if armed.at is not None and armed.hits != armed.at:
        return
    if armed.action == "crash":
        # Flush what the operator should see, then die without any cleanup (no atexit, no
        # finally blocks, no DB commit): the closest thing to pulling the plug.
        sys.stderr.write(f"failpoint {name}: crash (exit {CRASH_EXIT_CODE})\n")
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)
    raise FailpointError(f"failpoint {name} fired (hit {armed.hits})")
