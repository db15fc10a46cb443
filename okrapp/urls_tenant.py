"""Pages of one organisation. ``TenantMiddleware`` resolves ``org_slug`` for all of them."""

from django.urls import include, path

from okrapp.views import members, organizations, profile, teams

urlpatterns = [
    # The home page, org_home, is the company view (checkins.urls).
    path("mission/", organizations.org_mission, name="org_mission"),
    path("settings/", organizations.org_settings, name="org_settings"),
    path("profile/", profile.profile, name="profile"),
    path("profile/tokens/", profile.api_token_create, name="api_token_create"),
    path(
        "profile/tokens/<int:token_id>/revoke/",
        profile.api_token_revoke,
        name="api_token_revoke",
    ),
    path("members/", members.member_list, name="member_list"),
    path("members/invite/", members.member_invite, name="member_invite"),
    path("members/<int:membership_id>/", members.member_edit, name="member_edit"),
    path(
        "members/<int:membership_id>/deactivate/",
        members.member_deactivate,
        name="member_deactivate",
    ),
    path(
        "members/<int:membership_id>/reactivate/",
        members.member_reactivate,
        name="member_reactivate",
    ),
    path(
        "invitations/<int:invitation_id>/resend/",
        members.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "invitations/<int:invitation_id>/revoke/",
        members.invitation_revoke,
        name="invitation_revoke",
    ),
    path("teams/", teams.team_list, name="team_list"),
    path("teams/new/", teams.team_create, name="team_create"),
    # teams/<team_slug>/ is the team's dashboard (checkins.urls); its people and settings:
    path("teams/<slug:team_slug>/people/", teams.team_detail, name="team_detail"),
    path("teams/<slug:team_slug>/edit/", teams.team_edit, name="team_edit"),
    path("teams/<slug:team_slug>/delete/", teams.team_delete, name="team_delete"),
    path("teams/<slug:team_slug>/members/", teams.team_member_add, name="team_member_add"),
    path(
        "teams/<slug:team_slug>/members/<int:membership_id>/remove/",
        teams.team_member_remove,
        name="team_member_remove",
    ),
    path(
        "teams/<slug:team_slug>/members/<int:membership_id>/lead/",
        teams.team_member_lead,
        name="team_member_lead",
    ),
    path("", include("cycles.urls")),
    path("", include("checkins.urls")),
]
