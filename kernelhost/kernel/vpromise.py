"""Vat-side promises and the tiny deterministic scheduler that drives them.

Each vat has one `Scheduler`: a FIFO of callbacks ("microtasks"). A delivery
runs the vat's code, then drains the queue to empty, exactly like a JS turn
ends with an empty promise job queue. No event loop, no threads, no clock: the
order of callbacks depends only on the order of events, so replaying a
transcript re-creates the same heap.

`VPromise` offers `.then(on_ok, on_err)` and is awaitable from ``async def``
vat methods; a coroutine is driven by `spawn`, which resumes it from the
microtask queue when the awaited promise settles.
"""

from __future__ import annotations

from collections import deque
from types import CoroutineType

__all__ = ["Scheduler", "VPromise", "PromiseKit", "spawn", "SchedulerOverrun"]

PENDING = 0
FULFILLED = 1
REJECTED = 2

# A delivery that queues more callbacks than this is stuck in a loop; fail it
# (the vat is terminated) instead of hanging the kernel. Deterministic: it
# counts callbacks, not time.
MAX_MICROTASKS_PER_DELIVERY = 2_000_000


class SchedulerOverrun(RuntimeError):
    pass


class Scheduler:
    __slots__ = ("queue",)

    def __init__(self):
        self.queue = deque()

    def run(self, limit: int = MAX_MICROTASKS_PER_DELIVERY) -> None:
        q = self.queue
        pop = q.popleft
        n = 0
        while q:
            fn, arg = pop()
            fn(arg)
            n += 1
            if n > limit:
                q.clear()
                raise SchedulerOverrun(f"more than {limit} promise callbacks in one delivery")


class VPromise:
    """A promise living in one vat. Create it through a `PromiseKit` or `spawn`."""

    __slots__ = ("_sched", "_state", "_value", "_cbs", "__weakref__")

    def __init__(self, sched: Scheduler):
        self._sched = sched
        self._state = PENDING
        self._value = None
        self._cbs = None  # list of (on_ok(value), on_err(reason)) internal callbacks

    # ---- inspection
    @property
    def settled(self) -> bool:
        return self._state > PENDING

    def __repr__(self) -> str:
        return {FULFILLED: "<VPromise fulfilled>", REJECTED: "<VPromise rejected>"}.get(self._state, "<VPromise pending>")

    # ---- settlement (internal: vat code uses PromiseKit.resolve/reject)
    def _resolve(self, value) -> None:
        if self._state != PENDING:
            return
        if type(value) is CoroutineType:
            value = spawn(value, self._sched)
        if isinstance(value, VPromise):
            if value is self:
                self._reject(TypeError("a promise cannot be resolved with itself"))
                return
            # Adopt the other promise's outcome. Mark ourselves as following so a
            # second resolve is ignored, as in JS.
            self._state = -1
            value._subscribe(self._adopt_ok, self._adopt_err)
            return
        self._settle(FULFILLED, value)

    def _adopt_ok(self, value) -> None:
        self._state = PENDING
        self._settle(FULFILLED, value)

    def _adopt_err(self, reason) -> None:
        self._state = PENDING
        self._settle(REJECTED, reason)

    def _reject(self, reason) -> None:
        if self._state != PENDING:
            return
        self._settle(REJECTED, reason)

    def _settle(self, state: int, value) -> None:
        self._state = state
        self._value = value
        cbs = self._cbs
        if cbs:
            self._cbs = None
            push = self._sched.queue.append
            if state == FULFILLED:
                for ok, _err in cbs:
                    push((ok, value))
            else:
                for _ok, err in cbs:
                    push((err, value))

    def _subscribe(self, on_ok, on_err) -> None:
        """Call on_ok(value) or on_err(reason) from the microtask queue once settled."""
        state = self._state
        if state == FULFILLED:
            self._sched.queue.append((on_ok, self._value))
        elif state == REJECTED:
            self._sched.queue.append((on_err, self._value))
        elif self._cbs is None:
            self._cbs = [(on_ok, on_err)]
        else:
            self._cbs.append((on_ok, on_err))

    # ---- public API
    def then(self, on_ok=None, on_err=None) -> VPromise:
        """Like JS `then`: returns a promise for the callback's result."""
        child = VPromise(self._sched)

        def ok(value):
            if on_ok is None:
                child._resolve(value)
                return
            try:
                child._resolve(on_ok(value))
            except Exception as e:  # noqa: BLE001 - a throwing callback rejects the child, as in JS
                child._reject(e)

        def err(reason):
            if on_err is None:
                child._reject(reason)
                return
            try:
                child._resolve(on_err(reason))
            except Exception as e:  # noqa: BLE001 - see above
                child._reject(e)

        self._subscribe(ok, err)
        return child

    def catch(self, on_err) -> VPromise:
        return self.then(None, on_err)

    def __await__(self):
        # Always suspend once, even if already settled (JS `await` semantics);
        # the driver resumes us after this promise settles.
        yield self
        if self._state == REJECTED:
            raise self._value
        return self._value


class PromiseKit:
    """`kit.promise`, `kit.resolve(value)`, `kit.reject(reason)`."""

    __slots__ = ("promise",)

    def __init__(self, sched: Scheduler):
        self.promise = VPromise(sched)

    def resolve(self, value=None) -> None:
        self.promise._resolve(value)

    def reject(self, reason) -> None:
        if not isinstance(reason, BaseException):
            reason = Exception(str(reason))
        self.promise._reject(reason)


def spawn(coro, sched: Scheduler) -> VPromise:
    """Run a coroutine to its first suspension now (like calling an async JS
    function) and return a promise for its result."""
    result = VPromise(sched)

    def step(value, exc=None):
        try:
            awaited = coro.send(value) if exc is None else coro.throw(exc)
        except StopIteration as stop:
            result._resolve(stop.value)
            return
        except Exception as e:  # noqa: BLE001 - an exception in an async method rejects its promise
            result._reject(e)
            return
        if isinstance(awaited, VPromise):
            awaited._subscribe(resume_ok, resume_err)
        else:
            sched.queue.append((resume_bad, awaited))

    def resume_ok(_value):
        step(None)

    def resume_err(reason):
        if not isinstance(reason, BaseException):
            reason = Exception(str(reason))
        step(None, reason)

    def resume_bad(awaited):
        step(None, TypeError(f"vat code can only await vat promises, not {type(awaited).__name__}"))

    step(None)
    return result
