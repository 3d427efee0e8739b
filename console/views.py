"""Thin views: read through selectors, act through services, render templates."""

from __future__ import annotations

import hmac
from functools import cache, wraps
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from console.metrics import render_metrics
from console.roles import ADMINS, OPERATORS, VOTERS, role_required
from console.selectors.health import health_report
from console.selectors.node import node_status

ANY_ROLE = (OPERATORS, VOTERS, ADMINS)
OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")


def json_get_only(view):
    """require_GET for the JSON endpoints of console/openapi.yaml: any other method gets a 405
    JSON body with `Allow: GET`. CSRF-exempt, as nothing but GET reaches the view (so there is
    nothing to forge), so that a POST gets that 405 and not the CSRF failure page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "GET":
            response = JsonResponse({"error": "method not allowed"}, status=405)
            response["Allow"] = "GET"
            return response
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


@json_get_only
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


@json_get_only
@role_required(*ANY_ROLE)
def api_status(request: HttpRequest) -> JsonResponse:
    status = node_status()
    if status is None:
        return JsonResponse({"error": "node not initialised"}, status=503)
    return JsonResponse(status)



@cache
def _openapi_document() -> bytes:
    return OPENAPI_PATH.read_bytes()


@json_get_only
def openapi_document(request: HttpRequest) -> HttpResponse:
    """The API's OpenAPI document (public: console.middleware.PUBLIC_PREFIXES)."""
    return HttpResponse(_openapi_document(), content_type="application/yaml; charset=utf-8")
