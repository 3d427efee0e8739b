"""Compact JSON with less per-call overhead than ``json.dumps``/``json.loads``.

The kernel encodes a transcript entry, capdata bodies and queue items on every
crank; the stock entry points rebuild an encoder (or re-dispatch through
Python) on each call. These call the C encoder/scanner directly when CPython
provides them, and fall back to the standard functions otherwise. The output is
byte-for-byte what ``json.dumps(v, separators=(",", ":"))`` produces
(ASCII-escaped, insertion order, NaN refused).
"""

from __future__ import annotations

import json
from json import decoder as _decoder
from json import encoder as _encoder

__all__ = ["dumps", "loads"]

_slow_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode


def _no_default(o):
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_c_make_encoder = getattr(_encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    # markers=None: no circular check (kernel values are trees built by the kernel or
    # checked by marshal); the encoder object is then stateless and reusable.
    _c_encode = _c_make_encoder(None, _no_default, _encoder.encode_basestring_ascii, None,
                                ":", ",", False, False, False)

    def dumps(value) -> str:
        if type(value) is str:
            return _encoder.encode_basestring_ascii(value)
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover - non-CPython
    dumps = _slow_dumps

_scan_once = json.JSONDecoder().scan_once
_WS = _decoder.WHITESPACE.match


def loads(text: str):
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        return json.loads(text)  # raises the standard error
    if end != len(text) and _WS(text, end).end() != len(text):
        return json.loads(text)
    return value
