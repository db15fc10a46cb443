"""A person's own profile in an organisation: name, time zone, language."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _

from okrapp import services
from okrapp.forms import ProfileForm, apply_service_errors
from okrapp.rendering import render_page


def profile(request, org_slug):
    membership = request.membership
    form = ProfileForm(
        request.POST or None,
        initial={
            "full_name": membership.user.full_name,
            "time_zone": membership.time_zone,
            "language": membership.language,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(membership=membership, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            translation.activate(membership.language)
            messages.success(request, _("Profile saved."))
            return redirect("profile", org_slug=request.org.slug)
    return render_page(
        request, "okrapp/profile.html", {"form": form}, status=400 if form.errors else 200
    )
