"""Governance (Cosmos x/gov semantics) for the node: proposals, votes, tally, upgrade plans.

The chain app calls the hooks in `txs` (transactions) and `services` (end-block, upgrade
results, state hash); the console reads through `selectors`. `tally` and `params` are pure.
"""
