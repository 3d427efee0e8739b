"""Proposal content kinds and their shape checks (pure: no Django, no chain state).

Checks that need chain state (is the kernel paused, is the height far enough ahead, is the
bundle installed) live in `txs`; this module only normalises what a proposal says.
"""

from __future__ import annotations

import re

KERNEL_UPGRADE = "kernelUpgrade"
RESUME_KERNEL = "resumeKernel"
CANCEL_UPGRADE = "cancelUpgrade"
TEXT = "text"
KINDS = (KERNEL_UPGRADE, RESUME_KERNEL, CANCEL_UPGRADE, TEXT)
KIND_LABELS = {KERNEL_UPGRADE: "Kernel upgrade", RESUME_KERNEL: "Resume kernel",
               CANCEL_UPGRADE: "Cancel upgrade", TEXT: "Text"}

REMEDY_RETRY = "retry"
REMEDY_TERMINATE_VAT = "terminateVat"
REMEDY_SKIP_ACTION = "skipAction"
REMEDY_UPGRADE_KERNEL = "upgradeKernel"
REMEDIES = (REMEDY_RETRY, REMEDY_TERMINATE_VAT, REMEDY_SKIP_ACTION, REMEDY_UPGRADE_KERNEL)
REMEDY_LABELS = {REMEDY_RETRY: "Retry (the cause was transient)", REMEDY_TERMINATE_VAT: "Terminate the culprit vat",
                 REMEDY_SKIP_ACTION: "Skip the poison action", REMEDY_UPGRADE_KERNEL: "Upgrade the kernel, then resume"}

BUNDLE_ID = re.compile(r"^b1-[0-9a-f]{128}$")
PLAN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VAT_ID = re.compile(r"^v[0-9]{1,6}$")
ACTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
TITLE_MAX = 140
DESCRIPTION_MAX = 5000
INFO_MAX = 2048

_COMMON = {"kind", "title", "description"}
_ALLOWED = {
    KERNEL_UPGRADE: _COMMON | {"bundleID", "height", "name", "info"},
    RESUME_KERNEL: _COMMON | {"remedy"},
    CANCEL_UPGRADE: _COMMON | {"name"},
    TEXT: _COMMON,
}


class ContentError(ValueError):
    pass


def _text(content: dict, key: str, limit: int, *, required: bool = False) -> str:
    value = content.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ContentError(f"{key} must be text")
    value = value.strip()
    if required and not value:
        raise ContentError(f"{key} is required")
    if len(value) > limit:
        raise ContentError(f"{key} is longer than {limit} characters")
    return value


def _bundle_id(value, what: str) -> str:
    if not isinstance(value, str) or not BUNDLE_ID.fullmatch(value):
        raise ContentError(f"{what} must be a bundle ID: 'b1-' followed by 128 lowercase hex digits")
    return value


def _plan_name(value) -> str:
    if not isinstance(value, str) or not PLAN_NAME.fullmatch(value):
        raise ContentError("name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def normalize_remedy(remedy) -> dict:
    if isinstance(remedy, str):
        remedy = {"kind": remedy}
    if not isinstance(remedy, dict):
        raise ContentError("remedy must be an object such as {\"kind\": \"retry\"}")
    kind = remedy.get("kind")
    if kind not in REMEDIES:
        raise ContentError(f"remedy kind must be one of {', '.join(REMEDIES)}, not {kind!r}")
    allowed = {REMEDY_RETRY: set(), REMEDY_TERMINATE_VAT: {"vatID"}, REMEDY_SKIP_ACTION: {"actionID"},
               REMEDY_UPGRADE_KERNEL: {"bundleID"}}[kind] | {"kind"}
    unknown = sorted(set(remedy) - allowed)
    if unknown:
        raise ContentError(f"remedy {kind} does not take {', '.join(unknown)}")
    out = {"kind": kind}
    if kind == REMEDY_TERMINATE_VAT:
        vat_id = remedy.get("vatID")
        if not isinstance(vat_id, str) or not VAT_ID.fullmatch(vat_id):
            raise ContentError("terminateVat needs vatID, such as 'v7'")
        out["vatID"] = vat_id
    elif kind == REMEDY_SKIP_ACTION:
        action_id = remedy.get("actionID")
        if isinstance(action_id, bool) or not (
            (isinstance(action_id, int) and action_id >= 0)
            or (isinstance(action_id, str) and ACTION_ID.fullmatch(action_id))
        ):
            raise ContentError("skipAction needs actionID, the id of the queued action to drop")
        out["actionID"] = action_id
    elif kind == REMEDY_UPGRADE_KERNEL:
        out["bundleID"] = _bundle_id(remedy.get("bundleID"), "remedy bundleID")
    return out


def normalize_content(content) -> dict:
    """Return the canonical form of `content` or raise ContentError with a reason."""
    if not isinstance(content, dict):
        raise ContentError("content must be an object with a kind")
    kind = content.get("kind")
    if kind not in KINDS:
        raise ContentError(f"content kind must be one of {', '.join(KINDS)}, not {kind!r}")
    unknown = sorted(set(content) - _ALLOWED[kind])
    if unknown:
        raise ContentError(f"{kind} content does not take {', '.join(unknown)}")
    out: dict = {"kind": kind}
    title = _text(content, "title", TITLE_MAX, required=kind == TEXT)
    description = _text(content, "description", DESCRIPTION_MAX)
    if kind == KERNEL_UPGRADE:
        out["bundleID"] = _bundle_id(content.get("bundleID"), "bundleID")
        height = content.get("height")
        if not isinstance(height, int) or isinstance(height, bool) or height < 1:
            raise ContentError("height must be a positive block height")
        out["height"] = height
        out["name"] = _plan_name(content.get("name"))
        out["info"] = _text(content, "info", INFO_MAX)
        title = title or f"Upgrade the kernel to {out['bundleID'][:15]}… at height {height} ({out['name']})"
    elif kind == RESUME_KERNEL:
        if "remedy" not in content:
            raise ContentError("resumeKernel needs a remedy: retry, terminateVat, skipAction or upgradeKernel")
        out["remedy"] = normalize_remedy(content["remedy"])
        title = title or f"Resume the kernel: {remedy_text(out['remedy'])}"
    elif kind == CANCEL_UPGRADE:
        out["name"] = _plan_name(content.get("name"))
        title = title or f"Cancel the kernel upgrade {out['name']}"
    out["title"] = title
    out["description"] = description
    return out


def remedy_text(remedy: dict) -> str:
    kind = remedy.get("kind")
    if kind == REMEDY_TERMINATE_VAT:
        return f"terminate vat {remedy.get('vatID')}"
    if kind == REMEDY_SKIP_ACTION:
        return f"skip action {remedy.get('actionID')}"
    if kind == REMEDY_UPGRADE_KERNEL:
        return f"upgrade the kernel to {str(remedy.get('bundleID'))[:15]}…"
    return "retry"
