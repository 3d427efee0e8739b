"""Capdata: the wire format of passable data between vats and the kernel.

A value is turned into ``{"body": str, "slots": [ref, ...]}``. The body is
``"#"`` followed by compact JSON in which

- ``None``, ``True``/``False`` and ``int`` (any size) are JSON literals;
- ``str`` is a JSON string; a string that starts with one of ``! $ & *`` is
  escaped by a leading ``!`` so it cannot be confused with the encodings below;
- ``bytes`` is ``"*" + base64``;
- ``list`` is a JSON array; ``dict`` with ``str`` keys is a JSON object, except
  that a dict having a key starting with ``#`` is written as
  ``{"#record": [[key, value], ...]}`` so ``#`` keys stay free for tags;
- a remotable (Far object, presence, device node) is ``"$<i>.<iface>"`` and a
  promise ``"&<i>"``, where ``i`` indexes ``slots``;
- an exception is ``{"#error": message, "name": class name}``.

Everything else (floats, tuples, sets, arbitrary objects) is refused with a
`PassableError`: floats format differently across platforms and the rest
would silently change type on the way back. Nothing here ever pickles.

The slot conversion is supplied by the caller, so the same code serves
liveslots (vrefs such as ``o+3``) and the kernel (krefs such as ``ko21``).
Dict order is preserved (it is deterministic in deterministic code).
"""

from __future__ import annotations

import base64

from .jsonfast import dumps as _dumps
from .jsonfast import loads as _loads

__all__ = [
    "PassableError",
    "RemoteError",
    "serialize",
    "unserialize",
    "encode_plain",
    "capdata_is_single_slot",
    "error_capdata",
    "methargs",
    "split_methargs",
]

_ESCAPE_START = frozenset("!$&*")
# In a body, every encoded (non-plain) value is a JSON string starting with one of these
# characters, or a dict key "#...": a body containing none of these sequences is plain
# JSON and decodes without a walk.
_MARKERS = ('"!', '"$', '"&', '"*', '"#')


class PassableError(TypeError):
    """A value cannot cross a vat boundary."""


class RemoteError(Exception):
    """An error that came through capdata (a rejection or a failed device call).

    `name` is the class name of the original exception; the message is all that
    travels, never a traceback (it would leak vat internals and differ between
    machines)."""

    def __init__(self, message: str = "", name: str = "Error"):
        super().__init__(message)
        self.name = name

    @property
    def message(self) -> str:
        return self.args[0] if self.args else ""

    def __repr__(self) -> str:
        return f"RemoteError({self.name}: {self.message})"


def _describe(value: object) -> str:
    t = type(value).__name__
    if isinstance(value, float):
        return f"float {value!r} (floats are not passable; use int or str)"
    if isinstance(value, tuple):
        return "tuple (use a list)"
    if isinstance(value, (set, frozenset)):
        return f"{t} (use a sorted list)"
    return f"{t} object {value!r:.60}"


def _dump_body(value) -> str:
    try:
        return "#" + _dumps(value)
    except ValueError as e:  # the interpreter's limit on int -> str digits
        raise PassableError(f"cannot pass an integer this large: {e}") from None


def serialize(value: object, val_to_slot=None) -> dict:
    """Encode `value` to capdata.

    `val_to_slot(val) -> (slot, is_promise, iface)` is called for every value
    that is not plain data; it must raise `PassableError` for anything it
    cannot export. Without it, only plain data is accepted. Values nested deeper
    than the recursion limit and integers over the interpreter's str-digit limit
    (4300 digits by default) raise `PassableError` too.
    """
    try:
        return _serialize(value, val_to_slot)
    except RecursionError:
        raise PassableError("cannot pass a value nested this deeply") from None


def _serialize(value: object, val_to_slot) -> dict:
    if _is_plain(value):
        return {"body": _dump_body(value), "slots": []}
    slots: list = []
    index: dict = {}

    def enc(v):
        t = type(v)
        if t is str:
            if v and v[0] in _ESCAPE_START:
                return "!" + v
            return v
        if t is int or v is None or t is bool:
            return v
        if t is list:
            return [enc(x) for x in v]
        if t is dict:
            for k in v:
                if type(k) is not str:
                    raise PassableError(f"dict keys must be str, not {type(k).__name__} {k!r:.40}")
                if k[:1] == "#":
                    return {"#record": [[k2, enc(x)] for k2, x in v.items()]}
            return {k: enc(x) for k, x in v.items()}
        if t is bytes:
            return "*" + base64.b64encode(v).decode("ascii")
        if isinstance(v, BaseException):
            name = getattr(v, "name", None) if isinstance(v, RemoteError) else t.__name__
            return {"#error": str(v), "name": name or "Error"}
        if val_to_slot is None:
            raise PassableError(f"cannot pass {_describe(v)}")
        slot, is_promise, iface = val_to_slot(v)
        i = index.get(slot)
        if i is None:
            i = index[slot] = len(slots)
            slots.append(slot)
        if is_promise:
            return f"&{i}"
        return f"${i}.{iface}" if iface else f"${i}"

    return {"body": _dump_body(enc(value)), "slots": slots}


