"""Reads for the bundles pages, as plain JSON-safe dicts (a pushed live fragment renders the
same dict a page load renders).

Installed bundles and where they are used come from the swing-store, opened read-only; the
uploads (and their validation jobs) from the console's own table.
"""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.paginator import Paginator

from console.models import AuditEntry, BundleUpload
from kernelhost.chain.models import NodeState, Transaction
from kernelhost.swingstore import SwingStoreError, open_swingstore
from kernelhost.swingstore.bundleformat import MANIFEST_NAME, is_bundle_id

STATUS_BADGES = {
    BundleUpload.PENDING: "info", BundleUpload.VALIDATING: "info", BundleUpload.VALID: "info",
    BundleUpload.SUBMITTED: "warn", BundleUpload.INSTALLED: "ok", BundleUpload.INVALID: "bad",
}
STEP_LABELS = (
    ("format", "Format, hash, manifest, size and path limits"),
    ("load", "Test-load in a subprocess sandbox"),
    ("submit", "Submit a swingset/installBundle transaction"),
    ("install", "Installed by the chain"),
)


class StoreUnavailable(LookupError):
    pass


@contextmanager
def swingstore_reader():
    path = Path(settings.SWINGSTORE_PATH)
    if not path.is_file():
        raise StoreUnavailable(f"no swing-store at {path} yet (run `manage.py initnode`)")
    try:
        store = open_swingstore(path, readonly=True)
    except SwingStoreError as exc:
        raise StoreUnavailable(str(exc)) from exc
    try:
        with store.read_transaction():
            yield store
    finally:
        store.close()


def _loads(raw, default=None):
    try:
        return json.loads(raw) if raw else default
    except ValueError:
        return default


def _manifest_of(data: bytes) -> dict:
    """The manifest of a stored bundle (already validated when it was installed)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return json.loads(zf.read(MANIFEST_NAME))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return {}


def short_id(bundle_id: str) -> str:
    return bundle_id[:19] + "…" if len(bundle_id) > 20 else bundle_id


def new_steps() -> list[dict]:
    return [{"key": key, "label": label, "state": "waiting", "detail": ""} for key, label in STEP_LABELS]


def upload_view(upload: BundleUpload) -> dict:
    steps = upload.steps or new_steps()
    return {
        "id": str(upload.id), "filename": upload.filename, "size": upload.size, "kind": upload.kind,
        "status": upload.status, "badge": STATUS_BADGES.get(upload.status, "info"), "progress": upload.progress,
        "message": upload.message, "bundleID": upload.bundle_id, "shortID": short_id(upload.bundle_id),
        "txHash": upload.tx_hash, "steps": steps, "manifest": upload.manifest,
        "uploadedBy": upload.uploaded_by.get_username() if upload.uploaded_by_id else "",
        "created": upload.created.isoformat() if upload.created else "",
        "done": upload.status in (BundleUpload.INSTALLED, BundleUpload.INVALID),
    }


def _usage(store) -> tuple[str | None, dict[str, list[dict]], dict[str, list[str]]]:
    """(kernelBundleID, {bundleID: [vat rows]}, {bundleID: [named bundle names]})."""
    kv = store.kernel.kv
    kernel_id = kv.get("kernelBundleID")
    vat_ids: list[str] = []
    for name in _loads(kv.get("vat.names"), []) or []:
        vat_id = kv.get(f"vat.name.{name}")
        if vat_id and vat_id not in vat_ids:
            vat_ids.append(vat_id)
    for vat_id in _loads(kv.get("vat.dynamicIDs"), []) or []:
        if vat_id not in vat_ids:
            vat_ids.append(vat_id)
    terminated = set(_loads(kv.get("vats.terminated"), []) or [])
    vats: dict[str, list[dict]] = {}
    for vat_id in vat_ids:
        source = _loads(kv.get(f"{vat_id}.source"), {}) or {}
        bundle_id = source.get("bundleID")
        if not bundle_id:
            continue
        options = _loads(kv.get(f"{vat_id}.options"), {}) or {}
        bounds = store.kernel.transcripts.get_current_span_bounds(vat_id)
        if bounds is None:
            spans = store.kernel.transcripts.list_spans(vat_id)
            bounds = spans[-1] if spans else None
        incarnations = sorted({s["incarnation"] for s in store.kernel.transcripts.list_spans(vat_id)})
        vats.setdefault(bundle_id, []).append({
            "vatID": vat_id, "name": options.get("name") or vat_id, "dynamic": bool(options.get("dynamic")),
            "incarnation": bounds["incarnation"] if bounds else None, "incarnations": incarnations,
            "terminated": vat_id in terminated,
        })
    named: dict[str, list[str]] = {}
    for key, value in kv.iter_prefix("namedBundleID."):
        named.setdefault(value, []).append(key[len("namedBundleID."):])
    return kernel_id, vats, named


def _install_txs() -> dict[str, dict]:
    """bundleID -> the latest successful installBundle tx's (height, hash)."""
    out: dict[str, dict] = {}
    for tx_hash, height, data in (Transaction.objects.filter(type="swingset/installBundle", code=0)
                                  .order_by("height", "index").values_list("tx_hash", "height", "data")):
        if isinstance(data, dict) and data.get("bundleID"):
            out[data["bundleID"]] = {"txHash": tx_hash, "height": height}
    return out


