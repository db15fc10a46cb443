"""Creating an organisation, its mission and vision, and its settings.

Its home page (``org_home``) is the company view of ``checkins.views.dashboards``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from okrapp import services
from okrapp.forms import (
    MissionVisionForm,
    OrganizationCreateForm,
    OrganizationSettingsForm,
    apply_service_errors,
)
from okrapp.tenancy import admin_required


@login_required
def home(request):
    """The signed-in person's organisations; straight into the only one."""
    memberships = list(
        request.user.memberships.filter(active=True)
        .select_related("organization")
        .order_by("organization__name")
    )
    if len(memberships) == 1:
        return redirect(memberships[0].organization)
    return render(request, "okrapp/home.html", {"memberships": memberships})


@login_required
def organization_create(request):
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(org)s is ready. Start with its mission and vision.") % {"org": org.name},
            )
            return redirect("org_mission", org_slug=org.slug)
    status = 400 if form.errors else 200
    return render(request, "okrapp/organization_create.html", {"form": form}, status=status)


@admin_required
def org_mission(request, org_slug):
    """Mission and vision: stated before any OKR (the step after creating an organisation)."""
    org = request.org
    form = MissionVisionForm(request.POST or None, instance=org)
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(
                org=org,
                by=request.membership,
                mission=form.cleaned_data["mission"],
                vision=form.cleaned_data["vision"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Mission and vision saved."))
            if request.POST.get("next") == "invite":
                return redirect("member_invite", org_slug=org.slug)
            return redirect(org)
    status = 400 if form.errors else 200
    return render(request, "okrapp/org_mission.html", {"form": form}, status=status)


@admin_required
def org_settings(request, org_slug):
    org = request.org
    form = OrganizationSettingsForm(request.POST or None, instance=org)
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(
                org=org,
                by=request.membership,
                **{name: form.cleaned_data[name] for name in form.Meta.fields},
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("org_settings", org_slug=org.slug)
    if form.errors:
        # ModelForm validation wrote the refused values onto the shared instance; reload so
        # the navigation shows the saved name while the form keeps what was typed.
        org.refresh_from_db()
    status = 400 if form.errors else 200
    return render(request, "okrapp/org_settings.html", {"form": form}, status=status)
