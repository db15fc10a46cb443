"""The objective page: what ``cycles`` shows of it, plus its conversation."""

from __future__ import annotations

from checkins.forms import CommentForm
from checkins.models import Comment
from cycles.views.objectives import objective_context
from okrapp.rendering import render_page


def objective_page(request, objective, *, comment_form=None, refused=None, status=200):
    """The page; ``comment_form``, ``refused`` (``conversation.Refused``): forms refused,
    shown as sent."""
    objective_id = objective if isinstance(objective, int) else objective.pk
    context = objective_context(request, objective_id)
    context["comments"] = list(
        Comment.objects.for_org(request.org).filter(objective_id=objective_id).with_people()
    )
    context["comment_form"] = comment_form or CommentForm()
    context["refused"] = refused
    return render_page(request, "checkins/objective_detail.html", context, status=status)


def objective_detail(request, org_slug, objective_id):
    return objective_page(request, objective_id)
