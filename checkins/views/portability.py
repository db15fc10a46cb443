"""The organisation's export page (admins): request an archive, watch it build, download it;
and, in a new empty organisation, import an archive."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from checkins import portability
from checkins.models import OrgExport
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required


class ArchiveForm(forms.Form):
    archive = forms.FileField(
        label=gettext_lazy("Archive (.json)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )


def _page(request, *, form=None, status=200):
    exports = list(OrgExport.objects.for_org(request.org).select_related("requested_by__user")[:5])
    context = {
        "exports": exports,
        "latest": exports[0] if exports else None,
        "can_import": portability.is_empty(request.org, request.membership),
        "form": form or ArchiveForm(),
    }
    return render_page(
        request, "checkins/export.html", context, partial="export-status", status=status
    )


@admin_required
@require_GET
def org_export(request, org_slug):
    """The page; for htmx, only the status (polled every second while an archive builds)."""
    return _page(request)


@admin_required
@require_POST
def org_export_start(request, org_slug):
    portability.export_request(org=request.org, by=request.membership)
    messages.success(request, _("The archive is being built; this page shows when it is ready."))
    return redirect("org_export", org_slug=request.org.slug)


@admin_required
@require_GET
def org_export_download(request, org_slug):
    export = OrgExport.objects.for_org(request.org).filter(status="ready").first()
    if export is None or not export.file:
        raise Http404("No archive is ready.")
    name = export.file.name.rsplit("/", 1)[-1]
    response = FileResponse(
        export.file.open("rb"), as_attachment=True, filename=name, content_type="application/json"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@admin_required
@require_POST
def org_import(request, org_slug):
    form = ArchiveForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["archive"]
        try:
            if upload.size > portability.MAX_ARCHIVE_BYTES:
                raise ValidationError(_("The archive is too large to import here."))
            archive = portability.load(upload.read())
            counts = portability.import_archive(
                org=request.org, by=request.membership, archive=archive
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(
                request,
                _("Imported %(people)d people, %(cycles)d cycles and %(krs)d key results.")
                % {
                    "people": counts["members"],
                    "cycles": counts["cycles"],
                    "krs": counts["key_results"],
                },
            )
            return redirect("org_export", org_slug=request.org.slug)
    return _page(request, form=form, status=400)
