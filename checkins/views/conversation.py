"""Comments (with @mentions) on key results, objectives and check-ins; acknowledgements."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from checkins import services
from checkins.forms import AcknowledgeForm, CommentForm
from checkins.models import CheckIn, Comment
from cycles.models import Objective
from cycles.views.common import get_readable_key_result, get_readable_objective
from okrapp.forms import apply_service_errors


@dataclass(frozen=True)
class Refused:
    """A form sent from one item of a page (a check-in's comment box or acknowledgement, a
    comment's edit box), refused: the page shows it there again, with what was typed and
    why. ``kind``: "checkin-comment", "ack" (``pk``: the check-in) or "comment-edit"
    (``pk``: the comment)."""

    kind: str
    pk: int
    form: forms.Form


def _say_refused(request, form: forms.Form) -> None:
    messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))


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
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Comment posted."))
            return redirect(_back(target))
    _say_refused(request, form)
    # Without JavaScript the text must not be lost: show the page with the form filled in,
    # a check-in's own comment box for a comment on a check-in.
    if isinstance(target, CheckIn):
        return _page_of(request, target, refused=Refused("checkin-comment", target.pk, form))
    return _page_of(request, target, comment_form=form)


def _page_of(request, subject, **refusal):
    """The page ``subject`` (a key result, an objective, a check-in) is shown on, again with
    a refused form (``kr_page``'s and ``objective_page``'s keywords), status 400."""
    from checkins.views.key_results import kr_page
    from checkins.views.objectives import objective_page

    if isinstance(subject, CheckIn):
        subject = subject.key_result
    if isinstance(subject, Objective):
        return objective_page(request, subject.pk, **refusal, status=400)
    return kr_page(request, get_readable_key_result(request, subject.pk), **refusal, status=400)


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
    if comment.author_id != request.membership.pk:
        # Before the text is looked at: another's comment is refused whatever was sent.
        raise PermissionDenied(_("You can only edit your own comments."))
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
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Comment updated."))
            return redirect(_back(comment))
    _say_refused(request, form)
    # The page again with the comment's edit box open, holding what was typed.
    subject = comment.key_result or comment.objective or comment.checkin
    return _page_of(request, subject, refused=Refused("comment-edit", comment.pk, form))


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
    if not services.can_acknowledge(request.membership, checkin):
        # Before the reply is looked at: the wrong person is refused whatever was sent.
        raise PermissionDenied(_("Only the person's manager can acknowledge their check-in."))
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        return _acknowledgement_refused(request, checkin, form)
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


def _acknowledgement_refused(request, checkin: CheckIn, form: AcknowledgeForm):
    """A reply that cannot be taken (too long): nothing is acknowledged, and the form comes
    back where it was sent from with the reply as typed and why. With htmx: the queue's row;
    without: the queue when the form came from it, else the key result page."""
    from checkins.views import acknowledgements
    from checkins.views.key_results import kr_page

    refused = Refused("ack", checkin.pk, form)
    row = acknowledgements.row_refused(request, refused) if request.htmx else None
    if row is not None:
        return row
    _say_refused(request, form)
    queue = reverse("ack_queue", kwargs={"org_slug": request.org.slug})
    if request.POST.get("next", "").split("?")[0] == queue:
        return acknowledgements.queue_page(request, refused=refused, status=400)
    kr = get_readable_key_result(request, checkin.key_result_id)
    return kr_page(request, kr, refused=refused, status=400)