def _is_plain(v) -> bool:
    """True if `v` is JSON-native data that encodes as itself (no escapes, no tags)."""
    t = type(v)
    if t is str:
        return not v or v[0] not in _ESCAPE_START
    if t is int or t is bool or v is None:
        return True
    if t is list:
        for x in v:
            if not _is_plain(x):
                return False
        return True
    if t is dict:
        for k, x in v.items():
            if type(k) is not str or k[:1] == "#" or not _is_plain(x):
                return False
        return True
    return False


def encode_plain(value: object) -> dict:
    """Capdata for plain data (no slots allowed)."""
    return serialize(value, None)


class _SlotError(Exception):
    """Carries an exception raised by the caller's slot conversion through the decoder's own
    error handling, so it reaches the caller unchanged."""


def _slot_index(text: str, slots: list) -> int:
    if not text.isascii() or not text.isdigit():
        raise PassableError(f"malformed slot reference {text[:20]!r}")
    i = int(text)
    if i >= len(slots):
        raise PassableError(f"slot reference {i} out of range ({len(slots)} slots)")
    return i


def unserialize(capdata: dict, slot_to_val=None):
    """Decode capdata. `slot_to_val(slot, iface, is_promise) -> value` maps slots.

    Malformed capdata (not a dict, a body that is not ``#`` + JSON, bad slot references,
    bad base64, bad ``#record``/``#error`` shapes, integers over the interpreter's digit
    limit, nesting deeper than the recursion limit) raises `PassableError`, never anything
    else; exceptions raised by `slot_to_val` itself propagate unchanged."""
    try:
        body = capdata["body"]
        slots = capdata["slots"]
    except (TypeError, KeyError, IndexError):
        raise PassableError("capdata must be a dict with 'body' and 'slots'") from None
    if type(body) is not str or type(slots) is not list:
        raise PassableError("capdata 'body' must be a str and 'slots' a list")
    if body[:1] != "#":
        raise PassableError(f"unknown capdata body format {body[:10]!r}")
    try:
        if not slots and not any(m in body for m in _MARKERS):
            return _loads(body[1:])
        return _decode(_loads(body[1:]), slots, slot_to_val)
    except PassableError:
        raise
    except _SlotError as e:
        raise e.__cause__ from None
    except RecursionError:
        raise PassableError("capdata is nested too deeply") from None
    except (ValueError, TypeError, KeyError, IndexError) as e:  # JSON, base64, digit limit
        raise PassableError(f"malformed capdata: {type(e).__name__}: {str(e)[:120]}") from None


def _decode(data, slots: list, slot_to_val):
    cache: dict = {}

    def ref(i: int, iface: str | None, is_promise: bool):
        v = cache.get(i, cache)
        if v is cache:
            if slot_to_val is None:
                raise PassableError(f"capdata refers to slot {slots[i]!r} but no slot conversion was given")
            try:
                v = slot_to_val(slots[i], iface, is_promise)
            except Exception as e:
                raise _SlotError() from e
            cache[i] = v
        return v

    def dec(v):
        t = type(v)
        if t is str:
            c = v[:1]
            if c == "" or c not in _ESCAPE_START:
                return v
            if c == "!":
                return v[1:]
            if c == "$":
                num, _, iface = v[1:].partition(".")
                return ref(_slot_index(num, slots), iface or None, False)
            if c == "&":
                return ref(_slot_index(v[1:], slots), None, True)
            return base64.b64decode(v[1:], validate=True)
        if t is list:
            return [dec(x) for x in v]
        if t is dict:
            if "#error" in v:
                message, name = v["#error"], v.get("name") or "Error"
                if type(message) is not str or type(name) is not str:
                    raise PassableError("an encoded error needs a str message and name")
                return RemoteError(message, name)
            if "#record" in v:
                record = v["#record"]
                if type(record) is not list or not all(
                        type(p) is list and len(p) == 2 and type(p[0]) is str for p in record):
                    raise PassableError("#record must be a list of [str key, value] pairs")
                return {k: dec(x) for k, x in record}
            return {k: dec(x) for k, x in v.items()}
        return v

    return dec(data)


def capdata_is_single_slot(capdata: dict) -> str | None:
    """If capdata is exactly one remotable (``"$0..."``), return its slot.

    The kernel uses this to decide whether a promise resolved to an object a
    queued message can be re-targeted to."""
    slots = capdata["slots"]
    if len(slots) != 1:
        return None
    body = capdata["body"]
    if body.startswith('#"$0'):
        return slots[0]
    return None


def error_capdata(message: str, name: str = "Error") -> dict:
    """Capdata of an error the kernel makes up (e.g. "vat terminated")."""
    return {"body": "#" + _dumps({"#error": message, "name": name}), "slots": []}


def methargs(method: str, args: list, val_to_slot=None) -> dict:
    """Capdata of a method call: the body is ``[method, args]``."""
    if type(method) is not str:
        raise PassableError(f"method name must be a str, not {type(method).__name__}")
    if type(args) is not list:
        raise PassableError(f"arguments must be passed as a list, not {_describe(args)}")
    return serialize([method, args], val_to_slot)


def split_methargs(capdata: dict, slot_to_val=None) -> tuple[str, list]:
    decoded = unserialize(capdata, slot_to_val)
    if type(decoded) is not list or len(decoded) != 2 or type(decoded[0]) is not str:
        raise PassableError("methargs body must be [method, args]")
    return decoded[0], decoded[1]
