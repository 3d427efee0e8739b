"""The chain (the Cosmos role) as a Django app, label "chain".

Consensus state lives in these models and changes only inside a block's database transaction:
blocks and their transactions, the bank, the action queue feeding the kernel, the swing-store
export-data mirror, validators and the node state (kernel running/paused, bundle id). The
app hash (`services.apphash`) covers that state and nothing the database makes up (ids, wall
clock timestamps).

Entry points: `services.blocks` (propose/execute/commit a block), `services.txs` (submit and
execute transactions), `services.chainsends` (what the kernel's devices may do to the chain),
`selectors` (reads for the console, status and tests), `types` (the hook contract shared with
kernelhost.governance).
"""
