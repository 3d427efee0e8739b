"""Transactions from a seeded RNG over the demo genesis (kernelhost/demo): the mix shared by
the load generator and the deterministic simulation.

Categories (`--mix`): `bank` (sends between the demo accounts, a few of them failing on
purpose), `swingset` (sends to demo vats: bank-watcher balance queries, which make the kernel
call the chain through the bridge device; dynamic counter vats created by bootstrap, called
and upgraded; pingpong between alice and bob; installBundle of a small vat bundle), `gov`
(text proposals by validators and votes on them). Same seed and mix => same transactions.
"""

from __future__ import annotations

import base64
import random

CATEGORIES = ("bank", "swingset", "gov")
ACCOUNTS = ("alice", "bob", "carol")
VALIDATORS = ("val1", "val2", "val3")
VOTE_OPTIONS = ("yes", "yes", "yes", "no", "abstain", "veto")

SMALL_VAT = '''"""A small vat installed by the load generator / simulation (nonce {nonce})."""

from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    state = {{"n": {nonce}}}

    def bump(k=1):
        state["n"] += k
        return state["n"]

    return Far("Small", {{"bump": bump}})
'''


def parse_mix(text: str | None) -> tuple[str, ...]:
    if not text:
        return CATEGORIES
    mix = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [m for m in mix if m not in CATEGORIES]
    if unknown or not mix:
        raise ValueError(f"unknown mix {','.join(unknown) or text!r}: choose from {','.join(CATEGORIES)}")
    return mix


def small_vat_bundle_b64(nonce: int) -> str:
    from kernelhost.swingstore.bundleformat import make_bundle_from_files

    data = make_bundle_from_files({"vat.py": SMALL_VAT.format(nonce=nonce)}, kind="vat", entry="vat.py",
                                  api_version=1)
    return base64.b64encode(data).decode()


def _send(vat: str, method: str, *args) -> dict:
    return {"type": "swingset/send", "vat": vat, "method": method, "args": list(args)}


class Workload:
    """An endless, reproducible stream of transactions: `next_tx()`."""

    # (category, kind, weight)
    KINDS = (
        ("bank", "send", 10),
        ("bank", "send_other_denom", 1),
        ("bank", "overdraft", 1),
        ("swingset", "query_balance", 4),
        ("swingset", "make_counter", 1),
        ("swingset", "call_counter", 3),
        ("swingset", "upgrade_counter", 1),
        ("swingset", "static_counter", 2),
        ("swingset", "pingpong", 1),
        ("swingset", "install_bundle", 1),
        ("gov", "text_proposal", 1),
        ("gov", "vote", 3),
    )

    def __init__(self, seed: int, mix=CATEGORIES, *, proposal_base: int = 0, counter_prefix: str = "c") -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.mix = tuple(mix)
        self.kinds = [(kind, weight) for category, kind, weight in self.KINDS if category in self.mix]
        if not self.kinds:
            raise ValueError("empty mix")
        self.proposals = proposal_base  # proposal numbers so far (the next one is +1)
        self.counters: list[str] = ["dyn-counter"]  # the demo genesis makes this one at bootstrap
        self.counter_prefix = counter_prefix
        self.made = 0
        self.bundles = 0
        self.count = 0

    def category_of(self, tx: dict) -> str:
        return tx["type"].split("/", 1)[0]

    def next_tx(self) -> dict:
        rng = self.rng
        kind = rng.choices([k for k, _w in self.kinds], weights=[w for _k, w in self.kinds])[0]
        self.count += 1
        return getattr(self, f"_{kind}")(rng)

    # bank
    def _send(self, rng) -> dict:
        sender, receiver = rng.sample(ACCOUNTS, 2)
        return {"type": "bank/send", "from": sender, "to": receiver, "amount": str(rng.randint(1, 5000)),
                "denom": "ucon"}

    def _send_other_denom(self, rng) -> dict:
        return {"type": "bank/send", "from": "alice", "to": rng.choice(("bob", "carol")),
                "amount": str(rng.randint(1, 100)), "denom": "uist"}

    def _overdraft(self, rng) -> dict:
        # fails (insufficient funds): a failing tx must change nothing
        return {"type": "bank/send", "from": rng.choice(("bob", "carol")), "to": "alice",
                "amount": "100000000000000", "denom": "ucon"}

    # swingset
    def _query_balance(self, rng) -> dict:
        return _send("bank-watcher", "query_balance", rng.choice(ACCOUNTS + VALIDATORS), "ucon")

    def _make_counter(self, rng) -> dict:
        self.made += 1
        name = f"{self.counter_prefix}{self.made}"
        self.counters.append(name)
        return _send("bootstrap", "make_counter", name, rng.randint(0, 100))

    def _call_counter(self, rng) -> dict:
        method = rng.choice(("increment", "increment", "durable_increment", "read"))
        args = [] if method == "read" else [rng.randint(1, 9)]
        return _send("bootstrap", "call", rng.choice(self.counters), method, args)

    def _upgrade_counter(self, rng) -> dict:
        return _send("bootstrap", "upgrade_vat", rng.choice(self.counters), rng.choice(("counter-v2", "counter")),
                     {"start": rng.randint(0, 1000)})

    def _static_counter(self, rng) -> dict:
        method = rng.choice(("increment", "durable_increment", "first", "second"))
        return _send("counter", method, *([rng.randint(1, 5)] if "increment" in method else []))

    def _pingpong(self, rng) -> dict:
        return _send("bootstrap", "pingpong", rng.randint(1, 4))

    def _install_bundle(self, rng) -> dict:
        self.bundles += 1
        # a few distinct bundles, re-installed now and then (a no-op with the same ID)
        return {"type": "swingset/installBundle", "bundle": small_vat_bundle_b64(rng.randint(1, 4))}

    # gov
    def _text_proposal(self, rng) -> dict:
        self.proposals += 1
        return {"type": "gov/submitProposal", "proposer": rng.choice(VALIDATORS),
                "content": {"kind": "text", "title": f"load {self.seed}/{self.count}",
                            "description": "submitted by the load generator"}}

    def _vote(self, rng) -> dict:
        if not self.proposals:
            return self._text_proposal(rng)
        low = max(1, self.proposals - 3)
        return {"type": "gov/vote", "voter": rng.choice(VALIDATORS), "proposalId": rng.randint(low, self.proposals),
                "option": rng.choice(VOTE_OPTIONS)}
