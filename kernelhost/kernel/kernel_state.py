"""Kernel state in the kvStore: the key schema and every accessor for it.

Kernel-wide keys:

    version                      state schema version (see schema.py)
    kernelBundleID               the kernel bundle to load at the next start
    crankNumber                  cranks run so far
    runQueue                     JSON [head, tail]; items at runQueue.<N> (JSON)
    vat.names                    JSON list of static vat names, in creation order
    vat.name.<NAME>              vatID of a static vat
    vat.dynamicIDs               JSON list of live dynamic vatIDs, in creation order
                                 (a terminated vat leaves it)
    vat.nextID                   next vat number (vats are v1, v2, ...)
    vats.terminated              JSON list of terminated vatIDs
    device.names / device.name.<NAME> / device.nextID   same for devices (d7, d8, ...)
    namedBundleID.<NAME>         bundle registered under a config name
    vatAdminRootKref             kref of the vat-admin vat's root
    kernel.defaultManagerType    worker type for vats that do not say
    ko.nextID / kp.nextID / kd.nextID   kernel ref counters (from 20 / 40 / 30)
    vat.upgrade.nextID           next vat upgrade ID (up1, up2, ...)

Per vat (vNN):

    vNN.source                   JSON {"bundleID"} or {"kernelVat": name}
    vNN.options                  JSON recorded options (name, critical, managerType,
                                 enablePipelining, dynamic)
    vNN.vatParameters            JSON capdata given to startVat (replaced by an upgrade)
    vNN.terminationReason        JSON error capdata: what sends to a vat terminated with
                                 a failure are rejected with
    vNN.o.nextID / p.nextID / d.nextID   kernel-allocated import counters (50/60/70)
    vNN.c.<kref>                 "R <vref>" (c-list, kernel -> vat)
    vNN.c.<vref>                 "<kref>"   (c-list, vat -> kernel)
    vNN.vs.<key>                 the vat's vatstore (baggage, durable objects)

Objects, promises, devices:

    koNN.owner                   exporting vatID
    koNN.refCount                "reachable,recognizable"
    kpNN.state                   unresolved | fulfilled | rejected
    kpNN.refCount                references from c-lists, queues, promise data, host pins
    kpNN.decider                 vatID (absent while in flight or kernel-decided)
    kpNN.policy                  host result policy (absent = ignore)
    kpNN.subscribers             comma list of vatIDs
    kpNN.queue.<N>, kpNN.queue.nextID   messages waiting for the promise
    kpNN.data.body, kpNN.data.slots     the resolution, once settled
    kdNN.owner                   deviceID
    dNN.deviceState              JSON state of device dNN

Reference counts: an object counts importing c-list entries (not its exporter's),
queue entries and promise data that mention it; a promise counts every c-list
entry, ``send`` queue entry, promise data and host pin (``notify`` items need none,
see `release_item`). A promise whose count drops to
zero is deleted at the end of the crank. Object counts are kept for the garbage
collection protocol to come (drop/retire exports); nothing is freed on them yet.
"""

from __future__ import annotations

from .errors import IllegalSyscall
from .jsonfast import dumps as _dumps
from .jsonfast import loads as _loads

__all__ = ["KernelState", "VatClist", "msg_krefs"]


FIRST_VAT = 1
FIRST_DEVICE = 7
FIRST_OBJECT = 20
FIRST_DEVICE_NODE = 30
FIRST_PROMISE = 40
FIRST_VAT_IMPORT = {"o": 50, "p": 60, "d": 70}


def msg_krefs(msg: dict) -> list:
    refs = list(msg["methargs"]["slots"])
    if msg.get("result"):
        refs.append(msg["result"])
    return refs


