"""Background jobs for bundles (run by console.jobs.enqueue: rq, or the in-process runner).

`validate_upload_job(upload_id)`:
  1. format, hash, manifest, size and path limits (bundleformat.validate_bundle), the declared
     kind against the manifest's, the API version;
  2. test-load in a child process (console.bundles.testload);
  3. submit a `swingset/installBundle` transaction (unless the chain has the bundle already);
  then `services.refresh_upload` moves it to "installed" once a block has installed it.
Every step's progress is published live on "job.<upload id>" and "bundles". A bundle that
fails a step is marked invalid with a message saying why, and nothing is submitted.
"""

from __future__ import annotations

import logging

from django.db import transaction

from console.audit import FAILED, OK, audit_record
from console.bundles import selectors
from console.bundles.services import max_bundle_bytes, publish_upload, refresh_upload, submit_install
from console.bundles.testload import run_test_load
from console.models import BundleUpload
from kernelhost.chain.selectors import bundle_installed
from kernelhost.controller import SUPPORTED_KERNEL_API_VERSIONS
from kernelhost.controller.bundling import VAT_API_VERSION
from kernelhost.swingstore.bundleformat import BundleError, bundle_id_of, validate_bundle

log = logging.getLogger(__name__)


def _save(upload: BundleUpload, **fields) -> None:
    for name, value in fields.items():
        setattr(upload, name, value)
    upload.save()
    publish_upload(upload)


def _step(upload: BundleUpload, key: str, state: str, detail: str = "", **fields) -> None:
    steps = upload.steps or selectors.new_steps()
    for step in steps:
        if step["key"] == key:
            step["state"], step["detail"] = state, detail
    _save(upload, steps=steps, **fields)


def _fail(upload: BundleUpload, key: str, message: str) -> None:
    steps = upload.steps or selectors.new_steps()
    reached = False
    for step in steps:
        if step["key"] == key:
            step["state"], step["detail"] = "failed", message
            reached = True
        elif reached:
            step["state"], step["detail"] = "skipped", ""
    _save(upload, steps=steps, status=BundleUpload.INVALID, message=message)
    audit_record(upload.uploaded_by, "bundle.validate", target=upload.bundle_id or upload.filename, outcome=FAILED,
                 detail={"upload": str(upload.id), "step": key, "message": message})


def _kind_problem(declared: str, manifest) -> str | None:
    if manifest.kind != declared:
        return (f"This is a {manifest.kind} bundle (its manifest says kind “{manifest.kind}”), but it was "
                f"uploaded as a {declared} bundle. Choose “{manifest.kind}” if that is what you meant.")
    if manifest.kind == "kernel" and manifest.api_version not in SUPPORTED_KERNEL_API_VERSIONS:
        return (f"Kernel API version {manifest.api_version} is not supported by this node "
                f"(it supports {sorted(SUPPORTED_KERNEL_API_VERSIONS)}).")
    if manifest.kind == "vat" and manifest.api_version != VAT_API_VERSION:
        return f"Vat API version {manifest.api_version} is not supported (this node speaks {VAT_API_VERSION})."
    return None


def validate_upload_job(upload_id: str) -> str:
    """Validate one upload and, if it is sound, submit it. Returns the final status."""
    upload = BundleUpload.objects.select_related("uploaded_by").filter(pk=upload_id).first()
    if upload is None:
        log.warning("validate_upload_job: upload %s is gone", upload_id)
        return "missing"
    if upload.status not in (BundleUpload.PENDING, BundleUpload.VALIDATING):
        return upload.status  # already done (a retried job must not submit twice)
    data = bytes(upload.data)

    # 1. format, hash, manifest, limits
    _step(upload, "format", "running", status=BundleUpload.VALIDATING, progress=5,
          message="Checking the zip, its members and its manifest…")
    try:
        manifest = validate_bundle(data, max_bytes=max_bundle_bytes())
    except BundleError as exc:
        _fail(upload, "format", f"Not a valid bundle: {exc}.")
        return upload.status
    bundle_id = bundle_id_of(data)
    upload.bundle_id = bundle_id
    upload.manifest = manifest.to_dict()
    problem = _kind_problem(upload.kind, manifest)
    if problem:
        _fail(upload, "format", problem)
        return upload.status
    _step(upload, "format", "ok", f"{manifest.kind} bundle, entry {manifest.entry_member}, "
                                  f"API version {manifest.api_version}, {len(data)} bytes", progress=30)

    # 2. test-load in a child process
    _step(upload, "load", "running", progress=35, message="Test-loading the code in a sandboxed child process…")
    result = run_test_load(data, manifest.kind)
    if not result.ok:
        _fail(upload, "load", f"The bundle does not load: {result.message}")
        return upload.status
    _step(upload, "load", "ok", result.message, status=BundleUpload.VALID, progress=70,
          message="Valid. Submitting it to the chain…")
    audit_record(upload.uploaded_by, "bundle.validate", target=bundle_id, outcome=OK,
                 detail={"upload": str(upload.id), "kind": manifest.kind, "apiVersion": manifest.api_version})

    # 3. submit (or not, when the chain has it already)
    if bundle_installed(bundle_id):
        _step(upload, "submit", "skipped", "already installed; nothing submitted")
        _step(upload, "install", "ok", "already installed", status=BundleUpload.INSTALLED, progress=100,
              message="This bundle is already installed; nothing was submitted.")
        return upload.status
    _step(upload, "submit", "running", progress=75)
    with transaction.atomic():  # the tx and the upload's "submitted" commit together
        ok, value = submit_install(upload, data)
        if ok:
            upload.tx_hash = value
            for step in upload.steps:
                if step["key"] == "submit":
                    step["state"], step["detail"] = "ok", f"transaction {value[:12]}… in the mempool"
            upload.status, upload.progress = BundleUpload.SUBMITTED, 85
            upload.message = "Submitted: waiting for a block to include and install it."
            upload.save()
    if not ok:
        _fail(upload, "submit", f"The transaction was refused: {value}")
        return upload.status
    _step(upload, "install", "running", "waiting for the next block")
    refresh_upload(upload)
    return upload.status
