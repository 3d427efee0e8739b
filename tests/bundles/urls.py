"""The console's URLs with the bundle pages and the audit log routed the way console/urls.py
routes them, for tests that run before or regardless of those lines."""

from django.urls import include, path

from console.bundles import views as bundle_views
from console.urls import urlpatterns as console_patterns

_MINE = ("bundles/", "audit/", "governance/")
urlpatterns = [p for p in console_patterns if str(p.pattern) not in _MINE] + [
    path("governance/", include("console.governance.urls")),
    path("bundles/", include("console.bundles.urls")),
    path("audit/", bundle_views.audit_log, name="audit-log"),
]
