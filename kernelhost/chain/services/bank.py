"""Accounts and balances. Amounts are Decimals with no fractional part, never floats."""

from __future__ import annotations

from decimal import Decimal

from kernelhost.chain.models import Account, Balance
from kernelhost.chain.types import ERR_INSUFFICIENT_FUNDS, ERR_UNKNOWN_ACCOUNT, OK, TxResult


def account_exists(address: str) -> bool:
    return Account.objects.filter(address=address).exists()


def get_balance(address: str, denom: str) -> Decimal:
    row = Balance.objects.filter(address=address, denom=denom).values_list("amount", flat=True).first()
    return Decimal(0) if row is None else Decimal(row)


def _set_balance(address: str, denom: str, amount: Decimal) -> None:
    if amount == 0:
        Balance.objects.filter(address=address, denom=denom).delete()
        return
    updated = Balance.objects.filter(address=address, denom=denom).update(amount=amount)
    if not updated:
        Balance.objects.create(address=address, denom=denom, amount=amount)


def create_account(address: str) -> None:
    Account.objects.get_or_create(address=address)


def credit(address: str, denom: str, amount: Decimal) -> Decimal:
    new = get_balance(address, denom) + amount
    _set_balance(address, denom, new)
    return new


def debit(address: str, denom: str, amount: Decimal) -> Decimal | None:
    """Take `amount`; None (and nothing changed) when the balance is too small."""
    have = get_balance(address, denom)
    if have < amount:
        return None
    _set_balance(address, denom, have - amount)
    return have - amount


def transfer(sender: str, recipient: str, amount: Decimal, denom: str) -> TxResult:
    parties = [sender, recipient]
    known = set(Account.objects.filter(address__in=parties).values_list("address", flat=True))
    for address in parties:
        if address not in known:
            return TxResult(ERR_UNKNOWN_ACCOUNT, f"unknown account {address!r}")
    held = {a: Decimal(m) for a, m in Balance.objects.filter(address__in=parties, denom=denom)
            .values_list("address", "amount")}
    have = held.get(sender, Decimal(0))
    if have < amount:
        return TxResult(ERR_INSUFFICIENT_FUNDS,
                        f"insufficient funds: {sender} has {have}{denom}, needs {amount}{denom}")
    if sender != recipient:
        held[sender] = have - amount
        held[recipient] = held.get(recipient, Decimal(0)) + amount
        _set_balance(sender, denom, held[sender])
        _set_balance(recipient, denom, held[recipient])
    return TxResult(OK, "", {"balances": {a: str(held.get(a, Decimal(0))) for a in parties}})
