"""The pingpong benchmark function (figures come from `manage.py bench pingpong`)."""

from __future__ import annotations

from kernelhost.kernel_bench import run_pingpong


def test_run_pingpong_reports_figures(tmp_path):
    result = run_pingpong(20, "local", tmp_path)
    assert set(result) == {"workload", "n", "worker", "cranks", "run_s", "cranks_per_s", "pings_per_s", "setup_s"}
    assert result["workload"] == "pingpong" and result["n"] == 20 and result["worker"] == "local"
    assert result["cranks"] == 2 * 20 + 3  # bob's delivery + alice's notify per ping, plus bootstrap's
    assert result["cranks_per_s"] > 0 and result["setup_s"] > 0
    assert (tmp_path / "swingstore.sqlite").exists()
