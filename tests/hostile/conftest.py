"""Hostile-input tests: fuzzing (hypothesis), sandbox escapes, web security checks.

Every fuzz target counts the inputs it was actually given (hypothesis's examples, including
shrinking and explicit examples). `FUZZ_EXAMPLES` (default 300) sets max_examples per target:

    FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/hostile -q -k fuzz

The counts are printed at the end of the run and written to
var/hostile-fuzz-counts.json (target -> inputs tried; HOSTILE_COUNTS_FILE overrides) for the README.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
)
FUZZ_COUNTS: Counter[str] = Counter()
# var/ is git-ignored (test-artifacts/ is emptied by pytest-playwright at the end of a run).
COUNTS_FILE = Path(os.environ.get("HOSTILE_COUNTS_FILE", Path(__file__).resolve().parents[2] / "var"
                                  / "hostile-fuzz-counts.json"))


def tried(target: str) -> None:
    """Count one input given to `target`."""
    FUZZ_COUNTS[target] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FUZZ_COUNTS:
        return
    terminalreporter.write_sep("-", f"hostile input: inputs / checks tried per target (FUZZ_EXAMPLES={FUZZ_EXAMPLES})")
    for target, n in sorted(FUZZ_COUNTS.items()):
        terminalreporter.write_line(f"{target:40s} {n:8d}")
    try:
        COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
        COUNTS_FILE.write_text(json.dumps({"max_examples": FUZZ_EXAMPLES, "targets": dict(sorted(FUZZ_COUNTS.items()))},
                                          indent=2) + "\n")
    except OSError as e:  # a read-only checkout must not fail the run
        terminalreporter.write_line(f"(could not write {COUNTS_FILE}: {e})")


@pytest.fixture
def fuzz_target():
    return tried
