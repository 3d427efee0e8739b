"""The kernel runs from its stored bundle (seed 001): editing the source tree changes
nothing for an initialised node; set_kernel_bundle_id + restart switches kernels; bad IDs
and wrong kinds are refused; a kernel refuses a state schema it cannot handle."""

from __future__ import annotations

import sys

import pytest

from kernelhost.controller import KernelStartError, bundling, initialize_swingset, make_controller
from kernelhost.controller.bundling import bundle_kernel_source, bundle_vat_source
from kernelhost.controller.kernel_loader import private_package_name
from kernelhost.kernel.version import KERNEL_VERSION, STATE_SCHEMA_VERSION
from kernelhost.swingstore.bundleformat import bundle_id_of, validate_bundle

from .conftest import VATS_DIR, boot, call, copy_kernel_source, three_vat_config

VERSION_LINE = f'KERNEL_VERSION = "{KERNEL_VERSION}"'


def modified_kernel(tmp_path, version: str, extra: dict | None = None):
    edits = {"version.py": [(VERSION_LINE, f'KERNEL_VERSION = "{version}"')]}
    for name, pairs in (extra or {}).items():
        edits.setdefault(name, []).extend(pairs)
    return copy_kernel_source(tmp_path / f"kernel-{version}", replace=edits)


def test_kernel_bundle_is_installed_and_manifest_declares_versions(store):
    kernel_id = initialize_swingset(store.kernel, three_vat_config())
    assert store.kernel.kv.get("kernelBundleID") == kernel_id
    manifest = validate_bundle(store.kernel.bundles.get_bundle(kernel_id), kernel_id)
    assert manifest.kind == "kernel"
    assert manifest.extra["stateSchemaVersion"] == STATE_SCHEMA_VERSION
    assert manifest.extra["kernelVersion"] == KERNEL_VERSION
    # bundling is deterministic: the same source gives the same ID
    assert bundle_id_of(bundle_kernel_source()) == kernel_id


def test_running_node_uses_the_stored_kernel_not_the_source_tree(store, tmp_path, monkeypatch):
    c = boot(store, three_vat_config())
    assert c.kernel_version == KERNEL_VERSION
    module = sys.modules[private_package_name(c.kernel_bundle_id)]
    assert module.__spec__.origin.startswith("<kernel bundle b1-")
    # someone edits the source tree (or deploys new code) under a live node
    monkeypatch.setattr(bundling, "KERNEL_SOURCE_DIR", modified_kernel(tmp_path, "edited-in-place"))
    c.shutdown()
    c2 = make_controller(store.kernel)
    assert c2.kernel_version == KERNEL_VERSION
    assert c2.kernel_bundle_id == c.kernel_bundle_id
    assert call(c2, "right", "echo", 1) == ("fulfilled", 1)
    # a fresh store initialised now would get the edited kernel
    from kernelhost.swingstore import open_swingstore

    other = open_swingstore(None)
    c3 = boot(other, three_vat_config())
    assert c3.kernel_version == "edited-in-place"
    other.close()


def test_set_kernel_bundle_id_switches_kernel_at_next_start(store, tmp_path):
    c = boot(store, three_vat_config())
    assert call(c, "left", "wire") == ("fulfilled", "wired")
    new_bundle = bundle_kernel_source(modified_kernel(tmp_path, "kernel-v2"))
    new_id = c.install_bundle(new_bundle)
    assert c.install_bundle(new_bundle) == new_id  # re-installing is a no-op
    c.set_kernel_bundle_id(new_id)
    assert c.kernel_version == KERNEL_VERSION  # effective at the next start only
    assert c.get_status()["nextBundleID"] == new_id
    assert call(c, "right", "echo", 2) == ("fulfilled", 2)
    c.shutdown()
    c2 = make_controller(store.kernel)
    assert c2.kernel_version == "kernel-v2"
    assert c2.get_status()["bundleID"] == new_id
    assert private_package_name(new_id) in sys.modules
    # state continues under the new kernel: vats replay, messages flow
    assert call(c2, "left", "objects_by_reference") == ("fulfilled", ["x", True, "hi", 1])


