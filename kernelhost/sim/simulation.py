"""Deterministic simulation, FoundationDB style (issue 10).

A seed (with the target height) determines everything:

- the workload: `max_txs` (transactions per block), the crank budget, and a list of
  transactions drawn from `workload.Workload` (bank, swingset, gov), sometimes with a null
  kernel upgrade voted through governance (so `kernel.upgrade.after_shutdown` has something
  to interrupt). The whole list is put in the mempool before block 1 and `runnode --max-txs
  K` takes the first K pending ones per block (by submission order, `next_block`), so the
  same transactions land in the same blocks in every run.
- the crash schedule: one `crash@N` per failpoint of `kernelhost.failpoints.FAILPOINTS`, N
  drawn from a range that suits how often that point is hit (per block, per crank, per bridge
  call, per upgrade), in a seeded order, sometimes with a second block-level crash.

Crashed run: `runnode --until-height H --logical-clock` with every not-yet-fired scheduled
failpoint armed (hit counts restart with each process). Exit 86 names the failpoint that
fired (stderr `failpoint NAME: crash`): it is dropped and the node restarts with the rest,
until a run reaches H. The uncrashed run of the same prepared node runs to H once. Then the
app hash at every height 1..H, the chain state (height, balances, action queue with consumed
heights, storage, tx results, export-data count) and, for the crashed node, the export-data
mirror against the swing-store's own export must all agree.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kernelhost.failpoints import FAILPOINTS

from . import nodeproc
from .workload import CATEGORIES, Workload

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
BLOCK_TIME_MS = 1000
VOTING_PERIOD = 2
UPGRADE_LEAD = 1
DEFAULT_HEIGHT = 12
_FIRED = re.compile(r"failpoint ([\w.]+): crash")

# How often each failpoint is hit decides the range of N in crash@N.
PER_BLOCK = ("block.after_proposal", "host.before_swingstore_commit", "host.after_swingstore_commit",
             "chain.after_commit")


def hit_range(name: str, height: int) -> tuple[int, int]:
    if name in PER_BLOCK:
        return 1, max(2, height // 4)
    if name == "kernel.after_crank":
        return 1, 40
    if name == "kernel.mid_delivery":
        return 1, 4
    if name == "vat.upgrade.after_stop":
        return 1, 2
    return 1, 1  # kernel.upgrade.after_shutdown: one upgrade per run


def sim_config() -> dict:
    """The demo genesis (kernelhost/demo) with short governance periods, so a kernel upgrade
    fits in a short run. The crank budget is set per seed."""
    kernel = json.loads((DEMO_DIR / "genesis.json").read_text())
    chain = json.loads((DEMO_DIR / "chain-genesis.json").read_text())
    chain["gov"] = {"voting_period_blocks": VOTING_PERIOD, "expedited_voting_period_blocks": 1,
                    "min_upgrade_lead_blocks": UPGRADE_LEAD}
    kernel["baseDir"] = str(DEMO_DIR)
    kernel["chain"] = chain
    return kernel


@dataclass
class Plan:
    seed: int
    height: int
    max_txs: int
    crank_budget: int
    txs: list[dict]
    schedule: list[tuple[str, int]]
    upgrade_height: int | None = None

    def describe(self) -> str:
        kinds: dict[str, int] = {}
        for tx in self.txs:
            kinds[tx["type"]] = kinds.get(tx["type"], 0) + 1
        return (f"seed {self.seed}: height {self.height}, {len(self.txs)} txs ({self.max_txs}/block, "
                f"{json.dumps(kinds, sort_keys=True)}), crank budget {self.crank_budget}, "
                f"upgrade at {self.upgrade_height}, crashes {', '.join(f'{n}@{k}' for n, k in self.schedule)}")


def make_plan(seed: int, height: int = DEFAULT_HEIGHT, *, kernel_bundle_id: str = "", mix=CATEGORIES,
              max_crashes: int | None = None) -> Plan:
    rng = random.Random(f"kernel-console-sim:{seed}:{height}")
    max_txs = rng.randint(1, 5)
    crank_budget = rng.choice((3, 5, 8, 13, 21, 40, 200))
    busy_blocks = rng.randint(max(1, height // 2), max(1, height - 1))
    count = max_txs * busy_blocks
    workload = Workload(rng.randrange(2**32), mix)
    upgrade_at: int | None = None
    if kernel_bundle_id and "gov" in mix and height >= VOTING_PERIOD + UPGRADE_LEAD + 4 and rng.random() < 0.8:
        first_block = rng.randint(1, height - VOTING_PERIOD - UPGRADE_LEAD - 3)
        upgrade_at = (first_block - 1) * max_txs  # the first tx of that block
    txs: list[dict] = []
    upgrade_height = None
    while len(txs) < count:
        if upgrade_at is not None and len(txs) == upgrade_at:
            block = len(txs) // max_txs + 1
            upgrade_height = rng.randint(block + VOTING_PERIOD + UPGRADE_LEAD, height - 1)
            workload.proposals += 1
            txs.append({"type": "gov/submitProposal", "proposer": "val1",
                        "content": {"kind": "kernelUpgrade", "bundleID": kernel_bundle_id, "height": upgrade_height,
                                    "name": f"sim-null-upgrade-{seed}"}})
            txs += [{"type": "gov/vote", "voter": v, "proposalId": workload.proposals, "option": "yes"}
                    for v in ("val1", "val2")]
            continue
        txs.append(workload.next_tx())
    names = sorted(FAILPOINTS)
    rng.shuffle(names)
    schedule = [(name, rng.randint(*hit_range(name, height))) for name in names]
    if rng.random() < 0.5:
        extra = rng.choice(PER_BLOCK)
        schedule.insert(rng.randint(0, len(schedule)), (extra, rng.randint(*hit_range(extra, height))))
    if max_crashes is not None:
        schedule = schedule[:max_crashes]
    return Plan(seed=seed, height=height, max_txs=max_txs, crank_budget=crank_budget, txs=txs, schedule=schedule,
                upgrade_height=upgrade_height)


@dataclass
class SimResult:
    seed: int
    height: int
    max_crashes: int | None
    ok: bool
    seconds: float
    plan: str = ""
    fired: list[str] = field(default_factory=list)  # "name@N (height h)"
    not_fired: list[str] = field(default_factory=list)
    restarts: int = 0
    replayed: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    backend: str = "sqlite"

    @property
    def command(self) -> str:
        extra = "" if self.max_crashes is None else f" --max-crashes {self.max_crashes}"
        postgres = " --postgres" if self.backend == "postgresql" else ""
        return f"python manage.py simulate --seed {self.seed} --height {self.height}{extra}{postgres}"

    @property
    def fired_names(self) -> list[str]:
        return [f.split("@", 1)[0] for f in self.fired]


def _run_args(plan: Plan) -> tuple[str, ...]:
    return ("runnode", "--until-height", str(plan.height), "--logical-clock", "--block-time-ms", str(BLOCK_TIME_MS),
            "--max-txs", str(plan.max_txs), "--quiet")


def _top_height(node: Path) -> int:
    hashes = nodeproc.app_hashes(node)
    return max(hashes) if hashes else 0


def crash_and_restart(node: Path, plan: Plan, result: SimResult) -> bool:
    """Run to plan.height through the crash schedule. False (with a problem noted) if a
    restart failed for any other reason than a scheduled crash."""
    pending = list(plan.schedule)
    for _attempt in range(len(plan.schedule) + 2):
        armed: dict[str, int] = {}
        for name, at in pending:
            armed.setdefault(name, at)
        spec = ",".join(f"{name}=crash@{at}" for name, at in sorted(armed.items()))
        run = nodeproc.manage(node, *_run_args(plan), failpoints=spec or None)
        if run.returncode == nodeproc.CRASH_EXIT:
            fired = _FIRED.findall(run.stderr)
            if not fired or fired[-1] not in armed:
                result.problems.append(f"exit 86 without a scheduled failpoint firing:\n{run.stderr[-3000:]}")
                return False
            name = fired[-1]
            pending.remove((name, armed[name]))
            result.fired.append(f"{name}@{armed[name]} (committed height {_top_height(node)})")
            result.restarts += 1
            continue
        if run.returncode != 0:
            result.problems.append(f"runnode exit {run.returncode} after {len(result.fired)} crashes "
                                   f"({', '.join(result.fired) or 'none'}) with {spec or 'no failpoints'}:\n"
                                   f"{run.stdout[-1000:]}\n{run.stderr[-4000:]}")
            return False
        break
    result.not_fired = [f"{name}@{at}" for name, at in pending]
    return True


def compare(reference: Path, crashed: Path, plan: Plan, result: SimResult) -> None:
    ref_hashes, hashes = nodeproc.app_hashes(reference), nodeproc.app_hashes(crashed)
    if sorted(ref_hashes) != list(range(1, plan.height + 1)):
        result.problems.append(f"the uncrashed run committed heights {sorted(ref_hashes)}, not 1..{plan.height}")
    diverged = [h for h in range(1, plan.height + 1) if hashes.get(h) != ref_hashes.get(h)]
    if diverged:
        h = diverged[0]
        result.problems.append(f"app hash differs from the uncrashed run at heights {diverged} (first {h}: "
                               f"{ref_hashes.get(h)} uncrashed vs {hashes.get(h)} crashed)")
    ref_state, state = nodeproc.chain_state(reference), nodeproc.chain_state(crashed)
    for key in ref_state:
        if state[key] != ref_state[key]:
            result.problems.append(f"{key} differs after crashes: {_first_difference(ref_state[key], state[key])}")
    mirror, exported = nodeproc.export_data_mirror(crashed), nodeproc.swingstore_export_data(crashed)
    if mirror != exported:
        keys = sorted(k for k in set(mirror) | set(exported) if mirror.get(k) != exported.get(k))
        result.problems.append(f"export-data mirror != swing-store export after crashes: {keys[:5]}")
    result.replayed = nodeproc.replayed_heights(crashed)


def _first_difference(expected, actual) -> str:
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
            if a != b:
                return f"item {i}: uncrashed {a!r} vs crashed {b!r}"
        return f"{len(expected)} items uncrashed vs {len(actual)} crashed"
    return f"uncrashed {expected!r} vs crashed {actual!r}"


class Simulator:
    """Prepares one genesis node (migrate + initnode) and runs seeds against copies of it."""

    def __init__(self, workdir: Path | None = None, *, postgres: bool = False, keep: bool = False) -> None:
        self._tmp = None if workdir else tempfile.mkdtemp(prefix="kc-sim-")
        self.workdir = Path(workdir or self._tmp)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.postgres = postgres
        self.keep = keep
        self.base: Path | None = None
        self.kernel_bundle_id = ""

    def prepare(self) -> None:
        if self.base is not None:
            return
        config = self.workdir / "sim-genesis.json"
        config.write_text(json.dumps(sim_config(), indent=1))
        self.base = nodeproc.prepare_node(self.workdir / "genesis", config=config, postgres=self.postgres)
        with nodeproc._Conn(self.base) as conn:
            (self.kernel_bundle_id,) = conn.execute("SELECT kernel_bundle_id FROM chain_nodestate").fetchone()

    def plan(self, seed: int, height: int, max_crashes: int | None = None) -> Plan:
        self.prepare()
        return make_plan(seed, height, kernel_bundle_id=self.kernel_bundle_id, max_crashes=max_crashes)

    def run_seed(self, seed: int, height: int = DEFAULT_HEIGHT, max_crashes: int | None = None) -> SimResult:
        started = time.monotonic()
        plan = self.plan(seed, height, max_crashes)
        result = SimResult(seed=seed, height=height, max_crashes=max_crashes, ok=False, seconds=0.0, plan=plan.describe(),
                           backend="postgresql" if self.postgres else "sqlite")
        seed_dir = self.workdir / f"seed-{seed}-h{height}"
        shutil.rmtree(seed_dir, ignore_errors=True)
        reference = crashed = None
        try:
            reference = nodeproc.copy_node(self.base, seed_dir / "ref")
            nodeproc.submit_all(reference, plan.txs, prelude=(
                "from kernelhost.chain.models import NodeState\n"
                f"NodeState.objects.filter(pk=1).update(crank_budget={plan.crank_budget})\n"))
            crashed = nodeproc.copy_node(reference, seed_dir / "crash")
            with ThreadPoolExecutor(max_workers=2) as pool:
                ref_run = pool.submit(nodeproc.manage, reference, *_run_args(plan))
                survived = crash_and_restart(crashed, plan, result)
                ref_done = ref_run.result()
            if ref_done.returncode != 0:
                result.problems.append(f"the uncrashed run failed: exit {ref_done.returncode}\n"
                                       f"{ref_done.stderr[-4000:]}")
            elif survived:
                compare(reference, crashed, plan, result)
        except Exception as exc:  # noqa: BLE001 - a seed that breaks the harness is a failing seed
            result.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            if not self.keep or not result.problems:
                for node in (reference, crashed):
                    if node is not None:
                        nodeproc.drop_postgres(node)
                shutil.rmtree(seed_dir, ignore_errors=True)
        result.ok = not result.problems
        result.seconds = time.monotonic() - started
        return result

    def close(self) -> None:
        if self.base is not None:
            nodeproc.drop_postgres(self.base)
        if self._tmp and not self.keep:
            shutil.rmtree(self._tmp, ignore_errors=True)
