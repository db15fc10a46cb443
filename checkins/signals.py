"""How the cadence reacts to cycles: ``cycles`` sends, ``checkins`` listens (never the
other way round)."""

from django.dispatch import receiver

from cycles.models import CycleState
from cycles.services import cycle_state_changed


@receiver(cycle_state_changed, dispatch_uid="checkins.ask_owners_to_score")
def ask_owners_to_score(sender, org, cycle, from_state, to_state, by, **kwargs):
    """Entering scoring: every owner is asked to score their key results (after commit)."""
    if to_state == CycleState.SCORING and from_state == CycleState.ACTIVE:
        from checkins.tasks import request_scores

        request_scores.delay_on_commit(org.pk, cycle.pk)


@receiver(cycle_state_changed, dispatch_uid="checkins.report_on_close")
def request_report_on_close(sender, org, cycle, from_state, to_state, by, **kwargs):
    """Scoring closes: the quarter's report is built, requested by whoever closed it."""
    if from_state == CycleState.SCORING and to_state == CycleState.CLOSED:
        from checkins.reports import report_request

        report_request(org=org, by=by, cycle=cycle)
