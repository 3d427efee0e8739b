"""Node pages, included at the site root by console/urls.py:

    path("", include("console.node.urls")),

(it provides the dashboard at "" and replaces the placeholder sections runqueue/vats/
chainsends/blocks, keeping their URL names)."""

from django.urls import path

from console.node import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runqueue/", views.runqueue, name="runqueue"),
    path("vats/", views.vats, name="vats"),
    path("vats/<str:vat_id>/", views.vat_detail, name="vat-detail"),
    path("vats/<str:vat_id>/transcript/", views.transcript, name="transcript"),
    path("vats/<str:vat_id>/transcript/download", views.transcript_download, name="transcript-download"),
    path("chainsends/", views.chainsends, name="chainsends"),
    path("blocks/", views.blocks, name="blocks"),
]
