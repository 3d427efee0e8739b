"""Included by console/urls.py as path("bundles/", include("console.bundles.urls")).
Names are global (no namespace) so the navigation's "bundles" keeps working. The audit log
is routed by console/urls.py itself: path("audit/", bundle_views.audit_log, name="audit-log")."""

from django.urls import path

from console.bundles import views

urlpatterns = [
    path("", views.bundle_list, name="bundles"),
    path("upload/", views.bundle_upload, name="bundles-upload"),
    path("uploads/<uuid:upload_id>/", views.upload_detail, name="bundles-upload-detail"),
    path("uploads/<uuid:upload_id>/status/", views.upload_status, name="bundles-upload-status"),
    path("preflight/<uuid:run_id>/", views.preflight_detail, name="bundles-preflight"),
    path("<str:bundle_id>/", views.bundle_detail, name="bundles-detail"),
    path("<str:bundle_id>/preflight/", views.preflight_create, name="bundles-preflight-start"),
]
