"""Bundle pages. Anyone with a role may look at installed bundles (voters judge upgrade
proposals by them); only admins upload and follow uploads — checked here on the server, and a
refused attempt is written to the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from console.audit import FAILED, audit_record, audited_role_required
from console.bundles import selectors
from console.bundles.forms import SizeLimitUploadHandler, UploadForm
from console.bundles.preflight import preflight_start, preflight_view
from console.bundles.services import UploadRefused, max_bundle_bytes, refresh_submitted_uploads, upload_create
from console.models import BundleUpload, PreflightRun
from console.roles import ADMINS, OPERATORS, VOTERS, has_role, role_required

ANY_ROLE = (OPERATORS, VOTERS, ADMINS)


@require_GET
@role_required(*ANY_ROLE)
def bundle_list(request: HttpRequest) -> HttpResponse:
    """The bundles list; `?bundle=<id>` shows one bundle (the governance pages link so)."""
    bundle_id = request.GET.get("bundle")
    if bundle_id:
        return bundle_detail(request, bundle_id)
    is_admin = has_role(request.user, ADMINS)
    refresh_submitted_uploads()
    view = selectors.bundles_overview()
    if not is_admin:
        view["uploads"], view["inProgress"] = [], []
    return render(request, "console/bundles/list.html", {
        "view": view, "is_admin": is_admin, "form": UploadForm(max_bytes=max_bundle_bytes()),
        "live_topics": "bundles,banner" if is_admin else "banner"})


@require_GET
@role_required(*ANY_ROLE)
def bundle_detail(request: HttpRequest, bundle_id: str) -> HttpResponse:
    detail = selectors.bundle_detail(bundle_id)
    is_admin = has_role(request.user, ADMINS)
    if detail is None or (not detail["installed"] and not is_admin and not detail["storeError"]):
        raise Http404("no such bundle")  # an upload that never reached the chain is the admins' business
    if not is_admin:
        detail["uploads"] = []
    runs = [preflight_view(r) for r in PreflightRun.objects.filter(bundle_id=bundle_id).select_related(
        "requested_by")[:10]]
    return render(request, "console/bundles/detail.html", {
        "bundle": detail, "is_admin": is_admin, "preflights": runs, "live_topics": "banner"})


@require_POST
@audited_role_required(ADMINS, action="upgrade.preflight.start")
def preflight_create(request: HttpRequest, bundle_id: str) -> HttpResponse:
    """Start an upgrade pre-flight for a candidate kernel bundle (CSRF by the middleware)."""
    if selectors.bundle_detail(bundle_id) is None:
        raise Http404("no such bundle")
    run = preflight_start(user=request.user, bundle_id=bundle_id)
    return redirect("bundles-preflight", run_id=run.id)


@require_GET
@audited_role_required(ADMINS, action="upgrade.preflight.view")
def preflight_detail(request: HttpRequest, run_id) -> HttpResponse:
    run = get_object_or_404(PreflightRun.objects.select_related("requested_by"), pk=run_id)
    return render(request, "console/bundles/preflight.html", {
        "run": preflight_view(run), "live_topics": f"job.{run.id},banner"})


@csrf_exempt  # CSRF is checked below, after the size-limit handler is installed
@require_POST
@audited_role_required(ADMINS, action="bundle.upload")
def bundle_upload(request: HttpRequest) -> HttpResponse:
    # Upload handlers must be set before the body is parsed, and CsrfViewMiddleware would parse
    # it first: hence csrf_exempt here and csrf_protect on the inner view (Django's documented
    # pattern for custom upload handlers).
    limiter = SizeLimitUploadHandler(request, max_bytes=max_bundle_bytes())
    request.upload_handlers.insert(0, limiter)
    return _bundle_upload(request, limiter)


@csrf_protect
def _bundle_upload(request: HttpRequest, limiter: SizeLimitUploadHandler) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES, max_bytes=max_bundle_bytes())
    error = None
    if limiter.too_large:
        error = (f"The file is larger than the limit of {max_bundle_bytes():,} bytes; it was not stored. "
                 "Bundles are source zips and should be far smaller.")
    elif not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    if error is None:
        f = form.cleaned_data["bundle"]
        try:
            upload = upload_create(user=request.user, filename=f.name, data=f.read(),
                                   kind=form.cleaned_data["kind"])
        except UploadRefused as exc:
            error = str(exc)
        else:
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("bundles-upload-detail", args=[upload.id])
                return response
            return redirect("bundles-upload-detail", upload_id=upload.id)
    sent = request.FILES.get("bundle")
    audit_record(request.user, "bundle.upload", target=sent.name if sent else "", outcome=FAILED,
                 detail={"error": error})
    messages.error(request, f"Upload refused: {error}")
    return redirect("bundles")


@require_GET
@audited_role_required(ADMINS, action="bundle.upload.view")
def upload_detail(request: HttpRequest, upload_id) -> HttpResponse:
    upload = get_object_or_404(BundleUpload.objects.defer("data").select_related("uploaded_by"), pk=upload_id)
    if upload.status == BundleUpload.SUBMITTED:
        refresh_submitted_uploads()
        upload.refresh_from_db()
    return render(request, "console/bundles/upload.html", {
        "upload": selectors.upload_view(upload), "live_topics": f"job.{upload.id},banner"})


@require_GET
@audited_role_required(ADMINS, action="bundle.upload.view")
def upload_status(request: HttpRequest, upload_id) -> HttpResponse:
    """The upload's progress card alone (htmx fallback when the websocket is down)."""
    upload = get_object_or_404(BundleUpload.objects.defer("data").select_related("uploaded_by"), pk=upload_id)
    return render(request, "console/bundles/partials/job_card.html", {"upload": selectors.upload_view(upload)})


@require_GET
@audited_role_required(ADMINS, action="audit.view")
def audit_log(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    page = selectors.audit_page(request.GET.get("page"), action=action)
    return render(request, "console/audit/list.html", {
        "page": page, "action": action, "actions": selectors.audit_actions()})
