"""Transaction shapes (DESIGN §3) and their validation, used both when a transaction is
submitted (refuse early, with a clear message) and when its block executes (a transaction
that reached the mempool some other way still cannot do harm)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal, InvalidOperation

from .types import ERR_INVALID, ERR_TOO_LARGE

TX_TYPES = ("bank/send", "swingset/send", "swingset/deliverInbound", "swingset/installBundle")
GOV_PREFIX = "gov/"
SWINGSET_PREFIX = "swingset/"
MAX_TX_JSON_BYTES = 64 * 1024  # everything but bundles
DEFAULT_MAX_BUNDLE_BYTES = 8 * 1024 * 1024
_DENOM = re.compile(r"^[a-z][a-z0-9/]{1,63}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_DIGITS = re.compile(r"-?[0-9]+")
# Nesting allowed in a transaction body (swingset/send args, gov content): far more than any
# real message needs, far below the interpreter's recursion limit, so encoding it, storing it
# and marshalling it in the kernel can never hit a RecursionError.
MAX_NESTING = 64


class TxInvalid(ValueError):
    def __init__(self, message: str, code: int = ERR_INVALID) -> None:
        super().__init__(message)
        self.code = code


def canonical_json(value) -> str:
    """The one serialization hashed anywhere in the chain: sorted keys, no spaces, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def parse_amount(value) -> Decimal:
    """Amounts are whole numbers, given as a JSON integer or a string of digits (never a
    float: 0.1 + 0.2 is not money)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TxInvalid("amount must be an integer or a string of digits")
    if isinstance(value, str) and not _DIGITS.fullmatch(value.strip()):
        raise TxInvalid(f"amount {value[:40]!r} is not a whole number in decimal digits")
    try:
        amount = Decimal(value) if isinstance(value, int) else Decimal(value.strip())
    except InvalidOperation:
        raise TxInvalid(f"amount {value!r} is not a number") from None
    if amount != amount.to_integral_value() or not amount.is_finite():
        raise TxInvalid(f"amount {value!r} is not a whole number")
    if amount < 0:
        raise TxInvalid(f"negative amount {value!r}")
    if amount == 0:
        raise TxInvalid("amount must be positive")
    if amount >= Decimal(10) ** 40:
        raise TxInvalid("amount too large")
    return amount


def _require(body: dict, name: str, kind: type | tuple, what: str):
    if name not in body:
        raise TxInvalid(f"missing field {name!r}")
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise TxInvalid(f"field {name!r} must be {what}")
    return value


def _name(body: dict, name: str) -> str:
    value = _require(body, name, str, "a string")
    if not _NAME.fullmatch(value):
        raise TxInvalid(f"field {name!r} has an invalid value {value[:40]!r}")
    return value


def split_tx(tx: object) -> tuple[str, dict]:
    """(type, body) of a submitted JSON transaction `{"type": ..., ...fields}`."""
    if not isinstance(tx, dict):
        raise TxInvalid("a transaction is a JSON object")
    tx_type = tx.get("type")
    if not isinstance(tx_type, str) or not tx_type:
        raise TxInvalid("missing field 'type'")
    if len(tx_type) > 128 or not tx_type.isascii():
        raise TxInvalid(f"unknown transaction type {tx_type[:40]!r}")
    return tx_type, {k: v for k, v in tx.items() if k != "type"}


def check_json_data(value: object, max_nesting: int = MAX_NESTING) -> None:
    """Raise TxInvalid unless `value` is plain JSON data: dicts with str keys, lists, str
    (valid Unicode: no lone surrogates, no U+0000), int, finite float, bool, None, nested at most
    `max_nesting` deep. Iterative, so hostile input cannot exhaust the stack."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        t = type(item)
        if t is dict or t is list:
            if depth >= max_nesting:
                raise TxInvalid(f"transaction nested too deeply (limit {max_nesting} levels)")
            if t is dict:
                for key, child in item.items():
                    if type(key) is not str:
                        raise TxInvalid("object keys must be strings")
                    stack.append((key, depth + 1))
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif t is str:
            if "\x00" in item:
                # PostgreSQL's jsonb cannot hold U+0000 while SQLite can: accepting it would
                # make the same transaction valid on some nodes and a database error on others.
                raise TxInvalid("transaction contains a NUL character (U+0000)")
            if item.isascii():
                continue
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise TxInvalid("transaction contains a string that is not valid Unicode") from None
        elif t is float:
            if item != item or item in (float("inf"), float("-inf")):
                raise TxInvalid("transaction contains a non-finite number")
        elif t is int:
            if item.bit_length() > 4096:
                raise TxInvalid("transaction contains an integer over 4096 bits")
        elif not (item is None or t is bool):
            raise TxInvalid(f"transaction contains a {t.__name__}, which is not JSON data")


def validate_tx(tx_type: str, body: dict, *, max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES) -> dict:
    """Check the shape of a transaction; return its normalized body. Raises TxInvalid."""
    check_json_data(body)
    if tx_type.startswith(GOV_PREFIX):
        if len(canonical_json(body)) > MAX_TX_JSON_BYTES:
            raise TxInvalid("transaction too large", ERR_TOO_LARGE)
        return body  # governance validates its own transactions
    if tx_type not in TX_TYPES:
        raise TxInvalid(f"unknown transaction type {tx_type!r}")
    if tx_type == "swingset/installBundle":
        return _validate_install_bundle(body, max_bundle_bytes)
    if len(canonical_json(body)) > MAX_TX_JSON_BYTES:
        raise TxInvalid(f"transaction too large (limit {MAX_TX_JSON_BYTES} bytes)", ERR_TOO_LARGE)
    if tx_type == "bank/send":
        denom = _require(body, "denom", str, "a string")
        if not _DENOM.fullmatch(denom):
            raise TxInvalid(f"invalid denom {denom!r}")
        if "amount" not in body:
            raise TxInvalid("missing field 'amount'")
        return {"from": _name(body, "from"), "to": _name(body, "to"),
                "amount": str(parse_amount(body["amount"])), "denom": denom}
    if tx_type == "swingset/send":
        args = body.get("args", [])
        if not isinstance(args, list):
            raise TxInvalid("field 'args' must be a list")
        return {"vat": _name(body, "vat"), "method": _name(body, "method"), "args": args}
    # swingset/deliverInbound
    messages = _require(body, "messages", list, "a list of [seq, body]")
    for message in messages:
        if (not isinstance(message, list) or len(message) != 2 or not isinstance(message[0], int)
                or isinstance(message[0], bool) or message[0] < 0 or not isinstance(message[1], str)):
            raise TxInvalid("each message must be [seq (integer >= 0), body (string)]")
    ack = _require(body, "ack", int, "an integer")
    if ack < 0:
        raise TxInvalid("field 'ack' must not be negative")
    return {"peer": _name(body, "peer"), "messages": messages, "ack": ack}


def _validate_install_bundle(body: dict, max_bundle_bytes: int) -> dict:
    encoded = _require(body, "bundle", str, "a base64 string")
    if len(encoded) > (max_bundle_bytes * 4) // 3 + 8:
        raise TxInvalid(f"bundle too large (limit {max_bundle_bytes} bytes)", ERR_TOO_LARGE)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TxInvalid("field 'bundle' is not valid base64") from None
    if len(data) > max_bundle_bytes:
        raise TxInvalid(f"bundle too large ({len(data)} > {max_bundle_bytes} bytes)", ERR_TOO_LARGE)
    if not data:
        raise TxInvalid("empty bundle")
    return {"bundle": encoded}


def decode_bundle(body: dict) -> bytes:
    return base64.b64decode(body["bundle"], validate=True)
