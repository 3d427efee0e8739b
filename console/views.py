"""Thin views: read through selectors, act through services, render templates."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from console.metrics import render_metrics
from console.roles import ADMINS, OPERATORS, VOTERS, role_required
from console.selectors.health import health_report
from console.selectors.node import node_status

ANY_ROLE = (OPERATORS, VOTERS, ADMINS)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token:
        return HttpResponse("metrics are disabled: set METRICS_TOKEN\n", status=404, content_type="text/plain")
    if not hmac.compare_digest(supplied.encode(), token.encode()):
        return HttpResponse("bad or missing bearer token\n", status=401, content_type="text/plain")
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


@require_GET
@role_required(*ANY_ROLE)
def api_status(request: HttpRequest) -> JsonResponse:
    status = node_status()
    if status is None:
        return JsonResponse({"error": "node not initialised"}, status=503)
    return JsonResponse(status)

