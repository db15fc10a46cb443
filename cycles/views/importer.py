"""CSV import of objectives and key results into a cycle (admins): upload → dry run → confirm.

The dry run's page carries the file itself, signed (``django.core.signing``, bound to the
cycle and the admin), in a hidden field of the confirm form: no temporary file, and the
confirm step runs the exact content that was previewed, re-validated in full.
"""

from __future__ import annotations

import zlib

from django import forms
from django.contrib import messages
from django.core import signing
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from cycles import importer
from cycles.views.common import get_cycle
from okrapp.rendering import render_page
from okrapp.tenancy import admin_required

SALT = "cycles.import"
#: A previewed file can be confirmed for this long.
PAYLOAD_MAX_AGE = 3600


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _signer(request, cycle) -> signing.TimestampSigner:
    # Bound to the organisation, the cycle and the admin: a preview cannot be replayed elsewhere.
    return signing.TimestampSigner(
        salt=f"{SALT}:{request.org.pk}:{cycle.pk}:{request.membership.pk}"
    )


def _sign(request, cycle, content: bytes) -> str:
    signer = _signer(request, cycle)
    return signer.sign_object(zlib.compress(content).hex(), compress=False)


def _unsign(request, cycle, payload: str) -> bytes | None:
    signer = _signer(request, cycle)
    try:
        return zlib.decompress(
            bytes.fromhex(signer.unsign_object(payload, max_age=PAYLOAD_MAX_AGE))
        )
    except (signing.BadSignature, ValueError, TypeError, zlib.error):
        return None


def _page(request, cycle, *, form=None, result=None, payload="", file_error="", status=200):
    context = {
        "cycle": cycle,
        "form": form or UploadForm(),
        "result": result,
        "payload": payload,
        "file_error": file_error,
        "columns": importer.COLUMNS,
        "max_kb": importer.MAX_BYTES // 1024,
    }
    return render_page(request, "cycles/import.html", context, status=status)


@admin_required
def cycle_import(request, org_slug, cycle_id):
    cycle = get_cycle(request, cycle_id)
    if request.method != "POST":
        return _page(request, cycle)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, cycle, form=form, status=400)
    upload = form.cleaned_data["file"]
    if upload.size > importer.MAX_BYTES:
        error = _("The file is larger than %(kb)d KB; split it into several imports.") % {
            "kb": importer.MAX_BYTES // 1024
        }
        return _page(request, cycle, form=form, file_error=error, status=400)
    content = upload.read(importer.MAX_BYTES + 1)
    return _preview(request, cycle, form, content)


def _preview(request, cycle, form, content: bytes, *, commit=False):
    if cycle.is_frozen:
        error = _("%(cycle)s is closed; its values are frozen and can no longer change.") % {
            "cycle": cycle.name
        }
        return _page(request, cycle, form=form, file_error=error, status=400)
    try:
        lines = importer.parse(content)
    except importer.ImportFileError as exc:
        return _page(request, cycle, form=form, file_error=str(exc), status=400)
    result = importer.run(
        org=request.org, by=request.membership, cycle=cycle, lines=lines, commit=commit
    )
    if result.committed:
        messages.success(
            request,
            ngettext(
                "Imported %(objectives)d objective",
                "Imported %(objectives)d objectives",
                len(result.objectives),
            )
            % {"objectives": len(result.objectives)}
            + ngettext(
                " with %(krs)d key result.", " with %(krs)d key results.", result.key_result_count
            )
            % {"krs": result.key_result_count},
        )
        return redirect("cycle_detail", org_slug=request.org.slug, cycle_id=cycle.pk)
    payload = _sign(request, cycle, content) if result.ok else ""
    return _page(
        request,
        cycle,
        form=form,
        result=result,
        payload=payload,
        status=200 if result.ok else 400,
    )


@admin_required
@require_POST
def cycle_import_confirm(request, org_slug, cycle_id):
    cycle = get_cycle(request, cycle_id)
    content = _unsign(request, cycle, request.POST.get("payload", ""))
    if content is None:
        error = _("The preview has expired or was altered; upload the file again.")
        return _page(request, cycle, file_error=error, status=400)
    return _preview(request, cycle, UploadForm(), content, commit=True)


@admin_required
@require_GET
def cycle_import_template(request, org_slug, cycle_id):
    get_cycle(request, cycle_id)
    response = HttpResponse(
        ("\ufeff" + importer.template_csv()).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="okr-import-template.csv"'
    return response
