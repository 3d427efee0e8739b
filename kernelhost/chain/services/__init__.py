"""Writes to chain state. Everything here runs inside a block's database transaction (or
genesis), except `txs.submit_tx`, which only adds to the mempool."""
