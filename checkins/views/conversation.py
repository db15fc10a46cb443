"""Comments (with @mentions) on key results, objectives and check-ins; acknowledgements."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from checkins import services
from checkins.forms import AcknowledgeForm, CommentForm
from checkins.models import CheckIn, Comment
from cycles.views.common import get_readable_key_result, get_readable_objective


def _back(comment_or_subject) -> str:
    subject = comment_or_subject
    if isinstance(subject, Comment):
        subject = subject.key_result or subject.objective or subject.checkin
    if isinstance(subject, CheckIn):
        return subject.key_result.get_absolute_url() + f"#checkin-{subject.pk}"
    return subject.get_absolute_url() + "#comments"


def _create(request, **subject):
    form = CommentForm(request.POST)
    target = next(iter(subject.values()))
    if form.is_valid():
        try:
            services.comment_create(
                org=request.org, by=request.membership, body=form.cleaned_data["body"], **subject
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Comment posted."))
            return redirect(_back(target))
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    # Without JavaScript the text must not be lost: show the page with the form filled in.
    return _page_with_comment_form(request, target, form)


def _page_with_comment_form(request, target, form):
    from checkins.views.key_results import kr_page
    from checkins.views.objectives import objective_page

    if isinstance(target, CheckIn):
        target = target.key_result
    if hasattr(target, "objective_id"):  # a key result
        return kr_page(request, target, comment_form=form, status=400)
    return objective_page(request, target, comment_form=form, status=400)


@require_POST
def key_result_comment(request, org_slug, kr_id):
    return _create(request, key_result=get_readable_key_result(request, kr_id))


@require_POST
def objective_comment(request, org_slug, objective_id):
    return _create(request, objective=get_readable_objective(request, objective_id))


def _readable_checkin(request, checkin_id) -> CheckIn:
    checkin = get_object_or_404(
        CheckIn.objects.for_org(request.org).select_related("key_result__objective", "owner"),
        pk=checkin_id,
    )
    get_readable_key_result(request, checkin.key_result_id)  # 404 for a private objective
    return checkin


@require_POST
def checkin_comment(request, org_slug, checkin_id):
    return _create(request, checkin=_readable_checkin(request, checkin_id))


def _own_comment(request, comment_id) -> Comment:
    return get_object_or_404(
        Comment.objects.for_org(request.org).select_related(
            "key_result", "objective", "checkin__key_result"
        ),
        pk=comment_id,
    )


@require_POST
def comment_edit(request, org_slug, comment_id):
    comment = _own_comment(request, comment_id)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_update(
                org=request.org,
                by=request.membership,
                comment=comment,
                body=form.cleaned_data["body"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Comment updated."))
    else:
        messages.error(request, _("A comment cannot be empty."))
    return redirect(_back(comment))


@require_POST
def comment_delete(request, org_slug, comment_id):
    comment = _own_comment(request, comment_id)
    back = _back(comment)
    services.comment_delete(org=request.org, by=request.membership, comment=comment)
    messages.success(request, _("Comment deleted."))
    return redirect(back)


@require_POST
def checkin_acknowledge(request, org_slug, checkin_id):
    """Mark a report's check-in as seen (optionally with a reply)."""
    checkin = _readable_checkin(request, checkin_id)
    form = AcknowledgeForm(request.POST)
    form.is_valid()
    services.checkin_acknowledge(
        org=request.org,
        by=request.membership,
        checkin=checkin,
        reply=form.cleaned_data.get("reply", ""),
    )
    messages.success(request, _("Acknowledged."))
    nxt = request.POST.get("next", "")
    if nxt.startswith(f"/{request.org.slug}/") and "//" not in nxt:
        return redirect(nxt)
    return redirect(_back(checkin))
