"""Shared by the atheris harnesses in this directory (see fuzz/README.md).

- puts the project root on sys.path (the harnesses run as `python fuzz/fuzz_<target>.py`);
- `main(target, test_one_input)`: atheris.Setup + atheris.Fuzz with this project's defaults
  (crash files in fuzz/crashes/<target>/, a per-input timeout), `--write-seeds`, and the
  planted crash `FUZZ_PLANT_CRASH=<marker>` (any input containing the marker raises
  `PlantedCrash`, so tests/hostile/test_atheris.py can prove a crash is really reported);
- `json_value(fdp)`: a JSON-ish value (plus a few non-JSON Python values) drawn from a
  FuzzedDataProvider, for the structured half of the JSON targets;
- `temp_dir(target)`: a scratch directory removed at exit (and stale ones of dead runs).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
CRASH_DIR = ROOT / "fuzz" / "crashes"
SEED_DIR = ROOT / "fuzz" / "seeds"

HOSTILE_STRINGS = ["", "alice", "alice\n", "\ud800", "a" * 200, "../../etc", "$0", "&1", "*!!", "!x", "#record",
                   "\x00", "ü", "b1-" + "0" * 128, "1e5", "-0", " 7 ", "٣", "0x10", "NaN", "Infinity", "gov/vote",
                   "swingset/send", "bank/send", "ucon", "bob", "5", "o+1", "ko20", "#error", "main"]


# What the inputs turned into (e.g. "accepted", "refused"); printed to stderr at exit as
# "harness stats: ..." so a run shows the target was really reached, not just the input parser.
STATS: Counter[str] = Counter()


def _print_stats() -> None:
    if STATS:
        print("harness stats: " + " ".join(f"{k}={v}" for k, v in sorted(STATS.items())), file=sys.stderr, flush=True)


class PlantedCrash(Exception):
    """Raised for inputs containing $FUZZ_PLANT_CRASH: the harness must report it as a crash."""


def json_value(fdp: atheris.FuzzedDataProvider, depth: int = 0, strings=HOSTILE_STRINGS):
    """A JSON-ish value: scalars (huge ints, non-finite floats, surrogates included), lists and
    dicts nested a few levels, and now and then bytes or a non-str dict key (not JSON data)."""
    choice = fdp.ConsumeIntInRange(0, 13 if depth < 4 else 8)
    if choice == 0:
        return None
    if choice == 1:
        return fdp.ConsumeBool()
    if choice == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 8))
    if choice == 3:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(9, 700))  # up to 2**5600: over 4096 bits
    if choice == 4:
        return fdp.ConsumeFloat()  # includes nan, inf, -0.0
    if choice in (5, 6):
        return fdp.PickValueInList(strings)
    if choice == 7:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))  # may hold lone surrogates
    if choice == 8:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8))  # not JSON data
    if choice in (9, 10):
        return [json_value(fdp, depth + 1, strings) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if choice in (11, 12):
        return {json_key(fdp, strings): json_value(fdp, depth + 1, strings) for _ in range(fdp.ConsumeIntInRange(0, 4))}
    return {fdp.ConsumeInt(2): json_value(fdp, depth + 1, strings)}  # a non-str key


def json_key(fdp: atheris.FuzzedDataProvider, strings=HOSTILE_STRINGS) -> str:
    if fdp.ConsumeBool():
        return fdp.PickValueInList(strings)
    return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 12))


def as_text(data: bytes) -> str | None:
    """`data` decoded as UTF-8, or None if it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def temp_dir(target: str) -> Path:
    """A scratch directory for this process, removed at exit; leftovers of killed runs are removed too."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"kc-fuzz-{target}-*"):
        try:
            pid = int(old.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            pass
    path = base / f"kc-fuzz-{target}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    atexit.register(shutil.rmtree, path, True)
    return path


def main(target: str, test_one_input, seeds=None, max_len: int = 8192) -> None:
    """Run `test_one_input` under atheris with sys.argv (libFuzzer flags and corpus dirs).

    `python fuzz/fuzz_<target>.py --write-seeds` writes `seeds()` (name -> bytes) to
    fuzz/seeds/<target>/ instead."""
    argv = list(sys.argv)
    if argv[1:2] == ["--write-seeds"]:
        out = SEED_DIR / target
        out.mkdir(parents=True, exist_ok=True)
        for name, data in seeds().items():
            (out / name).write_bytes(data)
            print(f"{out / name}: {len(data)} bytes")
        return
    flags = {a.split("=", 1)[0] for a in argv[1:] if a.startswith("-")}
    if "-artifact_prefix" not in flags:
        crash_dir = CRASH_DIR / target
        crash_dir.mkdir(parents=True, exist_ok=True)
        argv.append(f"-artifact_prefix={crash_dir}/")
    if "-max_len" not in flags:
        argv.append(f"-max_len={max_len}")  # libFuzzer would start from the largest seed's size
    if "-timeout" not in flags:
        argv.append("-timeout=20")  # seconds per input: a slower input is reported as a hang
    marker = os.environ.get("FUZZ_PLANT_CRASH", "").encode()
    if marker:
        inner = test_one_input

        def test_one_input(data: bytes) -> None:
            if marker in data:
                raise PlantedCrash(f"planted crash: input contains {marker!r}")
            inner(data)

    atexit.register(_print_stats)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
