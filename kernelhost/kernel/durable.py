"""Baggage and durable kinds: vat state that outlives an incarnation.

Everything here lives in the vat's vatstore (kernel keys ``vNN.vs.*``), never in
Python memory, so a vat upgrade (issue 5: a new incarnation starts from the
vatstore, not from replay) keeps it. Vatstore layout:

    bg.<key>               baggage entry: capdata JSON
    vom.kind.<tag>         durable kind ID of kind `tag`
    vom.nextKindID         next kind ID (from 1)
    vom.dk.<id>.next       next instance number of kind `id` (from 1)
    vom.o+d<id>/<n>        state of one durable object: JSON {field: capdata}

Durable values may hold plain data, durable objects, imported presences and
device nodes, but not ephemeral Far objects or promises (they die with the
incarnation); storing one is an error at the point of storage.

A new incarnation must call `prepare_kind` again for every kind it finds in the
vatstore before build_root_object returns; `check_all_redefined` enforces it.
"""

from __future__ import annotations

from .errors import VatFatal
from .far import IFACE_ATTR, DeviceNode, Presence
from .jsonfast import dumps as _dumps
from .jsonfast import loads as _loads
from .marshal import PassableError, serialize, unserialize

__all__ = ["Baggage", "DurableKinds", "DurableObject"]



class DurableObject:
    """Base class of the representatives of durable objects."""

    __slots__ = ("_vref",)

    def __repr__(self) -> str:
        return f"<Durable {getattr(type(self), IFACE_ATTR, '?')} {self._vref}>"


class Context:
    """What a durable behavior function gets as its first argument."""

    __slots__ = ("state", "self")

    def __init__(self, state, rep):
        self.state = state
        self.self = rep


class StateProxy:
    """Attribute access to one durable object's state record. Reads return fresh copies:
    assign a field to change it (``ctx.state.items = ctx.state.items + [x]``)."""

    __slots__ = ("_kinds", "_vref")

    def __init__(self, kinds, vref):
        object.__setattr__(self, "_kinds", kinds)
        object.__setattr__(self, "_vref", vref)

    def __getattr__(self, name):
        record = self._kinds.load_record(self._vref)
        if name not in record:
            raise AttributeError(f"durable state has no field {name!r}")
        return self._kinds.decode(record[name])

    def __setattr__(self, name, value):
        kinds = self._kinds
        record = kinds.load_record(self._vref)
        if name not in record:
            raise AttributeError(f"durable state has no field {name!r} (fields are fixed by init)")
        record[name] = kinds.encode(value)
        kinds.store_record(self._vref, record)


class _Kind:
    __slots__ = ("tag", "kind_id", "cls")

    def __init__(self, tag, kind_id, cls):
        self.tag = tag
        self.kind_id = kind_id
        self.cls = cls