class KernelState:
    __slots__ = ("kv", "maybe_free", "_rq", "_rq_moved", "_terminated", "_crank")

    def __init__(self, kv):
        self.kv = kv
        self.maybe_free: set = set()
        self._rq = None
        self._rq_moved = False
        self._terminated = None
        self._crank = None

    def reload(self) -> None:
        """Forget cached state after a rollback."""
        self.maybe_free = set()
        self._rq = None
        self._rq_moved = False
        self._terminated = None
        self._crank = None

    # ------------------------------------------------------------------ counters
    def next_id(self, key: str, start: int) -> int:
        kv = self.kv
        v = kv.get(key)
        n = int(v) if v is not None else start
        kv.set(key, str(n + 1))
        return n

    def crank_number(self) -> int:
        n = self._crank
        if n is None:
            n = self._crank = int(self.kv.get("crankNumber") or "0")
        return n

    def bump_crank_number(self) -> int:
        n = self._crank = self.crank_number() + 1
        self.kv.set("crankNumber", str(n))
        return n

    # ------------------------------------------------------------------ vats
    def terminated(self) -> set:
        t = self._terminated
        if t is None:
            t = self._terminated = set(_loads(self.kv.get("vats.terminated") or "[]"))
        return t

    def mark_terminated(self, vat_id: str) -> None:
        lst = _loads(self.kv.get("vats.terminated") or "[]")
        if vat_id not in lst:
            lst.append(vat_id)
            self.kv.set("vats.terminated", _dumps(lst))
        self.terminated().add(vat_id)

    def static_vat_names(self) -> list:
        return _loads(self.kv.get("vat.names") or "[]")

    def dynamic_vat_ids(self) -> list:
        return _loads(self.kv.get("vat.dynamicIDs") or "[]")

    def vat_id_of(self, name: str):
        return self.kv.get(f"vat.name.{name}")

    def allocate_vat_id(self) -> str:
        return f"v{self.next_id('vat.nextID', FIRST_VAT)}"

    def add_static_vat(self, name: str, vat_id: str) -> None:
        names = self.static_vat_names()
        if name in names:
            raise ValueError(f"vat name {name!r} already used")
        names.append(name)
        self.kv.set("vat.names", _dumps(names))
        self.kv.set(f"vat.name.{name}", vat_id)

    def add_dynamic_vat(self, vat_id: str) -> None:
        ids = self.dynamic_vat_ids()
        ids.append(vat_id)
        self.kv.set("vat.dynamicIDs", _dumps(ids))

    def remove_dynamic_vat(self, vat_id: str) -> None:
        ids = self.dynamic_vat_ids()
        if vat_id in ids:
            ids.remove(vat_id)
            self.kv.set("vat.dynamicIDs", _dumps(ids))

    def record_vat(self, vat_id: str, source: dict, options: dict, parameters_capdata: dict) -> None:
        kv = self.kv
        kv.set(f"{vat_id}.source", _dumps(source))
        kv.set(f"{vat_id}.options", _dumps(options))
        kv.set(f"{vat_id}.vatParameters", _dumps(parameters_capdata))
        for kind, start in FIRST_VAT_IMPORT.items():
            kv.set(f"{vat_id}.{kind}.nextID", str(start))

    def vat_exists(self, vat_id: str) -> bool:
        return self.kv.get(f"{vat_id}.options") is not None

    # ------------------------------------------------------------------ objects
    def add_kernel_object(self, owner: str) -> str:
        ko = f"ko{self.next_id('ko.nextID', FIRST_OBJECT)}"
        self.kv.create(f"{ko}.owner", owner)
        self.kv.create(f"{ko}.refCount", "0,0")
        return ko

    def owner_of(self, ko: str):
        return self.kv.get(f"{ko}.owner")

    def add_device_node(self, device_id: str) -> str:
        kd = f"kd{self.next_id('kd.nextID', FIRST_DEVICE_NODE)}"
        self.kv.set(f"{kd}.owner", device_id)
        return kd

    # ------------------------------------------------------------------ promises
    def add_kernel_promise(self, decider: str = "", policy: str | None = None) -> str:
        kp = f"kp{self.next_id('kp.nextID', FIRST_PROMISE)}"
        kv = self.kv
        kv.create(f"{kp}.state", "unresolved")
        kv.create(f"{kp}.refCount", "0")
        if decider:
            kv.create(f"{kp}.decider", decider)
        else:
            kv.absent(f"{kp}.decider")
        if policy and policy != "ignore":
            kv.create(f"{kp}.policy", policy)
        else:
            kv.absent(f"{kp}.policy")
        for field in (".subscribers", ".queue.nextID", ".data.body", ".data.slots"):
            kv.absent(kp + field)
        self.maybe_free.add(kp)
        return kp

    def kp_state(self, kp: str):
        return self.kv.get(f"{kp}.state")

    def kp_decider(self, kp: str) -> str:
        return self.kv.get(f"{kp}.decider") or ""

    def set_decider(self, kp: str, vat_id: str) -> None:
        if vat_id:
            self.kv.set(f"{kp}.decider", vat_id)
        else:
            self.kv.delete(f"{kp}.decider")

    def kp_data(self, kp: str) -> dict:
        kv = self.kv
        slots = kv.get(f"{kp}.data.slots")
        return {"body": kv.get(f"{kp}.data.body"), "slots": slots.split(",") if slots else []}

    def subscribers(self, kp: str) -> list:
        s = self.kv.get(f"{kp}.subscribers")
        return s.split(",") if s else []

    def add_subscriber(self, kp: str, vat_id: str) -> None:
        subs = self.subscribers(kp)
        if vat_id not in subs:
            subs.append(vat_id)
            self.kv.set(f"{kp}.subscribers", ",".join(subs))

    def remove_subscriber(self, kp: str, vat_id: str) -> None:
        subs = self.subscribers(kp)
        if vat_id in subs:
            subs.remove(vat_id)
            if subs:
                self.kv.set(f"{kp}.subscribers", ",".join(subs))
            else:
                self.kv.delete(f"{kp}.subscribers")

    def queue_on_promise(self, kp: str, msg: dict) -> None:
        kv = self.kv
        n = int(kv.get(f"{kp}.queue.nextID") or "0")
        kv.set(f"{kp}.queue.{n}", _dumps(msg))
        kv.set(f"{kp}.queue.nextID", str(n + 1))

    def take_promise_queue(self, kp: str) -> list:
        kv = self.kv
        n = kv.get(f"{kp}.queue.nextID")
        if n is None:
            return []
        msgs = []
        for i in range(int(n)):
            key = f"{kp}.queue.{i}"
            msgs.append(_loads(kv.get(key)))
            kv.delete(key)
        kv.delete(f"{kp}.queue.nextID")
        return msgs

    def settle(self, kp: str, rejected: bool, data: dict) -> tuple[list, str | None]:
        """Record a resolution. Returns (subscribers, policy) as they were."""
        kv = self.kv
        subs = self.subscribers(kp)
        policy = kv.get(f"{kp}.policy")
        kv.set(f"{kp}.state", "rejected" if rejected else "fulfilled")
        kv.set(f"{kp}.data.body", data["body"])
        slots = data["slots"]
        if slots:  # absent = no slots
            kv.set(f"{kp}.data.slots", ",".join(slots))
            for s in slots:
                self.incref(s)
        kv.delete(f"{kp}.decider")
        kv.delete(f"{kp}.subscribers")
        if policy is not None:
            kv.delete(f"{kp}.policy")
        return subs, policy

    def delete_promise(self, kp: str) -> None:
        kv = self.kv
        state = kv.get(f"{kp}.state")
        if state is None:
            return
        if state == "unresolved":
            for msg in self.take_promise_queue(kp):
                for r in msg_krefs(msg):
                    self.decref(r)
            kv.delete(f"{kp}.decider")
            kv.delete(f"{kp}.subscribers")
            kv.delete(f"{kp}.policy")
        else:
            slots = kv.get(f"{kp}.data.slots")
            kv.delete(f"{kp}.data.body")
            kv.delete(f"{kp}.data.slots")
            if slots:
                for s in slots.split(","):
                    self.decref(s)
        kv.delete(f"{kp}.state")
        kv.delete(f"{kp}.refCount")
        for field in (".policy", ".queue.nextID", ".decider", ".subscribers"):
            kv.forget_absent(kp + field)  # the absent() marks of add_kernel_promise

    # ------------------------------------------------------------------ refcounts
    def incref(self, kref: str) -> None:
        c = kref[1]
        kv = self.kv
        if c == "p":
            key = kref + ".refCount"
            kv.set(key, str(int(kv.get(key)) + 1))
        elif c == "o":
            key = kref + ".refCount"
            r, s = kv.get(key).split(",")
            kv.set(key, f"{int(r) + 1},{int(s) + 1}")

    def decref(self, kref: str) -> None:
        c = kref[1]
        kv = self.kv
        if c == "p":
            key = kref + ".refCount"
            n = int(kv.get(key)) - 1
            if n < 0:
                raise AssertionError(f"refcount of {kref} went negative")
            kv.set(key, str(n))
            if n == 0:
                self.maybe_free.add(kref)
        elif c == "o":
            key = kref + ".refCount"
            r, s = kv.get(key).split(",")
            r, s = int(r) - 1, int(s) - 1
            if r < 0 or s < 0:
                raise AssertionError(f"refcount of {kref} went negative")
            kv.set(key, f"{r},{s}")

    def process_refcounts(self) -> None:
        """Delete promises nobody refers to any more (end of crank)."""
        kv = self.kv
        while self.maybe_free:
            batch = sorted(self.maybe_free)
            self.maybe_free = set()
            for kp in batch:
                if kv.get(f"{kp}.refCount") == "0":
                    self.delete_promise(kp)

    # ------------------------------------------------------------------ run-queue
    # The head/tail pointers live in memory during a crank and are written to the
    # `runQueue` key once, by `finish_crank` (a rollback reloads them from the key).
    def _queue_bounds(self) -> list:
        rq = self._rq
        if rq is None:
            rq = self._rq = _loads(self.kv.get("runQueue") or "[1,1]")
        return rq

    def enqueue(self, item: dict) -> None:
        if item["type"] == "send":
            msg = item["msg"]
            incref = self.incref
            incref(item["target"])
            for s in msg["methargs"]["slots"]:
                incref(s)
            if msg["result"]:
                incref(msg["result"])
        rq = self._rq or self._queue_bounds()
        tail = rq[1]
        self.kv.create("runQueue." + str(tail), item)  # serialised only if it reaches the store
        rq[1] = tail + 1
        self._rq_moved = True

    def dequeue(self):
        """Pop the head item (its references are still held: release them with
        `release_item` once the item is consumed)."""
        rq = self._rq or self._queue_bounds()
        head = rq[0]
        if head >= rq[1]:
            return None
        key = "runQueue." + str(head)
        item = self.kv.get(key)
        if type(item) is str:
            item = _loads(item)
        self.kv.delete(key)
        rq[0] = head + 1
        self._rq_moved = True
        return item

    def release_item(self, item: dict) -> None:
        """Drop the references a consumed item held. A ``notify`` item holds none: it is
        only queued for a vat whose c-list holds the promise, and that entry goes only
        when the notify is delivered (or the vat dies and the notify is skipped)."""
        if item["type"] == "send":
            msg = item["msg"]
            decref = self.decref
            decref(item["target"])
            for s in msg["methargs"]["slots"]:
                decref(s)
            if msg["result"]:
                decref(msg["result"])

    def sync_queue(self) -> None:
        """Write the queue pointers to `runQueue` (end of crank, and before a nested
        savepoint so that rolling back to it restores them)."""
        if self._rq_moved:
            rq = self._rq
            self.kv.set("runQueue", f"[{rq[0]},{rq[1]}]")
            self._rq_moved = False

    def finish_crank(self) -> None:
        """End-of-crank bookkeeping: free promises, record the queue pointers."""
        if self.maybe_free:
            self.process_refcounts()
        self.sync_queue()

    def queue_length(self) -> int:
        rq = self._queue_bounds()
        return rq[1] - rq[0]

    def peek_items(self, limit: int = 50) -> list:
        rq = self._queue_bounds()
        items = [self.kv.get(f"runQueue.{i}") for i in range(rq[0], min(rq[1], rq[0] + limit))]
        return [_loads(i) if type(i) is str else i for i in items]


