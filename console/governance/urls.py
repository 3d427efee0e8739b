"""Included by console/urls.py as path("governance/", include("console.governance.urls")).
Names are global (no namespace) so the navigation's "governance" keeps working."""

from django.urls import path

from console.governance import views

urlpatterns = [
    path("", views.proposals, name="governance"),
    path("live/", views.proposals_live, name="governance-live"),
    path("proposals/new/", views.proposal_new, name="governance-new"),
    path("proposals/new/<str:kind>/", views.proposal_create, name="governance-create"),
    path("proposals/<int:number>/", views.proposal_detail, name="governance-proposal"),
    path("proposals/<int:number>/card/", views.vote_card, name="governance-vote-card"),
    path("proposals/<int:number>/live/", views.proposal_live, name="governance-proposal-live"),
    path("proposals/<int:number>/vote/", views.vote, name="governance-vote"),
]
