"""One form per proposal kind. Each validates everything the chain would check before a
transaction is submitted (shape through the governance content rules, then the chain's
current state), so a mistake is shown next to its field instead of as a failed transaction."""

from __future__ import annotations

import re

from django import forms

from kernelhost.governance import content as content_mod
from kernelhost.governance import selectors as gov
from kernelhost.governance.models import Proposal, UpgradePlan

EXPEDITED_HELP = ("Expedited: a shorter vote that needs a larger majority; if it fails it becomes a regular "
                  "proposal and voting continues until the regular end.")


class ProposalForm(forms.Form):
    kind = ""
    title = forms.CharField(max_length=content_mod.TITLE_MAX, required=False,
                            help_text="Optional: a title is made from the content when left empty.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=content_mod.DESCRIPTION_MAX,
                                  required=False)
    expedited = forms.BooleanField(required=False, help_text=EXPEDITED_HELP)

    def __init__(self, *args, clock: dict, **kwargs):
        self.clock = clock
        self.content: dict | None = None
        super().__init__(*args, **kwargs)

    def content_fields(self, data: dict) -> dict:
        return {}

    def check_state(self, content: dict) -> None:
        """Checks against chain state; add errors with self.add_error."""

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        raw = {"kind": self.kind, "title": data.get("title") or "", "description": data.get("description") or "",
               **self.content_fields(data)}
        try:
            content = content_mod.normalize_content(raw)
        except content_mod.ContentError as exc:
            raise forms.ValidationError(str(exc)) from None
        self.check_state(content)
        self.content = content
        return data


