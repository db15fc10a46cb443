"""Comments on key results, objectives and check-ins, through their pages (no JavaScript),
and the @mentions they send: only to people who may read what was commented, once each."""

from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from checkins import services
from checkins.models import Comment
from cycles import services as okr
from cycles.models import Level

pytestmark = pytest.mark.django_db

TOO_LONG = "Typed with care. " * 300  # 5,100 characters; a comment takes 5,000


def url(name, **kwargs):
    return reverse(name, kwargs={"org_slug": "acme", **kwargs})


@pytest.fixture
def checkin(acme, carol, kr):
    return services.checkin_record(org=acme, by=carol, key_result=kr, value=D(25), confidence=6)


@pytest.fixture
def private(acme, carol, cycle):
    """Carol's private objective: erin may not read it, the admin alice may."""
    return okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=Level.INDIVIDUAL, owner=carol,
        title="Secret plan", visibility="private",
    )  # fmt: skip


# --- Comments on check-ins ------------------------------------------------------------------------


def test_a_comment_on_a_check_in_goes_under_it(client, login, acme, bob, kr, checkin):
    login(bob)
    response = client.post(url("checkin_comment", checkin_id=checkin.pk), {"body": "Nice drop"})
    assert response.status_code == 302
    assert response.url == kr.get_absolute_url() + f"#checkin-{checkin.pk}"
    comment = Comment.objects.for_org(acme).get()
    assert comment.checkin_id == checkin.pk and comment.key_result_id is None
    assert comment.author == bob


@pytest.mark.parametrize(
    ("body", "message"),
    [("   ", "This field is required."), (TOO_LONG, "at most 5000 characters")],
)
def test_a_refused_comment_on_a_check_in_is_kept_in_its_box(
    body, message, client, login, acme, bob, checkin
):
    login(bob)
    response = client.post(url("checkin_comment", checkin_id=checkin.pk), {"body": body})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    # In the check-in's own box (opened), not the key result's: sent again, it lands there.
    box = page[page.index('<details class="reply-checkin" open>') :]
    box = box[: box.index("</details>")]
    assert f'action="{url("checkin_comment", checkin_id=checkin.pk)}"' in box
    assert message in box and (body.strip() == "" or f">{body}</textarea>" in box)
    assert not Comment.objects.for_org(acme).exists()


def test_check_ins_under_a_private_objective_take_no_comment_from_others(
    client, login, acme, carol, erin, mallory, private
):
    secret = okr.key_result_create(
        org=acme, by=carol, objective=private, owner=carol, title="Secret KR",
        start_value=D(0), target_value=D(10),
    )  # fmt: skip
    checkin = services.checkin_record(
        org=acme, by=carol, key_result=secret, value=D(2), confidence=5
    )
    for outsider in (erin, mallory):
        login(outsider)
        sent = client.post(url("checkin_comment", checkin_id=checkin.pk), {"body": "peek"})
        assert sent.status_code == 404
    assert not Comment.objects.for_org(acme).exists()


# --- Comments on objectives -----------------------------------------------------------------------


def test_a_comment_on_an_objective(client, login, acme, bob, objective):
    login(bob)
    response = client.post(url("objective_comment", objective_id=objective.pk), {"body": "Go!"})
    assert response.status_code == 302
    assert response.url == objective.get_absolute_url() + "#comments"
    assert Comment.objects.for_org(acme).get().objective_id == objective.pk


def test_a_refused_comment_on_an_objective_keeps_the_text(client, login, acme, bob, objective):
    login(bob)
    response = client.post(url("objective_comment", objective_id=objective.pk), {"body": TOO_LONG})
    assert response.status_code == 400
    page = response.content.decode()
    assert "at most 5000 characters" in page and f">{TOO_LONG}</textarea>" in page
    assert not Comment.objects.for_org(acme).exists()


def test_outsiders_cannot_comment_on_an_objective(client, login, acme, erin, mallory, private):
    for outsider in (erin, mallory):
        login(outsider)
        sent = client.post(url("objective_comment", objective_id=private.pk), {"body": "peek"})
        assert sent.status_code == 404
    assert not Comment.objects.for_org(acme).exists()


# --- Editing and deleting -------------------------------------------------------------------------


@pytest.fixture
def on_check_in(acme, bob, checkin):
    return services.comment_create(org=acme, by=bob, checkin=checkin, body="First thought")


def test_the_author_deletes_their_comment_and_returns_to_where_it_was(
    client, login, acme, bob, kr, checkin, on_check_in
):
    login(bob)
    response = client.post(url("comment_delete", comment_id=on_check_in.pk))
    assert response.status_code == 302
    assert response.url == kr.get_absolute_url() + f"#checkin-{checkin.pk}"
    assert not Comment.objects.for_org(acme).exists()


