"""The narrow interface through which the host reaches the chain (implemented by
kernelhost.chain.services.hostport). Everything that changes chain state goes through
`apply_send`, so it can be recorded and replayed."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from kernelhost.chain.types import HostAction


class ChainPort(Protocol):
    height: int
    time_ms: int

    def apply_send(self, send: dict) -> dict: ...

    def apply_export_records(self, records: list[tuple[str, str | None]]) -> None: ...

    def kernel_paused(self) -> bool: ...

    def pending_actions(self, limit: int) -> list[dict]: ...

    def pending_host_actions(self) -> list[HostAction]: ...

    def unresolved_swingset_sends(self) -> list[tuple[list[int], str]]: ...

    def crank_budget(self) -> int: ...

    def params(self) -> dict: ...

    def savepoint(self) -> AbstractContextManager: ...
