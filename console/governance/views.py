"""Governance pages. Anyone with a role may follow proposals; only voters vote and propose
(checked here on the server, whatever the page showed)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.audit import audited_role_required
from console.governance import selectors as views_sel
from console.governance.forms import FORMS, cancellable_names
from console.governance.services import proposal_submit, vote_submit
from console.live import render_fragment
from console.roles import ADMINS, OPERATORS, VOTERS, has_role, role_required
from kernelhost.governance import content as content_mod
from kernelhost.governance import selectors as gov
from kernelhost.governance.models import Proposal
from kernelhost.governance.tally import OPTIONS

ANY_ROLE = (OPERATORS, VOTERS, ADMINS)


@require_GET
@role_required(*ANY_ROLE)
def proposals(request: HttpRequest) -> HttpResponse:
    view = views_sel.proposals_view()
    return render(request, "console/governance/list.html", {
        "view": view, "active_only": request.GET.get("active") == "1",
        "is_voter": has_role(request.user, VOTERS), "live_topics": "governance,banner",
        "upgrades": views_sel.upgrades_view(view["clock"]), "paused": views_sel.paused_view(view["clock"]),
    })


@require_GET
@role_required(*ANY_ROLE)
def proposals_live(request: HttpRequest) -> HttpResponse:
    """The list's live fragment for the committed state, as the websocket would push it. The
    page fetches it whenever its socket opens: an event published after the page rendered
    and before the socket subscribed (a vote's redirect, a reconnect) is otherwise lost."""
    return HttpResponse(render_fragment("governance", views_sel.proposals_view()))


@require_GET
@role_required(*ANY_ROLE)
def proposal_live(request: HttpRequest, number: int) -> HttpResponse:
    """A proposal page's live fragment for the committed state (see proposals_live)."""
    proposal = get_object_or_404(Proposal, number=number)
    return HttpResponse(render_fragment(f"proposal.{number}", views_sel.proposal_view(proposal)))


def _detail_context(request: HttpRequest, proposal: Proposal) -> dict:
    is_voter = has_role(request.user, VOTERS)
    return {"view": views_sel.proposal_view(proposal),
            "card": views_sel.vote_card(request.user, proposal, is_voter=is_voter),
            "number": proposal.number}


@require_GET
@role_required(*ANY_ROLE)
def proposal_detail(request: HttpRequest, number: int) -> HttpResponse:
    proposal = get_object_or_404(Proposal, number=number)
    context = _detail_context(request, proposal)
    context["live_topics"] = f"proposal.{number},banner"
    return render(request, "console/governance/detail.html", context)


@require_GET
@role_required(*ANY_ROLE)
def vote_card(request: HttpRequest, number: int) -> HttpResponse:
    """The user's vote card alone: refreshed by htmx after each live tally update."""
    proposal = get_object_or_404(Proposal, number=number)
    return render(request, "console/governance/partials/vote_card.html", _detail_context(request, proposal))


@require_POST
@audited_role_required(VOTERS, action="gov.vote")  # a forged vote is refused and audited
def vote(request: HttpRequest, number: int) -> HttpResponse:
    proposal = get_object_or_404(Proposal, number=number)
    option = request.POST.get("option")
    back = redirect("governance-proposal", number=number)
    if option not in OPTIONS:
        messages.error(request, "Choose yes, no, abstain or no with veto.")
        return back
    power = gov.voting_power_for_user(request.user)
    if not power.can_vote:
        messages.error(request, f"You cannot vote: {power.reason}")
        return back
    if proposal.status != Proposal.VOTING:
        messages.error(request, f"Voting on proposal #{number} has ended.")
        return back
    label = views_sel.OPTION_LABELS[option]
    if request.POST.get("confirm") != "yes":
        return render(request, "console/governance/vote_confirm.html", {
            "proposal": proposal, "option": option, "label": label, "power": power,
            "card": views_sel.vote_card(request.user, proposal, is_voter=True)})
    submitted = vote_submit(validator=power.validator, number=number, option=option, user=request.user)
    if submitted.ok:
        messages.success(request, f"Your vote “{label}” on #{number} was submitted as transaction "
                                  f"{submitted.tx_hash[:12]}; it counts once the next block includes it.")
    else:
        messages.error(request, f"The vote was not submitted: {submitted.error}")
    return back


@require_GET
@role_required(VOTERS)
def proposal_new(request: HttpRequest) -> HttpResponse:
    clock = views_sel.chain_clock()
    kinds = [
        {"kind": content_mod.KERNEL_UPGRADE, "label": "Kernel upgrade", "available": True,
         "help": "Schedule the switch to an installed kernel bundle at a block height."},
        {"kind": content_mod.RESUME_KERNEL, "label": "Resume the paused kernel", "available": clock["kernelPaused"],
         "help": "Resume with a remedy: retry, terminate the culprit vat, skip the poison action or upgrade the kernel."
                 if clock["kernelPaused"] else "Only while the kernel is paused; it is running now."},
        {"kind": content_mod.CANCEL_UPGRADE, "label": "Cancel an upgrade",
         "available": bool(cancellable_names()),
         "help": "Remove a scheduled (or proposed) kernel upgrade plan."},
        {"kind": content_mod.TEXT, "label": "Text", "available": True, "help": "A signal vote; nothing executes."},
    ]
    return render(request, "console/governance/new.html", {
        "kinds": kinds, "power": gov.voting_power_for_user(request.user), "clock": clock})


@require_http_methods(["GET", "POST"])
@audited_role_required(VOTERS, action="gov.propose")  # a forged proposal is refused and audited
def proposal_create(request: HttpRequest, kind: str) -> HttpResponse:
    form_class = FORMS.get(kind)
    if form_class is None:
        raise Http404("unknown proposal kind")
    clock = views_sel.chain_clock()
    power = gov.voting_power_for_user(request.user)
    form = form_class(request.POST if request.method == "POST" else None, clock=clock)
    context = {"form": form, "kind": kind, "kind_label": content_mod.KIND_LABELS[kind], "power": power,
               "clock": clock, "params": gov.params_get()}
    if request.method == "POST":
        if not power.can_vote:
            messages.error(request, f"You cannot propose: {power.reason}")
        elif form.is_valid():
            if request.POST.get("confirm") != "yes":
                context["preview"] = form.content
                context["preview_json"] = json.dumps(form.content, indent=2, ensure_ascii=False)
                context["expedited"] = form.cleaned_data.get("expedited", False)
                return render(request, "console/governance/create.html", context)
            submitted = proposal_submit(proposer=power.validator, content=form.content,
                                        expedited=form.cleaned_data.get("expedited", False), user=request.user)
            if submitted.ok:
                messages.success(request, f"Proposal “{form.content['title']}” submitted as transaction "
                                          f"{submitted.tx_hash[:12]}; it gets its number when a block includes it.")
                return redirect("governance")
            messages.error(request, f"The proposal was not submitted: {submitted.error}")
    return render(request, "console/governance/create.html", context)