def test_nobody_else_deletes_or_edits_a_comment(
    client, login, acme, alice, carol, mallory, on_check_in
):
    for other in (carol, alice):  # the check-in's owner; an admin
        login(other)
        assert client.post(url("comment_delete", comment_id=on_check_in.pk)).status_code == 403
        edit = url("comment_edit", comment_id=on_check_in.pk)
        assert client.post(edit, {"body": "Changed"}).status_code == 403
        assert client.post(edit, {"body": TOO_LONG}).status_code == 403
    login(mallory)
    assert client.post(url("comment_delete", comment_id=on_check_in.pk)).status_code == 404
    assert Comment.objects.for_org(acme).get().body == "First thought"


def test_the_author_edits_their_comment(client, login, acme, bob, on_check_in):
    login(bob)
    response = client.post(url("comment_edit", comment_id=on_check_in.pk), {"body": "Second"})
    assert response.status_code == 302
    on_check_in.refresh_from_db()
    assert on_check_in.body == "Second" and on_check_in.edited_at is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [("  ", "This field is required."), (TOO_LONG, "at most 5000 characters")],
)
def test_a_refused_edit_keeps_the_text_in_the_open_edit_box(
    body, message, client, login, acme, bob, objective, on_check_in
):
    on_objective = services.comment_create(org=acme, by=bob, objective=objective, body="Go!")
    login(bob)
    for comment in (on_check_in, on_objective):
        response = client.post(url("comment_edit", comment_id=comment.pk), {"body": body})
        assert response.status_code == 400
        page = response.content.decode()
        item = page[page.index(f'id="comment-{comment.pk}"') :]
        item = item[: item.index("</li>\n")]
        assert '<details class="comment-edit" open>' in item and message in item
        assert f">{body}</textarea>" in item
    assert {c.body for c in Comment.objects.for_org(acme)} == {"First thought", "Go!"}


# --- Mentions -------------------------------------------------------------------------------------


def _mentioned(comment):
    return {m.pk for m in comment.mentions.all()}


def test_a_mention_of_someone_who_cannot_read_the_objective_tells_them_nothing(
    acme, alice, carol, erin, private, django_capture_on_commit_callbacks
):
    """Erin may not read carol's private objective: she is not mentioned, and no mail
    carries its title or the comment to her. Alice (an admin) may."""
    secret = okr.key_result_create(
        org=acme, by=carol, objective=private, owner=carol, title="Secret KR",
        start_value=D(0), target_value=D(10),
    )  # fmt: skip
    checkin = services.checkin_record(
        org=acme, by=carol, key_result=secret, value=D(2), confidence=5
    )
    body = "@erin @alice the confidential numbers"
    with django_capture_on_commit_callbacks(execute=True):
        on = [
            services.comment_create(org=acme, by=carol, objective=private, body=body),
            services.comment_create(org=acme, by=carol, key_result=secret, body=body),
            services.comment_create(org=acme, by=carol, checkin=checkin, body=body),
        ]
    assert all(_mentioned(comment) == {alice.pk} for comment in on)
    assert [m.to for m in mail.outbox] == [["alice@acme.example"]] * 3
    # An edit that names her again changes nothing for her.
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_update(org=acme, by=carol, comment=on[0], body=body + " @erin!")
    assert _mentioned(on[0]) == {alice.pk} and len(mail.outbox) == 3


def test_editing_a_comment_tells_the_newly_mentioned_once_and_nobody_twice(
    acme, bob, carol, erin, kr, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        comment = services.comment_create(org=acme, by=carol, key_result=kr, body="@bob look")
    assert [m.to for m in mail.outbox] == [["bob@acme.example"]]
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_update(org=acme, by=carol, comment=comment, body="@bob and @erin look")
    assert _mentioned(comment) == {bob.pk, erin.pk}
    assert [m.to for m in mail.outbox] == [["bob@acme.example"], ["erin@acme.example"]]
    # The same names again, one of them dropped and put back: nobody is told twice.
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_update(org=acme, by=carol, comment=comment, body="@erin only")
        services.comment_update(org=acme, by=carol, comment=comment, body="@bob, @erin: look")
    assert len(mail.outbox) == 2


def test_the_mention_mail_links_to_the_mail_preferences(
    acme, bob, carol, kr, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_create(org=acme, by=carol, key_result=kr, body="@bob have a look")
    (message,) = mail.outbox
    preferences = reverse("notification_settings", kwargs={"org_slug": "acme"})
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    for text in (message.body, html):
        assert preferences in text and "have a look" in text
    assert "Change which mails you get" in message.body and "Change which mails you get" in html
    assert "You receive this because you are a member of Acme Robotics." in html


def test_nobody_who_turned_mention_mails_off_gets_one(
    acme, bob, carol, kr, django_capture_on_commit_callbacks
):
    services.notification_preferences_set(
        membership=bob, reminders=True, mentions=False, digests=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        comment = services.comment_create(org=acme, by=carol, key_result=kr, body="@bob look")
    assert _mentioned(comment) == {bob.pk}  # still mentioned, on the page
    assert mail.outbox == []
