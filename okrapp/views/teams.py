"""Teams: the tree everyone can read, and the admin's edits to it."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from okrapp import services
from okrapp.forms import TeamForm, TeamMemberForm, apply_service_errors
from okrapp.models import Membership, Team, TeamMembership
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required


def build_team_tree(teams: list[Team]) -> list[dict]:
    """Nest teams under their parents: ``[{"team": t, "children": [...]}, ...]``."""
    nodes = {t.pk: {"team": t, "children": []} for t in teams}
    roots = []
    for team in teams:
        parent = nodes.get(team.parent_id)
        (parent["children"] if parent else roots).append(nodes[team.pk])
    return roots


def team_list(request, org_slug):
    org = request.org
    teams = list(
        Team.objects.for_org(org).annotate(people=Count("team_memberships")).order_by("name")
    )
    form = TeamForm(org=org) if request.membership.is_admin else None
    return render_page(request, "okrapp/teams.html", {"tree": build_team_tree(teams), "form": form})


@admin_required
@require_POST
def team_create(request, org_slug):
    org = request.org
    form = TeamForm(request.POST, org=org)
    if form.is_valid():
        try:
            team = services.team_create(org=org, by=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Team %(name)s created.") % {"name": team.name})
            return redirect("team_detail", org_slug=org.slug, team_slug=team.slug)
    teams = list(
        Team.objects.for_org(org).annotate(people=Count("team_memberships")).order_by("name")
    )
    return render_page(
        request, "okrapp/teams.html", {"tree": build_team_tree(teams), "form": form}, status=400
    )


def _team_context(org, team, **extra):
    team_members = list(
        TeamMembership.objects.for_org(org)
        .filter(team=team)
        .select_related("membership__user")
        .order_by("-is_lead", "membership__user__full_name")
    )
    children = list(Team.objects.for_org(org).filter(parent=team).order_by("name"))
    return {"team": team, "team_members": team_members, "children": children, **extra}


def team_detail(request, org_slug, team_slug):
    org = request.org
    team = get_object_or_404(Team.objects.for_org(org).select_related("parent"), slug=team_slug)
    extra = {}
    if request.membership.is_admin:
        extra = {
            "edit_form": TeamForm(
                org=org,
                team=team,
                initial={
                    "name": team.name,
                    "parent": team.parent_id,
                    "description": team.description,
                },
            ),
            "member_form": TeamMemberForm(org=org),
        }
    return render_page(request, "okrapp/team_detail.html", _team_context(org, team, **extra))


@admin_required
@require_POST
def team_edit(request, org_slug, team_slug):
    org = request.org
    team = get_object_or_404(Team.objects.for_org(org), slug=team_slug)
    form = TeamForm(request.POST, org=org, team=team)
    if form.is_valid():
        try:
            services.team_update(org=org, by=request.membership, team=team, **form.cleaned_data)
        except ValidationError as exc:
            team.refresh_from_db()
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Team saved."))
            return redirect("team_detail", org_slug=org.slug, team_slug=team.slug)
    context = _team_context(org, team, edit_form=form, member_form=TeamMemberForm(org=org))
    return render_page(request, "okrapp/team_detail.html", context, status=400)


@admin_required
@require_POST
def team_delete(request, org_slug, team_slug):
    org = request.org
    team = get_object_or_404(Team.objects.for_org(org), slug=team_slug)
    try:
        services.team_delete(org=org, by=request.membership, team=team)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("team_detail", org_slug=org.slug, team_slug=team.slug)
    messages.success(request, _("Team %(name)s deleted.") % {"name": team.name})
    return redirect("team_list", org_slug=org.slug)


@admin_required
@require_POST
def team_member_add(request, org_slug, team_slug):
    org = request.org
    team = get_object_or_404(Team.objects.for_org(org), slug=team_slug)
    form = TeamMemberForm(request.POST, org=org)
    if form.is_valid():
        services.team_member_set(org=org, by=request.membership, team=team, **form.cleaned_data)
        if not request.htmx:
            messages.success(
                request,
                _("%(name)s added to %(team)s.")
                % {"name": form.cleaned_data["membership"].display_name, "team": team.name},
            )
            return redirect("team_detail", org_slug=org.slug, team_slug=team.slug)
        form = TeamMemberForm(org=org)
    context = _team_context(
        org,
        team,
        member_form=form,
        edit_form=TeamForm(
            org=org,
            team=team,
            initial={"name": team.name, "parent": team.parent_id, "description": team.description},
        ),
    )
    return render_page(
        request,
        "okrapp/team_detail.html",
        context,
        partial="team-members",
        status=400 if form.errors else 200,
    )


@admin_required
@require_POST
def team_member_remove(request, org_slug, team_slug, membership_id):
    org = request.org
    team = get_object_or_404(Team.objects.for_org(org), slug=team_slug)
    person = get_object_or_404(Membership.objects.for_org(org), pk=membership_id)
    services.team_member_remove(org=org, by=request.membership, team=team, membership=person)
    return redirect("team_detail", org_slug=org.slug, team_slug=team.slug)


@admin_required
@require_POST
def team_member_lead(request, org_slug, team_slug, membership_id):
    """Make a team member a lead, or no longer one (``is_lead`` in the POST)."""
    org = request.org
    team = get_object_or_404(Team.objects.for_org(org), slug=team_slug)
    person = get_object_or_404(Membership.objects.for_org(org), pk=membership_id)
    services.team_member_set(
        org=org,
        by=request.membership,
        team=team,
        membership=person,
        is_lead=request.POST.get("is_lead") == "1",
    )
    return redirect("team_detail", org_slug=org.slug, team_slug=team.slug)
