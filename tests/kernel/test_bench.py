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


def test_run_replay_reports_figures_and_loads_lazily(tmp_path):
    from kernelhost.kernel_bench import run_replay

    result = run_replay(4, 40, tmp_path / "r")
    assert result["workload"] == "replay" and result["vats"] == 4 and result["deliveries"] == 40
    # lazy loading: the first delivery brought back one vat only (startVat + its 10 increments)
    assert result["first_vat_replayed"] == 11
    assert result["replayed_deliveries"] == 3 * 11
    assert result["start_to_first_delivery_s"] > 0 and result["replayed_deliveries_per_s"] > 0
