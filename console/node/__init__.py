"""Node pages of the console: dashboard, run-queue, vats, transcripts, chain-sends, blocks.

Kernel state is read from the swing-store through a read-only connection
(`console.node.kernelstore`, `selectors_kernel`); chain data through the ORM
(`selectors_chain`). Views stay thin; live parts are pushed over the websocket by the
templates in `templates/console/live/`.
"""
