"""The per-block run policy: a crank budget and a computron budget.

One BlockBudget spans the whole kernel phase of a block (leftover work, then each action's
work); when it runs out, the rest waits for the next block. It speaks the controller's run
policy protocol (kernelhost.controller.policies: crank_complete / empty_crank /
crank_failed / vat_created, True = keep going) and is handed to `controller.run(budget)`.
Computrons come from the kernel's own deterministic metering (1000 per delivery + 100 per
syscall), so every node stops at the same crank; the crank that crosses the budget
completes (cranks are atomic).

Budgets (consensus: both from chain state):
- cranks: `NodeState.crank_budget` (genesis "crankBudget");
- computrons: chain param "computronBudget" (genesis "chain.params"), default
  `crank_budget * DEFAULT_COMPUTRONS_PER_CRANK` (as many plain deliveries as cranks; a
  delivery that makes syscalls costs more, so busy blocks stop earlier).
"""

from __future__ import annotations

DEFAULT_COMPUTRONS_PER_CRANK = 1000
COMPUTRON_BUDGET_PARAM = "computronBudget"


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


def block_budget(crank_budget: int, params: dict | None) -> BlockBudget:
    """The budget of one block from chain state (crank budget + chain params)."""
    cranks = max(1, int(crank_budget))
    raw = (params or {}).get(COMPUTRON_BUDGET_PARAM)
    try:
        computrons = int(raw) if raw is not None else cranks * DEFAULT_COMPUTRONS_PER_CRANK
    except (TypeError, ValueError):
        computrons = cranks * DEFAULT_COMPUTRONS_PER_CRANK
    return BlockBudget(cranks, computrons)
