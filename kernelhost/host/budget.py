"""The per-block run policy: a crank budget and, optionally, a computron budget.

One BlockBudget spans the whole kernel phase of a block (leftover work, then each action's
work); when it runs out, the rest waits for the next block. It speaks the controller's run
policy protocol (kernelhost.controller.policies: crank_complete / empty_crank /
crank_failed / vat_created, True = keep going). Computrons come from the kernel's own
deterministic metering (per delivery and syscall), so every node stops at the same crank.
The host drives the kernel with step() today, which reports no computrons: only the crank
budget applies until controller.run(policy) is restart-safe (see docs/arch-node.md).
"""

from __future__ import annotations


class BlockBudget:
    def __init__(self, cranks: int, computrons: int | None = None) -> None:
        self.cranks = max(1, int(cranks))
        self.computrons = None if computrons is None else max(1, int(computrons))

    def left(self) -> bool:
        return self.cranks > 0 and (self.computrons is None or self.computrons > 0)

    def crank_complete(self, computrons: int) -> bool:
        self.cranks -= 1
        if self.computrons is not None:
            self.computrons -= int(computrons)
        return self.left()

    def empty_crank(self) -> bool:
        self.cranks -= 1
        return self.left()

    def crank_failed(self) -> bool:
        return self.empty_crank()

    def vat_created(self) -> bool:
        return self.left()
