"""`manage.py bundle`: deterministic builds, --out, --submit, and clear refusals."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kernelhost.chain.models import Transaction
from kernelhost.swingstore.bundleformat import bundle_id_of, validate_bundle
from tests.bundles.conftest import COUNTER_DIR, kernel_bundle, vat_bundle


def run(*args) -> str:
    out = StringIO()
    call_command("bundle", *args, stdout=out)
    return out.getvalue()


def test_vat_bundle_is_deterministic_and_written(tmp_path):
    first = run(COUNTER_DIR, "--out", str(tmp_path / "a.zip"))
    second = run(COUNTER_DIR, "--kind", "vat", "--entry", "vat", "--out", str(tmp_path / "b.zip"))
    assert first.splitlines()[0] == second.splitlines()[0] == bundle_id_of(vat_bundle())
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes() == vat_bundle()
    assert f"vat bundle, {len(vat_bundle())} bytes, entry vat.py" in first


def test_kernel_bundle_matches_genesis_bundling():
    result = json.loads(run("kernelhost/kernel", "--kind", "kernel", "--json"))
    assert result["bundleID"] == bundle_id_of(kernel_bundle())
    assert result["kind"] == "kernel" and result["manifest"]["stateSchemaVersion"] >= 1


def test_a_ready_zip_is_checked(tmp_path):
    path = tmp_path / "c.zip"
    path.write_bytes(vat_bundle())
    assert run(str(path)).startswith(bundle_id_of(vat_bundle()))
    with pytest.raises(CommandError, match="holds a vat bundle, not a kernel bundle"):
        run(str(path), "--kind", "kernel")
    path.write_bytes(b"not a zip")
    with pytest.raises(CommandError, match="not a zip archive"):
        run(str(path))


def test_refusals(tmp_path):
    with pytest.raises(CommandError, match="neither a directory nor a bundle"):
        run(str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="has no version.py"):
        run(COUNTER_DIR, "--kind", "kernel")
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    with pytest.raises(CommandError, match="say which module is the entry"):
        run(str(tmp_path))


@pytest.mark.django_db
def test_submit_puts_an_install_transaction_in_the_mempool():
    result = json.loads(run(COUNTER_DIR, "--submit", "--json"))
    tx = Transaction.objects.get(tx_hash=result["txHash"])
    assert tx.type == "swingset/installBundle" and tx.status == Transaction.PENDING
    import base64

    assert validate_bundle(base64.b64decode(tx.body["bundle"])).kind == "vat"
