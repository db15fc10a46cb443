"""Admin pages for people: the member list, roles and managers, invitations."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from okrapp import services
from okrapp.forms import InvitationForm, MembershipForm, apply_service_errors
from okrapp.models import Invitation, Membership
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required


def _members_context(org):
    members = list(
        Membership.objects.for_org(org)
        .with_user()
        .prefetch_related("team_memberships__team")
        .ordered()
    )
    invitations = list(
        Invitation.objects.for_org(org)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("team")
    )
    return {
        "active_members": [m for m in members if m.active],
        "inactive_members": [m for m in members if not m.active],
        "invitations": invitations,
    }


@admin_required
def member_list(request, org_slug):
    return render_page(request, "okrapp/members.html", _members_context(request.org))


@admin_required
def member_edit(request, org_slug, membership_id):
    org = request.org
    person = get_object_or_404(Membership.objects.for_org(org).with_user(), pk=membership_id)
    form = MembershipForm(request.POST or None, org=org, membership=person)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(
                org=org, by=request.membership, membership=person, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("%(name)s updated.") % {"name": person.display_name})
            return redirect("member_list", org_slug=org.slug)
    return render_page(
        request,
        "okrapp/member_edit.html",
        {"person": person, "form": form},
        status=400 if form.errors else 200,
    )


@admin_required
@require_POST
def member_deactivate(request, org_slug, membership_id):
    org = request.org
    person = get_object_or_404(Membership.objects.for_org(org).with_user(), pk=membership_id)
    try:
        services.membership_deactivate(org=org, by=request.membership, membership=person)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("member_list", org_slug=org.slug)
    messages.success(
        request,
        _("%(name)s no longer has access. Their OKRs and history stay.")
        % {"name": person.display_name},
    )
    return redirect("member_list", org_slug=org.slug)


@admin_required
@require_POST
def member_reactivate(request, org_slug, membership_id):
    org = request.org
    person = get_object_or_404(Membership.objects.for_org(org).with_user(), pk=membership_id)
    services.membership_reactivate(org=org, by=request.membership, membership=person)
    messages.success(request, _("%(name)s has access again.") % {"name": person.display_name})
    return redirect("member_list", org_slug=org.slug)


@admin_required
def member_invite(request, org_slug):
    org = request.org
    form = InvitationForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                org=org, by=request.membership, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            days = settings.INVITATION_VALID_DAYS
            messages.success(
                request,
                ngettext(
                    "Invitation sent to %(email)s. The link is valid for %(days)d day.",
                    "Invitation sent to %(email)s. The link is valid for %(days)d days.",
                    days,
                )
                % {"email": invitation.email, "days": days},
            )
            return redirect("member_invite", org_slug=org.slug)
    context = {"form": form, "valid_days": settings.INVITATION_VALID_DAYS, **_members_context(org)}
    return render_page(
        request,
        "okrapp/member_invite.html",
        context,
        partial="invite-form",
        status=400 if form.errors else 200,
    )


@admin_required
@require_POST
def invitation_resend(request, org_slug, invitation_id):
    org = request.org
    invitation = get_object_or_404(Invitation.objects.for_org(org), pk=invitation_id)
    try:
        services.invitation_create(
            org=org,
            by=request.membership,
            email=invitation.email,
            role=invitation.role,
            team=invitation.team,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Invitation re-sent to %(email)s.") % {"email": invitation.email}
        )
    return redirect("member_list", org_slug=org.slug)


@admin_required
@require_POST
def invitation_revoke(request, org_slug, invitation_id):
    org = request.org
    invitation = get_object_or_404(Invitation.objects.for_org(org), pk=invitation_id)
    services.invitation_revoke(org=org, by=request.membership, invitation=invitation)
    messages.success(request, _("Invitation to %(email)s withdrawn.") % {"email": invitation.email})
    return redirect("member_list", org_slug=org.slug)