def test_bad_kernel_bundle_ids_are_refused(store, tmp_path):
    c = boot(store, three_vat_config())
    with pytest.raises(KernelStartError, match="not installed"):
        c.set_kernel_bundle_id("b1-" + "0" * 128)
    with pytest.raises(KernelStartError, match="malformed"):
        c.set_kernel_bundle_id("not-a-bundle-id")
    vat_id = c.install_bundle(bundle_vat_source(VATS_DIR / "right"))
    with pytest.raises(KernelStartError, match="not a kernel bundle"):
        c.set_kernel_bundle_id(vat_id)
    with pytest.raises(Exception, match="mismatch"):
        c.install_bundle(bundle_vat_source(VATS_DIR / "left"), alleged_id=vat_id)
    broken = bundle_kernel_source(modified_kernel(tmp_path, "broken", {
        "kernel.py": [("from __future__ import annotations\n", "from __future__ import annotations\nimport no_such_module\n")]}))
    broken_id = c.install_bundle(broken)
    with pytest.raises(KernelStartError, match="failed to load"):
        c.set_kernel_bundle_id(broken_id)
    assert store.kernel.kv.get("kernelBundleID") == c.kernel_bundle_id


def test_kernel_refuses_a_state_schema_it_cannot_handle(store, tmp_path):
    c = boot(store, three_vat_config())
    newer = bundle_kernel_source(modified_kernel(tmp_path, "schema2", {
        "version.py": [(f"STATE_SCHEMA_VERSION = {STATE_SCHEMA_VERSION}",
                        f"STATE_SCHEMA_VERSION = {STATE_SCHEMA_VERSION + 1}")]}))
    newer_id = c.install_bundle(newer)
    c.set_kernel_bundle_id(newer_id)
    c.shutdown()
    with pytest.raises(KernelStartError, match="no migration from version"):
        make_controller(store.kernel)
    # the host's remedy: point back at the old kernel, which still starts
    store.kernel.kv.set("kernelBundleID", c.kernel_bundle_id)
    assert make_controller(store.kernel).kernel_version == KERNEL_VERSION


def test_kernel_bundle_may_carry_a_migration(store, tmp_path):
    c = boot(store, three_vat_config())
    migrating = bundle_kernel_source(modified_kernel(tmp_path, "migrating", {
        "version.py": [(f"STATE_SCHEMA_VERSION = {STATE_SCHEMA_VERSION}",
                        f"STATE_SCHEMA_VERSION = {STATE_SCHEMA_VERSION + 1}")],
        "schema.py": [("MIGRATIONS: dict = {}",
                       f"MIGRATIONS: dict = {{{STATE_SCHEMA_VERSION}: lambda kv: kv.set('migrated.note', 'yes')}}")],
    }))
    c.set_kernel_bundle_id(c.install_bundle(migrating))
    c.shutdown()
    before = c.get_activity_hash()
    c2 = make_controller(store.kernel)
    assert store.kernel.kv.get("version") == str(STATE_SCHEMA_VERSION + 1)
    assert store.kernel.kv.get("migrated.note") == "yes"
    assert c2.get_activity_hash() != before  # the migration is a hashed crank
    assert call(c2, "right", "echo", 3) == ("fulfilled", 3)
    # an old kernel now refuses the newer state
    store.kernel.kv.set("kernelBundleID", c.kernel_bundle_id)
    with pytest.raises(KernelStartError, match="newer than this kernel supports"):
        make_controller(store.kernel)


def test_uninitialised_and_double_initialised_stores_are_refused(store):
    with pytest.raises(KernelStartError, match="not initialised"):
        make_controller(store.kernel)
    initialize_swingset(store.kernel, three_vat_config())
    with pytest.raises(KernelStartError, match="already initialised"):
        initialize_swingset(store.kernel, three_vat_config())
