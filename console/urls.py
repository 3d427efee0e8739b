from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import views
from console.bundles import views as bundle_views

urlpatterns = [
    path("", include("console.node.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("api/status", views.api_status, name="api-status"),
    path("api/openapi.yaml", views.openapi_document, name="api-openapi"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("governance/", include("console.governance.urls")),
    path("bundles/", include("console.bundles.urls")),
    path("audit/", bundle_views.audit_log, name="audit-log"),
]
