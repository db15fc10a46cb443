"""One-off mails (a mention, "your report is ready") go once however often their task is
delivered: acks_late re-delivers a task whose worker died, a duplicated message runs it
twice. Each mail is claimed in a unique row before it is sent."""

import pytest
from celery.exceptions import Retry
from django.core import mail

from checkins import notifications
from checkins.models import ClaimStatus, Comment, MailClaim, Report, ReportStatus
from checkins.report_tasks import send_report_ready_mail
from checkins.tasks import send_mention_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def comment(acme, bob, kr):
    return Comment.objects.create(
        organization=acme, author=bob, body="@carol can you look at this?", key_result=kr
    )


@pytest.fixture
def report(acme, cycle):
    return Report.objects.create(
        organization=acme, cycle=cycle, status=ReportStatus.READY, generation=1
    )


def test_a_mention_task_delivered_twice_mails_once(acme, carol, comment):
    assert send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get() is True
    assert send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get() is False
    assert [m.to for m in mail.outbox] == [["carol@acme.example"]]
    claim = MailClaim.objects.for_org(acme).get()
    assert claim.status == ClaimStatus.SENT and claim.sent_at is not None


def test_each_comment_mentioning_someone_mails_them(acme, bob, carol, kr, comment):
    other = Comment.objects.create(
        organization=acme, author=bob, body="@carol again", key_result=kr
    )
    for c in (comment, other, comment, other):
        send_mention_email.apply(args=[acme.pk, c.pk, carol.pk]).get()
    assert len(mail.outbox) == 2


def test_a_report_ready_task_delivered_twice_mails_once(acme, alice, report):
    for _ in range(2):
        send_report_ready_mail.apply(args=[acme.pk, report.pk, 1, alice.pk]).get()
    assert [m.to for m in mail.outbox] == [["alice@acme.example"]]
    # A new generation is a new report: mailed again, once.
    Report.objects.for_org(acme).filter(pk=report.pk).update(generation=2)
    for _ in range(2):
        send_report_ready_mail.apply(args=[acme.pk, report.pk, 2, alice.pk]).get()
    assert len(mail.outbox) == 2


def test_a_delivery_while_another_worker_sends_sends_nothing(acme, carol, comment):
    """Two deliveries at once: the second finds the row taken ("sending") and stops."""
    MailClaim.objects.create(
        organization=acme, key=f"mention.{comment.pk}.{carol.pk}", status=ClaimStatus.SENDING
    )
    assert send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get() is False
    assert mail.outbox == []


def test_a_refused_mail_is_retried_and_sent_once(acme, carol, comment, monkeypatch):
    real, calls = notifications.send_templated_mail, []

    def flaky(**kwargs):
        calls.append(kwargs["to"])
        if len(calls) == 1:
            raise OSError("mail server down")
        return real(**kwargs)

    monkeypatch.setattr(notifications, "send_templated_mail", flaky)
    with pytest.raises(Retry):  # eager Celery raises what a worker would schedule
        send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get()
    assert MailClaim.objects.for_org(acme).get().status == ClaimStatus.CLAIMED
    send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get()  # the retry
    send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get()  # a duplicate
    assert len(calls) == 2
    assert [m.to for m in mail.outbox] == [["carol@acme.example"]]
    assert MailClaim.objects.for_org(acme).get().status == ClaimStatus.SENT


def test_the_mail_carries_a_stable_message_id(acme, carol, comment):
    send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get()
    claim = MailClaim.objects.for_org(acme).get()
    assert mail.outbox[0].extra_headers["Message-ID"] == claim.message_id
    assert claim.message_id.startswith(f"<mail.{claim.pk}.")


def test_nothing_is_claimed_for_someone_who_opted_out(acme, carol, comment):
    carol.notify_mentions = False
    carol.save(update_fields=["notify_mentions"])
    assert send_mention_email.apply(args=[acme.pk, comment.pk, carol.pk]).get() is False
    assert not MailClaim.objects.for_org(acme).exists() and mail.outbox == []
