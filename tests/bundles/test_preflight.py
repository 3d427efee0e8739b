"""The upgrade pre-flight: a candidate kernel that replays every vat's span the same way
passes; one whose liveslots would make different syscalls fails, naming the vat and the
transcript position; a missing or non-kernel bundle fails at its first step."""

from __future__ import annotations

import pytest

from console.bundles.preflight import preflight_job, preflight_start
from console.models import AuditEntry, PreflightRun
from console.roles import ADMINS
from kernelhost.chain.models import ExportDataEntry
from kernelhost.controller import initialize_swingset, make_controller
from kernelhost.controller.bundling import bundle_kernel_source
from kernelhost.swingstore import open_swingstore
from kernelhost.swingstore.bundleformat import bundle_id_of
from tests.bundles.conftest import vat_bundle
from tests.kernel.conftest import copy_kernel_source, three_vat_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def node_store(tmp_path, settings):
    """A swing-store that ran the three test vats for a while, with two candidate kernels
    installed: the running one, and one whose liveslots would make a different syscall at
    every vat's startVat (it looks for its durable kinds under another vatstore prefix)."""
    path = tmp_path / "swingstore.sqlite"
    store = open_swingstore(path)
    try:
        initialize_swingset(store.kernel, three_vat_config())
        c = make_controller(store.kernel, devices={"bridge": lambda obj: {"echo": obj}})
        c.run()
        for vat, method, args in (("left", "call_vat", ["c1", "second", []]), ("middle", "ping", ["x"])):
            c.queue_to_vat_root(vat, method, args)
        c.run()
        c.shutdown()
        current = store.kernel.kv.get("kernelBundleID")
        changed = bundle_kernel_source(copy_kernel_source(tmp_path / "k2", replace={
            "durable.py": [('prefix = "vom.kind."', 'prefix = "vom.kinds."')]}))
        store.kernel.bundles.add_bundle(bundle_id_of(changed), changed)
        store.kernel.bundles.add_bundle(bundle_id_of(vat_bundle()), vat_bundle())
        store.host.commit()
    finally:
        store.close()
    settings.SWINGSTORE_PATH = str(path)
    ids = {"current": current, "changed": bundle_id_of(changed), "vat": bundle_id_of(vat_bundle())}
    for bundle_id in ids.values():
        ExportDataEntry.objects.create(key=f"bundle.{bundle_id}", value=bundle_id)
    return ids


def start(role_user, bundle_id) -> PreflightRun:
    run = preflight_start(user=role_user(ADMINS, username="ad") if not PreflightRun.objects.exists()
                          else PreflightRun.objects.first().requested_by, bundle_id=bundle_id)
    preflight_job(str(run.id))
    run.refresh_from_db()
    return run


def test_the_running_kernel_passes_its_own_preflight(role_user, node_store, published):
    run = start(role_user, node_store["current"])
    assert run.status == PreflightRun.PASSED, run.message
    assert [s["state"] for s in run.steps] == ["ok", "ok", "ok"]
    replayed = [v for v in run.vats if v["state"] == "ok"]
    assert {v["name"] for v in replayed} >= {"left", "middle", "right"}
    assert sum(v["deliveries"] for v in replayed) > 3
    assert run.progress == 100 and "deliveries replayed" in run.message
    progress = [e["progress"] for t, e in published if t == f"job.{run.id}"]
    assert progress == sorted(progress) and progress[-1] == 100
    assert AuditEntry.objects.filter(action="upgrade.preflight", outcome="ok").exists()


def test_a_kernel_that_would_diverge_fails(role_user, node_store, published):
    run = start(role_user, node_store["changed"])
    assert run.status == PreflightRun.FAILED
    assert run.steps[2]["state"] == "failed" and "Replay diverged" in run.message
    assert "transcript position" in run.message and "differs" in run.message
    assert any(v["state"] == "failed" for v in run.vats)


@pytest.mark.parametrize("which,words,step", [("vat", "kind 'vat', not 'kernel'", 1),
                                             ("missing", "not in the swing-store", 0)])
def test_a_bundle_that_is_no_kernel_fails_before_any_replay(role_user, node_store, published, which, words, step):
    bundle_id = node_store.get(which, "b1-" + "0" * 128)
    run = start(role_user, bundle_id)
    assert run.status == PreflightRun.FAILED and words in run.message, run.message
    assert run.steps[step]["state"] == "failed" and run.steps[2]["state"] == "skipped" and not run.vats



@pytest.mark.urls("tests.bundles.urls")
def test_only_admins_start_a_preflight_and_follow_it(client, role_user, node_store, django_capture_on_commit_callbacks):
    from console.roles import VOTERS

    kernel = node_store["current"]
    client.force_login(role_user(VOTERS, username="vo"))
    assert 'id="preflight-card"' in client.get(f"/bundles/?bundle={kernel}").content.decode()
    assert 'id="preflight-start"' not in client.get(f"/bundles/?bundle={kernel}").content.decode()
    assert client.post(f"/bundles/{kernel}/preflight/").status_code == 403
    assert AuditEntry.objects.filter(action="upgrade.preflight.start", outcome="denied").exists()
    assert not PreflightRun.objects.exists()

    client.force_login(role_user(ADMINS, username="ad"))
    assert 'id="preflight-start"' in client.get(f"/bundles/?bundle={kernel}").content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/bundles/{kernel}/preflight/")
    run = PreflightRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/bundles/preflight/{run.id}/"
    assert len(callbacks) == 1
    page = client.get(response["Location"]).content.decode()
    assert f"topics=job.{run.id},banner" in page and 'id="job-status">pending' in page
    assert client.post(f"/bundles/b1-{'0' * 128}/preflight/").status_code == 404


def test_pushed_preflight_fragment_matches_the_page(role_user, node_store, published):
    from django.template.loader import render_to_string

    run = start(role_user, node_store["current"])
    topic, event = published[-1]
    html = render_to_string("console/live/job.html", {"event": event, "topic": topic})
    assert f'id="job-{run.id}" hx-swap-oob="true"' in html and 'id="job-status">passed' in html
    assert 'data-vat="v2"' in html
