"""Deterministic simulation and load generation (issue 10).

- `nodeproc`: a node in a directory of its own, driven through `manage.py` subprocesses
  (SQLite per node, or a PostgreSQL database per node when DATABASE_URL is set), with its
  consensus state read back directly.
- `workload`: transactions from a seeded RNG over the demo genesis (bank, swingset, gov).
- `simulation`: one seed = a workload + a failpoint crash schedule, run through crash/restart
  cycles and compared with an uncrashed run of the same seed, height by height.
- `loadgen`: the steady-rate load generator against a running node.
"""