class VatClist:
    """One vat's c-list: translation between its vrefs and kernel refs."""

    __slots__ = ("state", "kv", "vat_id", "prefix")

    def __init__(self, state: KernelState, vat_id: str):
        self.state = state
        self.kv = state.kv
        self.vat_id = vat_id
        self.prefix = f"{vat_id}.c."

    # kernel -> vat (deliveries): unknown krefs become new imports
    def k2v(self, kref: str) -> str:
        kv = self.kv
        key = self.prefix + kref
        if kref[1] == "p" and kv.created_in_unit(kref + ".state"):
            kv.absent(key)  # a promise born in this flush unit has no stored c-list entries
        v = kv.get(key)
        if v is not None:
            return v[2:]
        kind = kref[1]
        if kind == "o":
            owner = self.state.owner_of(kref)
            if owner == self.vat_id:
                raise AssertionError(f"{kref} is exported by {self.vat_id} but missing from its c-list")
        elif kind not in "pd":
            raise AssertionError(f"bad kref {kref!r}")
        n = self.state.next_id(f"{self.vat_id}.{kind}.nextID", FIRST_VAT_IMPORT[kind])
        vref = f"{kind}-{n}"
        kv.create(key, "R " + vref)
        kv.create(self.prefix + vref, kref)
        self.state.incref(kref)
        return vref

    def k2v_existing(self, kref: str):
        v = self.kv.get(self.prefix + kref)
        return v[2:] if v is not None else None

    # vat -> kernel (syscalls): unknown exports get new kernel refs; unknown imports are illegal
    def v2k(self, vref: str) -> str:
        kv = self.kv
        k = kv.get(self.prefix + vref)
        if k is not None:
            return k
        if type(vref) is not str or len(vref) < 3 or vref[1] != "+":
            raise IllegalSyscall(f"{self.vat_id} used {vref!r}, which is not in its c-list")
        kind = vref[0]
        state = self.state
        if kind == "o":
            kref = state.add_kernel_object(self.vat_id)
            counted = False
        elif kind == "p":
            kref = state.add_kernel_promise(decider=self.vat_id)
            counted = True
        else:
            raise IllegalSyscall(f"{self.vat_id} cannot export {vref!r}")
        kv.create(self.prefix + vref, kref)
        kv.create(self.prefix + kref, "R " + vref)
        if counted:
            state.incref(kref)
        return kref

    def forget(self, vref: str, kref: str) -> None:
        """Drop a c-list entry (a retired promise)."""
        kv = self.kv
        kv.delete(self.prefix + vref)
        kv.delete(self.prefix + kref)
        self.state.decref(kref)

    def capdata_k2v(self, capdata: dict) -> dict:
        slots = capdata["slots"]
        if not slots:
            return capdata
        k2v = self.k2v
        return {"body": capdata["body"], "slots": [k2v(s) for s in slots]}

    def capdata_v2k(self, capdata) -> dict:
        try:
            body = capdata["body"]
            slots = capdata["slots"]
        except (TypeError, KeyError):
            raise IllegalSyscall(f"{self.vat_id} sent malformed capdata {capdata!r:.80}") from None
        if type(body) is not str or type(slots) is not list:
            raise IllegalSyscall(f"{self.vat_id} sent malformed capdata {capdata!r:.80}")
        if not slots:
            return {"body": body, "slots": []}
        v2k = self.v2k
        return {"body": body, "slots": [v2k(s) for s in slots]}
