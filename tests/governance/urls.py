"""The console's URLs with the governance pages included the way console/urls.py includes
them (`path("governance/", include("console.governance.urls"))`), for tests that run before
or regardless of that line."""

from django.urls import include, path

from console.urls import urlpatterns as console_patterns

urlpatterns = [p for p in console_patterns if not str(p.pattern).startswith("governance/")] + [
    path("governance/", include("console.governance.urls")),
]
