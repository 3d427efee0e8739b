"""reinitialize_kernel: the operator's check that this release carries the kernel a plan names."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import kernelhost.kernel
from kernelhost.chain.models import Transaction
from kernelhost.controller.bundling import bundle_kernel_source
from kernelhost.governance.models import UpgradePlan
from kernelhost.swingstore.bundleformat import bundle_id_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(settings, tmp_path):
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    call_command("initnode", stdout=StringIO())


def schedule(name: str, bundle_id: str, height: int = 50) -> None:
    UpgradePlan.objects.create(seq=UpgradePlan.objects.count() + 1, name=name, height=height, bundle_id=bundle_id,
                               proposal_number=1, status_height=0)


def run(name: str, **kwargs) -> dict:
    out = StringIO()
    call_command("reinitialize_kernel", upgrade_name=name, stdout=out, **kwargs)
    return json.loads(out.getvalue())


def fixed_kernel_source(tmp_path: Path) -> Path:
    src = tmp_path / "kernel"
    shutil.copytree(Path(kernelhost.kernel.__file__).parent, src, ignore=shutil.ignore_patterns("__pycache__"))
    version = src / "version.py"
    version.write_text(version.read_text().replace('KERNEL_VERSION = "', 'KERNEL_VERSION = "fixed-'))
    return src


def test_refuses_without_a_plan_of_that_name(node):
    with pytest.raises(CommandError, match="no upgrade plan named 'v2'"):
        run("v2")


def test_refuses_a_release_whose_kernel_is_not_the_plans(node):
    schedule("v2", "b1-" + "0" * 128)
    with pytest.raises(CommandError, match="cannot handle the upgrade"):
        run("v2")
    assert not Transaction.objects.filter(type="swingset/installBundle").exists()


def test_accepts_the_matching_release_and_installs_it_in_band(node, tmp_path):
    src = fixed_kernel_source(tmp_path)
    wanted = bundle_id_of(bundle_kernel_source(src))
    schedule("v2", wanted)
    report = run("v2", source=str(src))
    assert report["bundleID"] == wanted and report["installed"] is False
    assert Transaction.objects.get(tx_hash=report["installTx"]).type == "swingset/installBundle"


def test_the_running_kernel_is_already_installed(node):
    schedule("same", bundle_id_of(bundle_kernel_source()))
    assert run("same")["installed"] is True


def test_refuses_a_plan_already_past(node):
    schedule("late", "b1-" + "0" * 128, height=0)
    with pytest.raises(CommandError, match="was due at height 0"):
        run("late")
