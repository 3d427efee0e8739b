from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from console import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("api/status", views.api_status, name="api-status"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("runqueue/", views.coming_section, {"title": "Run-queue"}, name="runqueue"),
    path("vats/", views.coming_section, {"title": "Vats"}, name="vats"),
    path("chainsends/", views.coming_section, {"title": "Chain-sends"}, name="chainsends"),
    path("governance/", views.coming_section, {"title": "Governance"}, name="governance"),
    path("bundles/", views.coming_section, {"title": "Bundles"}, name="bundles"),
    path("blocks/", views.coming_section, {"title": "Blocks"}, name="blocks"),
]