class DurableKinds:
    def __init__(self, ls):
        self._ls = ls
        self._by_tag: dict[str, _Kind] = {}
        self._by_id: dict[int, _Kind] = {}
        self._reps: dict[str, DurableObject] = {}
        self._records: dict[str, dict] = {}  # per-delivery cache of state records

    def begin_delivery(self) -> None:
        # The cache never outlives a delivery: what a delivery reads is in its syscalls,
        # so replay sees the same reads in the same order.
        if self._records:
            self._records.clear()

    # ---- encoding of durable values
    def _durable_slot(self, v):
        t = type(v)
        if t is Presence or t is DeviceNode:
            return (v.vref, False, v.iface)
        if isinstance(v, DurableObject):
            return (v._vref, False, getattr(t, IFACE_ATTR, None))
        raise PassableError(f"value is not durable: {type(v).__name__} {v!r:.60} "
                            "(only plain data, durable objects, presences and device nodes can be stored)")

    def encode(self, value) -> dict:
        return serialize(value, self._durable_slot)

    def decode(self, capdata: dict):
        return unserialize(capdata, self._ls._stv)

    # ---- records
    def load_record(self, vref: str) -> dict:
        rec = self._records.get(vref)
        if rec is None:
            raw = self._ls.vs_get("vom." + vref)
            if raw is None:
                raise KeyError(f"durable object {vref} has no state")
            rec = self._records[vref] = _loads(raw)
        return rec

    def store_record(self, vref: str, record: dict) -> None:
        self._records[vref] = record
        self._ls.vs_set("vom." + vref, _dumps(record))

    # ---- kinds
    def prepare_kind(self, baggage, tag: str, init, behavior: dict):
        """Define (or, in a later incarnation, re-define) durable kind `tag`.

        init(*args, **kw) -> dict of initial state fields; behavior maps method
        names to functions ``fn(ctx, *args)`` with ``ctx.state`` and ``ctx.self``.
        Returns the maker: ``maker(*args, **kw)`` -> a new durable object."""
        if not isinstance(baggage, Baggage):
            raise TypeError("prepare_kind(baggage, tag, init, behavior): baggage must be the vat's baggage")
        if type(tag) is not str or not tag:
            raise TypeError("durable kind tag must be a non-empty str")
        if tag in self._by_tag:
            raise ValueError(f"durable kind {tag!r} is already defined in this incarnation")
        if not callable(init) or not isinstance(behavior, dict):
            raise TypeError("prepare_kind needs init (callable) and behavior (dict of functions)")
        ls = self._ls
        raw = ls.vs_get("vom.kind." + tag)
        if raw is None:
            kind_id = int(ls.vs_get("vom.nextKindID") or "1")
            ls.vs_set("vom.nextKindID", str(kind_id + 1))
            ls.vs_set("vom.kind." + tag, str(kind_id))
        else:
            kind_id = int(raw)
        kinds = self
        ns: dict = {"__slots__": (), IFACE_ATTR: tag}
        for name, fn in behavior.items():
            if type(name) is not str or not name or name[0] == "_" or not callable(fn):
                raise TypeError(f"behavior {name!r} must be a public method name mapped to a function")

            def method(self, *args, _fn=fn, **kw):
                return _fn(Context(StateProxy(kinds, self._vref), self), *args, **kw)

            method.__name__ = name
            ns[name] = method
        cls = type("Durable_" + "".join(c if c.isalnum() else "_" for c in tag), (DurableObject,), ns)
        kind = _Kind(tag, kind_id, cls)
        self._by_tag[tag] = kind
        self._by_id[kind_id] = kind

        def maker(*args, **kw):
            state = init(*args, **kw)
            if type(state) is not dict or not all(type(k) is str for k in state):
                raise TypeError(f"init of durable kind {tag!r} must return a dict with str keys")
            counter = f"vom.dk.{kind_id}.next"
            n = int(ls.vs_get(counter) or "1")
            ls.vs_set(counter, str(n + 1))
            vref = f"o+d{kind_id}/{n}"
            record = {k: kinds.encode(v) for k, v in state.items()}
            kinds.store_record(vref, record)
            return kinds._make_rep(kind, vref)

        maker.__name__ = f"make_{tag}"
        return maker

    def _make_rep(self, kind: _Kind, vref: str):
        rep = kind.cls.__new__(kind.cls)
        object.__setattr__(rep, "_vref", vref)
        self._reps[vref] = rep
        self._ls.register_durable(vref, rep, kind.tag)
        return rep

    def rep_for(self, vref: str):
        rep = self._reps.get(vref)
        if rep is not None:
            return rep
        try:
            kind_id = int(vref[3:].split("/", 1)[0])
        except ValueError:
            raise PassableError(f"bad durable vref {vref!r}") from None
        kind = self._by_id.get(kind_id)
        if kind is None:
            raise PassableError(f"durable object {vref} belongs to kind #{kind_id}, "
                                "which this incarnation has not defined (yet)")
        return self._make_rep(kind, vref)

    def check_all_redefined(self) -> None:
        ls = self._ls
        prefix = "vom.kind."
        key = ls.vs_next_key(prefix)
        missing = []
        while key is not None and key.startswith(prefix):
            tag = key[len(prefix):]
            if tag not in self._by_tag:
                missing.append(tag)
            key = ls.vs_next_key(key)
        if missing:
            raise VatFatal(f"durable kinds not redefined by this incarnation: {sorted(missing)}")


class Baggage:
    """The vat's durable root map (str keys). Survives upgrades."""

    __slots__ = ("_ls",)

    _PREFIX = "bg."

    def __init__(self, ls):
        self._ls = ls

    def _raw(self, key: str):
        if type(key) is not str:
            raise TypeError(f"baggage keys are str, not {type(key).__name__}")
        return self._ls.vs_get(self._PREFIX + key)

    def has(self, key: str) -> bool:
        return self._raw(key) is not None

    def get(self, key: str, *default):
        raw = self._raw(key)
        if raw is None:
            if default:
                return default[0]
            raise KeyError(f"baggage has no key {key!r}")
        return self._ls.kinds.decode(_loads(raw))

    def init(self, key: str, value) -> None:
        if self._raw(key) is not None:
            raise KeyError(f"baggage key {key!r} already exists (use set)")
        self._ls.vs_set(self._PREFIX + key, _dumps(self._ls.kinds.encode(value)))

    def set(self, key: str, value) -> None:
        if self._raw(key) is None:
            raise KeyError(f"baggage has no key {key!r} (use init)")
        self._ls.vs_set(self._PREFIX + key, _dumps(self._ls.kinds.encode(value)))

    def delete(self, key: str) -> None:
        if self._raw(key) is None:
            raise KeyError(f"baggage has no key {key!r}")
        self._ls.vs_delete(self._PREFIX + key)

    def provide(self, key: str, make_default):
        """get(key), or init it with make_default() first."""
        raw = self._raw(key)
        if raw is None:
            value = make_default()
            self._ls.vs_set(self._PREFIX + key, _dumps(self._ls.kinds.encode(value)))
            return value
        return self._ls.kinds.decode(_loads(raw))

    def keys(self) -> list:
        out = []
        ls, prefix = self._ls, self._PREFIX
        key = ls.vs_next_key(prefix)
        while key is not None and key.startswith(prefix):
            out.append(key[len(prefix):])
            key = ls.vs_next_key(key)
        return out
