"""The console's URLs with the node pages included the way console/urls.py includes them
(`path("", include("console.node.urls"))`), for tests that run before or regardless of
that line. Governance is included too when its package is there (the nav links to it)."""

from django.urls import include, path

from console.urls import urlpatterns as console_patterns

NODE_PATHS = ("", "runqueue/", "vats/", "chainsends/", "blocks/")

urlpatterns = [path("", include("console.node.urls"))] + [
    p for p in console_patterns if str(p.pattern) not in NODE_PATHS and not str(p.pattern).startswith("governance/")
] + [path("governance/", include("console.governance.urls"))]
