"""Bundle uploads: store the bytes, start the validation job, submit a valid bundle as a
`swingset/installBundle` transaction and follow it until the chain has installed it.

The console never installs anything itself: a bundle reaches the swing-store only through a
transaction a block executes. A bundle that fails any check is never submitted.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from django.conf import settings
from django.db import transaction

from console import live
from console.audit import FAILED, OK, audit_record
from console.bundles import selectors
from console.jobs import enqueue
from console.models import BundleUpload
from kernelhost.chain.models import Action, Transaction
from kernelhost.chain.selectors import bundle_installed
from kernelhost.chain.services.txs import submit_tx
from kernelhost.chain.txshapes import TxInvalid

log = logging.getLogger(__name__)

INSTALL_TX = "swingset/installBundle"


class UploadRefused(ValueError):
    """The upload is refused before anything is stored (too large, empty, bad kind)."""


def max_bundle_bytes() -> int:
    return int(getattr(settings, "BUNDLE_MAX_BYTES", 8 * 1024 * 1024))


def publish_upload(upload: BundleUpload) -> None:
    """Push the upload's state to its own page ("job.<id>") and to the bundles list."""
    view = selectors.upload_view(upload)
    for topic in (f"job.{upload.id}", "bundles"):
        try:
            live.publish(topic, view)
        except Exception:  # noqa: BLE001 - live updates are best effort
            log.exception("could not publish upload %s on %s", upload.id, topic)


@transaction.atomic
def upload_create(*, user, filename: str, data: bytes, kind: str) -> BundleUpload:
    """Store an uploaded bundle and enqueue its validation (after this transaction commits)."""
    from console.bundles.jobs import validate_upload_job

    if kind not in (BundleUpload.KIND_VAT, BundleUpload.KIND_KERNEL):
        raise UploadRefused(f"unknown bundle kind {kind!r}: choose vat or kernel")
    if not data:
        raise UploadRefused("the file is empty")
    if len(data) > max_bundle_bytes():
        raise UploadRefused(f"the file is {len(data)} bytes, over the limit of {max_bundle_bytes()} bytes")
    upload = BundleUpload.objects.create(
        uploaded_by=user if getattr(user, "is_authenticated", False) else None,
        filename=(filename or "bundle.zip")[:255], size=len(data), sha512=hashlib.sha512(data).hexdigest(),
        kind=kind, data=data, steps=selectors.new_steps())
    audit_record(user, "bundle.upload", target=upload.filename, outcome=OK,
                 detail={"upload": str(upload.id), "kind": kind, "size": len(data), "sha512": upload.sha512[:32]})
    enqueue(validate_upload_job, str(upload.id))
    return upload


def submit_install(upload: BundleUpload, data: bytes) -> tuple[bool, str]:
    """Submit the validated bundle as an installBundle transaction; (ok, tx hash or error)."""
    try:
        row = submit_tx({"type": INSTALL_TX, "bundle": base64.b64encode(data).decode("ascii")})
    except TxInvalid as exc:
        audit_record(upload.uploaded_by, "tx.submit", target=upload.bundle_id or upload.filename, outcome=FAILED,
                     detail={"type": INSTALL_TX, "upload": str(upload.id), "error": str(exc)})
        return False, str(exc)
    audit_record(upload.uploaded_by, "tx.submit", target=upload.bundle_id, outcome=OK,
                 detail={"type": INSTALL_TX, "upload": str(upload.id), "txHash": row.tx_hash})
    log.info("submitted installBundle tx %s for %s", row.tx_hash[:12], upload.bundle_id[:19])
    return True, row.tx_hash


def _set_step(upload: BundleUpload, key: str, state: str, detail: str = "") -> None:
    steps = upload.steps or selectors.new_steps()
    for step in steps:
        if step["key"] == key:
            step["state"], step["detail"] = state, detail
    upload.steps = steps


def refresh_upload(upload: BundleUpload, *, publish: bool = True) -> bool:
    """Move a submitted upload on once its transaction ran: installed (the export-data mirror
    has the bundle), or refused by the chain or the kernel. Returns whether it changed."""
    if upload.status != BundleUpload.SUBMITTED:
        return False
    changed = False
    tx = Transaction.objects.filter(tx_hash=upload.tx_hash).first() if upload.tx_hash else None
    if bundle_installed(upload.bundle_id):
        upload.status, upload.progress = BundleUpload.INSTALLED, 100
        upload.message = "Installed: the chain executed the transaction and the kernel stored the bundle."
        if tx is not None and tx.height:
            upload.message = f"Installed at block {tx.height}."
        _set_step(upload, "install", "ok", upload.message)
        changed = True
    elif tx is not None and tx.status == Transaction.DONE and tx.code not in (None, 0):
        upload.status = BundleUpload.INVALID
        upload.message = f"The chain refused the transaction (code {tx.code}): {tx.message}"
        _set_step(upload, "install", "failed", upload.message)
        changed = True
    elif tx is not None and tx.status == Transaction.DONE and isinstance(tx.data, dict) and tx.data.get("actionID"):
        action = Action.objects.filter(action_id=tx.data["actionID"]).first()
        error = (action.result or {}).get("error") if action is not None and isinstance(action.result, dict) else None
        if action is not None and action.state != Action.PENDING and error:
            upload.status = BundleUpload.INVALID
            upload.message = f"The kernel refused to install it: {error}"
            _set_step(upload, "install", "failed", upload.message)
            changed = True
        elif tx.height:
            _set_step(upload, "install", "running", f"included in block {tx.height}; waiting for the kernel")
            changed = True
    if changed:
        upload.save(update_fields=["status", "progress", "message", "steps", "updated"])
        if upload.status in (BundleUpload.INSTALLED, BundleUpload.INVALID):
            audit_record(upload.uploaded_by, "bundle.install", target=upload.bundle_id,
                         outcome=OK if upload.status == BundleUpload.INSTALLED else FAILED,
                         detail={"upload": str(upload.id), "txHash": upload.tx_hash, "message": upload.message})
        if publish:
            publish_upload(upload)
    return changed


def refresh_submitted_uploads(*, publish: bool = True) -> int:
    """Check every submitted upload against the committed chain (called after each block by
    the node publisher, and on page loads). Returns how many changed."""
    changed = 0
    for upload in BundleUpload.objects.filter(status=BundleUpload.SUBMITTED).defer("data"):
        try:
            changed += refresh_upload(upload, publish=publish)
        except Exception:  # noqa: BLE001 - must never stop the node's publisher
            log.exception("could not refresh upload %s", upload.id)
    return changed
