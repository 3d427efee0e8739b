"""The host: the cosmic-swingset role between the chain and the kernel.

Pure Python (no Django): it drives the controller through block directives and reaches the
chain only through a `ChainPort` (see `ports`), which the chain implements. Modules:
`host` (directives, height rules, chain-send recording and replay, paused mode),
`delivery` (action queue entries -> kernel calls), `upgrade` (kernel bundle switch),
`kernelport` (which controller implementation to use), `errors`.
"""
