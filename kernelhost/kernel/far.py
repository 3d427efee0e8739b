"""Remotables: what a vat may pass by reference.

- `Far(name, obj)` marks an object (or turns a dict of functions into an
  object) as a remotable with interface name `name`; `@far` / `@far("Name")`
  marks every instance of a class. Only public methods (no leading ``_``) can
  be called from other vats.
- `Presence` is the local stand-in for another vat's object (an import); send
  to it with ``E(presence).method(...)``.
- `DeviceNode` is a device reference; call it synchronously with
  ``D(node).method(...)``.
"""

from __future__ import annotations

__all__ = ["Far", "far", "iface_of", "Presence", "DeviceNode", "method_of"]

IFACE_ATTR = "__far_iface__"


class _FarRecord:
    """The object `Far(name, {...})` makes from a dict of functions."""

    def __repr__(self) -> str:
        return f"<Far {getattr(self, IFACE_ATTR, '?')}>"


def Far(name: str, obj=None):  # noqa: N802 - the SwingSet name
    if type(name) is not str or not name:
        raise TypeError("Far(name, obj): name must be a non-empty str")
    if obj is None or isinstance(obj, dict):
        rec = _FarRecord()
        for key, fn in (obj or {}).items():
            if type(key) is not str or key.startswith("_"):
                raise TypeError(f"Far method names must be public str, not {key!r}")
            if not callable(fn):
                raise TypeError(f"Far({name!r}): {key!r} is not callable")
            rec.__dict__[key] = fn
        rec.__dict__[IFACE_ATTR] = name
        return rec
    if isinstance(obj, type):
        raise TypeError("Far() marks objects; use @far to mark a class")
    try:
        object.__setattr__(obj, IFACE_ATTR, name)
    except (AttributeError, TypeError):
        raise TypeError(f"cannot mark {type(obj).__name__} object as Far (no instance attributes); "
                        "use @far on its class") from None
    return obj


def far(arg=None):
    """Class decorator: ``@far`` or ``@far("Iface")``."""
    if isinstance(arg, type):
        type.__setattr__(arg, IFACE_ATTR, arg.__name__)
        return arg

    def mark(cls):
        if not isinstance(cls, type):
            raise TypeError("@far decorates classes")
        type.__setattr__(cls, IFACE_ATTR, arg or cls.__name__)
        return cls

    return mark


def iface_of(obj) -> str | None:
    try:
        return getattr(obj, IFACE_ATTR, None)
    except Exception:  # noqa: BLE001 - a broken __getattr__ just means "not remotable"
        return None


def method_of(obj, name: str):
    """The callable for a remote method call, or raise AttributeError/TypeError."""
    if type(name) is not str or not name or name[0] == "_":
        raise TypeError(f"method name {name!r} is not callable remotely")
    fn = getattr(obj, name, None)
    if fn is None or not callable(fn):
        raise TypeError(f"{iface_of(obj) or type(obj).__name__} has no method {name!r}")
    return fn


class Presence:
    """Another vat's object, as seen from this vat."""

    __slots__ = ("vref", "iface")

    def __init__(self, vref: str, iface: str | None):
        self.vref = vref
        self.iface = iface

    def __repr__(self) -> str:
        return f"<Presence {self.iface or '?'} {self.vref}>"

    def __getattr__(self, name):
        raise AttributeError(f"{self!r} is remote: use E(x).{name}(...) to send it a message")


class DeviceNode:
    __slots__ = ("vref", "iface")

    def __init__(self, vref: str, iface: str | None):
        self.vref = vref
        self.iface = iface

    def __repr__(self) -> str:
        return f"<DeviceNode {self.iface or '?'} {self.vref}>"
