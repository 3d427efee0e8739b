"""Run policies: how much work one controller.run() may do.

The kernel calls, after each crank, one of ``crank_complete(computrons)``
(a delivery happened), ``empty_crank()`` (routing only, e.g. a message queued on
a promise), ``crank_failed()`` (a vat failed and was terminated), and
``vat_created()`` when a dynamic vat was created; each returns True to keep
going. run() also stops when the run-queue is empty.
"""

from __future__ import annotations

__all__ = ["RunPolicy", "CrankLimit", "ComputronBudget", "crank_limit", "computron_budget", "until_empty"]


class RunPolicy:
    """Run until the queue is empty."""

    def crank_complete(self, computrons: int) -> bool:
        return True

    def empty_crank(self) -> bool:
        return True

    def crank_failed(self) -> bool:
        return True

    def vat_created(self) -> bool:
        return True


class CrankLimit(RunPolicy):
    """Stop after `limit` cranks of any kind."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("a crank limit must be at least 1")
        self.remaining = limit

    def _count(self) -> bool:
        self.remaining -= 1
        return self.remaining > 0

    def crank_complete(self, computrons: int) -> bool:
        return self._count()

    def empty_crank(self) -> bool:
        return self._count()

    def crank_failed(self) -> bool:
        return self._count()


class ComputronBudget(RunPolicy):
    """Stop once the deliveries used `budget` computrons or more (the crank that
    crosses the budget completes, as in SwingSet: cranks are atomic)."""

    def __init__(self, budget: int):
        if budget < 1:
            raise ValueError("a computron budget must be positive")
        self.budget = budget
        self.used = 0

    def crank_complete(self, computrons: int) -> bool:
        self.used += computrons
        return self.used < self.budget


def crank_limit(limit: int) -> CrankLimit:
    return CrankLimit(limit)


def computron_budget(budget: int) -> ComputronBudget:
    return ComputronBudget(budget)


def until_empty() -> RunPolicy:
    return RunPolicy()