class KernelUpgradeForm(ProposalForm):
    kind = content_mod.KERNEL_UPGRADE
    bundle_id = forms.CharField(label="Kernel bundle ID", max_length=131,
                                help_text="An installed kernel bundle: b1- followed by 128 hex digits.")
    height = forms.IntegerField(label="Upgrade height", min_value=1)
    name = forms.CharField(label="Plan name", max_length=64, help_text="Letters, digits, '.', '_' or '-'.")
    info = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=content_mod.INFO_MAX,
                           help_text="Release notes or a link for operators.")
    field_order = ["bundle_id", "height", "name", "info", "title", "description", "expedited"]

    def earliest_height(self) -> int:
        # The transaction runs in a later block than the one committed now.
        return gov.earliest_upgrade_height(self.clock["height"] + 1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        earliest = self.earliest_height()
        self.fields["height"].help_text = (f"At least {earliest}: the vote takes {gov.params_get().voting_period_blocks} "
                                           "blocks, then a cancel vote must fit before the upgrade.")
        self.fields["height"].initial = earliest + 3

    def content_fields(self, data: dict) -> dict:
        return {"bundleID": data["bundle_id"].strip(), "height": data["height"], "name": data["name"].strip(),
                "info": data.get("info") or ""}

    def check_state(self, content: dict) -> None:
        earliest = self.earliest_height()
        if content["height"] < earliest:
            self.add_error("height", f"Too soon: the height must be at least {earliest} so a cancel vote fits.")
        if content["name"] in gov.applied_plan_names():
            self.add_error("name", f"An upgrade named {content['name']} has already been applied.")
        problem = gov.kernel_bundle_problem(content["bundleID"])
        if problem:
            self.add_error("bundle_id", problem)


_VAT_IN_REASON = re.compile(r"\b(v[0-9]{1,6})\b")


class ResumeKernelForm(ProposalForm):
    kind = content_mod.RESUME_KERNEL
    remedy = forms.ChoiceField(choices=[(k, content_mod.REMEDY_LABELS[k]) for k in content_mod.REMEDIES],
                               widget=forms.RadioSelect)
    vat_id = forms.CharField(label="Vat to terminate", required=False, max_length=8)
    action_id = forms.CharField(label="Action to skip", required=False, max_length=64)
    bundle_id = forms.CharField(label="Fixed kernel bundle ID", required=False, max_length=131)
    field_order = ["remedy", "vat_id", "action_id", "bundle_id", "title", "description", "expedited"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clock = self.clock
        self.fields["remedy"].initial = content_mod.REMEDY_RETRY
        vat = _VAT_IN_REASON.search(clock.get("pausedReason") or "")
        if vat:
            named = _vat_record(vat.group(1))
            if named is None or not named.get("critical"):
                self.fields["vat_id"].initial = vat.group(1)
                self.fields["vat_id"].help_text = f"The panic names {vat.group(1)}."
            else:
                # A critical vat's failure is what panicked the kernel; terminating it would
                # panic again, so the culprit to name is the vat that sent the poison message.
                self.fields["vat_id"].help_text = (f"The panic names {vat.group(1)}, a critical vat that cannot be "
                                                   "terminated; name the non-critical vat that caused it.")
        if clock.get("pausedActionID"):
            self.fields["action_id"].initial = clock["pausedActionID"]
            self.fields["action_id"].help_text = f"The kernel paused while processing action {clock['pausedActionID']}."
        self.fields["expedited"].initial = True

    def content_fields(self, data: dict) -> dict:
        kind = data["remedy"]
        remedy = {"kind": kind}
        field = {content_mod.REMEDY_TERMINATE_VAT: ("vatID", "vat_id"),
                 content_mod.REMEDY_SKIP_ACTION: ("actionID", "action_id"),
                 content_mod.REMEDY_UPGRADE_KERNEL: ("bundleID", "bundle_id")}.get(kind)
        if field:
            value = (data.get(field[1]) or "").strip()
            if not value:
                raise forms.ValidationError({field[1]: "Required for this remedy."})
            remedy[field[0]] = value
        return {"remedy": remedy}

    def check_state(self, content: dict) -> None:
        if not self.clock["kernelPaused"]:
            raise forms.ValidationError("The kernel is running: a resume proposal needs a paused kernel.")
        remedy = content["remedy"]
        if remedy["kind"] == content_mod.REMEDY_TERMINATE_VAT:
            problem = _terminate_problem(remedy["vatID"])
            if problem:
                self.add_error("vat_id", problem)
        if remedy["kind"] == content_mod.REMEDY_UPGRADE_KERNEL:
            problem = gov.kernel_bundle_problem(remedy["bundleID"])
            if problem:
                self.add_error("bundle_id", problem)


def _vat_record(vat_id: str) -> dict | None:
    from kernelhost.status import node_status

    try:
        vats = (node_status() or {}).get("vats", [])
    except Exception:  # noqa: BLE001 - no node yet: nothing to check against
        return None
    return next((v for v in vats if v.get("id") == vat_id), None)


def _terminate_problem(vat_id: str) -> str | None:
    vat = _vat_record(vat_id)
    if vat is None:
        return f"No live vat {vat_id}."
    if vat.get("critical"):
        return f"{vat_id} is critical: terminating it would panic the kernel again."
    if vat.get("terminated"):
        return f"{vat_id} is already terminated."
    return None


def cancellable_names() -> list[str]:
    names = set(UpgradePlan.objects.filter(status=UpgradePlan.SCHEDULED).values_list("name", flat=True))
    names |= {p.content.get("name") for p in Proposal.objects.filter(status=Proposal.VOTING,
                                                                       kind=content_mod.KERNEL_UPGRADE)}
    return sorted(n for n in names if n)


class CancelUpgradeForm(ProposalForm):
    kind = content_mod.CANCEL_UPGRADE
    name = forms.ChoiceField(label="Upgrade to cancel", choices=())
    field_order = ["name", "title", "description", "expedited"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].choices = [(n, n) for n in cancellable_names()]

    def content_fields(self, data: dict) -> dict:
        return {"name": data["name"]}


class TextForm(ProposalForm):
    kind = content_mod.TEXT
    title = forms.CharField(max_length=content_mod.TITLE_MAX)


FORMS = {f.kind: f for f in (KernelUpgradeForm, ResumeKernelForm, CancelUpgradeForm, TextForm)}