def bundles_overview() -> dict:
    """Every installed bundle with its kind, size and users, plus the uploads in progress."""
    node = NodeState.objects.filter(pk=1).first()
    rows: list[dict] = []
    store_error = ""
    kernel_id = node.kernel_bundle_id if node else None
    try:
        with swingstore_reader() as store:
            store_kernel_id, vats, named = _usage(store)
            kernel_id = store_kernel_id or kernel_id
            installs = _install_txs()
            for bundle_id in store.kernel.bundles.list_bundle_ids():
                data = store.kernel.bundles.get_bundle(bundle_id)
                manifest = _manifest_of(data)
                rows.append({
                    "bundleID": bundle_id, "shortID": short_id(bundle_id), "kind": manifest.get("kind", "?"),
                    "size": len(data), "status": "installed", "badge": "ok",
                    "isKernel": bundle_id == kernel_id, "vats": vats.get(bundle_id, []),
                    "names": sorted(named.get(bundle_id, [])), "install": installs.get(bundle_id),
                    "apiVersion": manifest.get("apiVersion"), "kernelVersion": manifest.get("kernelVersion"),
                })
    except StoreUnavailable as exc:
        store_error = str(exc)
    rows.sort(key=lambda r: (not r["isKernel"], r["kind"] != "kernel", -len(r["vats"]), r["bundleID"]))
    uploads = [upload_view(u) for u in BundleUpload.objects.select_related("uploaded_by")
               .defer("data").order_by("-created")[:50]]
    return {"bundles": rows, "kernelBundleID": kernel_id or "", "storeError": store_error, "uploads": uploads,
            "inProgress": [u for u in uploads if not u["done"]]}


def bundle_detail(bundle_id: str) -> dict | None:
    """One bundle: manifest, members, users, install transaction and uploads. None when the ID
    is neither installed nor uploaded."""
    if not is_bundle_id(bundle_id):
        return None
    uploads = [upload_view(u) for u in BundleUpload.objects.filter(bundle_id=bundle_id).defer("data")
               .select_related("uploaded_by")]
    detail = {"bundleID": bundle_id, "shortID": short_id(bundle_id), "installed": False, "uploads": uploads,
              "manifest": {}, "files": [], "size": None, "isKernel": False, "vats": [], "names": [],
              "install": _install_txs().get(bundle_id), "storeError": ""}
    data = None
    try:
        with swingstore_reader() as store:
            if store.kernel.bundles.has_bundle(bundle_id):
                data = store.kernel.bundles.get_bundle(bundle_id)
                detail["installed"] = True
                kernel_id, vats, named = _usage(store)
                detail.update(isKernel=kernel_id == bundle_id, vats=vats.get(bundle_id, []),
                              names=sorted(named.get(bundle_id, [])))
    except StoreUnavailable as exc:
        detail["storeError"] = str(exc)
    if data is None and uploads:
        upload = BundleUpload.objects.filter(bundle_id=bundle_id).order_by("-created").first()
        data = bytes(upload.data)
    if data is None:
        return None if not detail["storeError"] else detail
    detail["size"] = len(data)
    detail["manifest"] = _manifest_of(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            detail["files"] = [{"name": i.filename, "size": i.file_size} for i in zf.infolist()]
    except zipfile.BadZipFile:
        pass
    detail["kind"] = detail["manifest"].get("kind", "?")
    return detail


def audit_page(page: int | str | None, *, per_page: int = 50, action: str = ""):
    entries = AuditEntry.objects.select_related("who").order_by("-at", "-id")
    if action:
        entries = entries.filter(action=action)
    return Paginator(entries, per_page).get_page(page)


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())
