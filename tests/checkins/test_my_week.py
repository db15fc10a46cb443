"""The “My week” page: the one-minute weekly check-in."""

from datetime import date, timedelta
from decimal import Decimal as D
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.urls import reverse

from checkins import selectors, services
from checkins.forms import CheckInForm
from checkins.models import CheckIn
from cycles import services as okr
from cycles.models import KeyResult, Level, Objective

pytestmark = pytest.mark.django_db


def url(org, name="my_week", **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def fields(kr, value, confidence=6, note="", need_help=False, revision=0):
    data = {
        f"kr{kr.pk}-value": value,
        f"kr{kr.pk}-confidence": confidence,
        f"kr{kr.pk}-note": note,
        f"kr{kr.pk}-revision": revision,
    }
    if need_help:
        data[f"kr{kr.pk}-need_help"] = "on"
    return data


def test_the_page_lists_what_is_due_and_prefills_last_values(client, login, acme, carol, kr, kr2):
    login(carol)
    page = client.get(url(acme))
    body = page.content.decode()
    assert page.status_code == 200
    assert kr.title in body and kr2.title in body
    assert "2 key results" in body and "still due this week" in body
    assert f'name="kr{kr.pk}-value"' in body
    assert 'value="30"' in body  # the start value, until there is a check-in
    assert "<svg" in body and "<title" in body


def test_save_all_records_every_key_result_and_then_the_week_is_done(
    client, login, acme, carol, kr, kr2
):
    login(carol)
    response = client.post(
        url(acme), {**fields(kr, "25", 7, "FAQ live"), **fields(kr2, "60", 4, need_help=True)}
    )
    assert response.status_code == 302
    checkins = {c.key_result_id: c for c in CheckIn.objects.for_org(acme)}
    assert checkins[kr.pk].value == D(25) and checkins[kr.pk].note == "FAQ live"
    assert checkins[kr2.pk].need_help and checkins[kr2.pk].confidence == 4
    body = client.get(url(acme)).content.decode()
    assert "Done for this week." in body
    assert 'value="25"' in body


def test_a_bad_value_is_refused_and_everything_typed_is_kept(client, login, acme, carol, kr, kr2):
    login(carol)
    response = client.post(
        url(acme), {**fields(kr, "twenty", 7, "kept note"), **fields(kr2, "60", 11)}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a number" in body
    assert "Confidence is from 1 to 10." in body
    assert 'value="twenty"' in body and "kept note" in body
    assert not CheckIn.objects.for_org(acme).exists()


class _Fields(HTMLParser):
    """Attributes of every input and textarea, by name, and the ids on the page."""

    def __init__(self, html: str):
        super().__init__()
        self.fields: dict[str, dict] = {}
        self.ids: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag in ("input", "textarea") and "name" in attrs:
            self.fields[attrs["name"]] = {"tag": tag, **attrs}


@pytest.mark.parametrize("bound", [False, True])
def test_the_written_out_inputs_match_the_check_in_form(bound, client, login, acme, carol, kr):
    """My week writes its inputs out (speed); they must be what the form's widgets would
    render: same names, types, limits, values kept, errors linked for screen readers."""
    login(carol)
    data = fields(kr, "twenty", 11, "kept <note>", need_help=True)
    response = client.post(url(acme), data) if bound else client.get(url(acme))
    page = _Fields(response.content.decode())
    form = CheckInForm(data if bound else None, prefix=f"kr{kr.pk}", initial=None)
    if bound:
        assert not form.is_valid()
    else:
        form = CheckInForm(
            prefix=f"kr{kr.pk}",
            initial={"value": "30", "confidence": 5, "note": "", "need_help": False, "revision": 0},
        )
    expected = _Fields("".join(str(form[name]) for name in form.fields))
    for name, attrs in expected.fields.items():
        attrs.pop("cols", None)  # the stylesheet sizes the note
        assert page.fields[name] == attrs, name
    if bound:
        for name in ("value", "confidence"):
            described = page.fields[f"kr{kr.pk}-{name}"]["aria-describedby"]
            assert described in page.ids  # the error list it points to is there
        assert "kept &lt;note&gt;" in response.content.decode()


def test_valid_ones_are_saved_when_another_is_refused(client, login, acme, carol, kr, kr2):
    login(carol)
    response = client.post(url(acme), {**fields(kr, "25"), **fields(kr2, "")})
    assert response.status_code == 400
    assert list(CheckIn.objects.for_org(acme).values_list("key_result_id", flat=True)) == [kr.pk]
    assert "1 saved" in response.content.decode()


def test_one_key_result_saves_with_htmx_and_returns_its_card(client, login, acme, carol, kr):
    login(carol)
    response = client.post(
        url(acme, "my_week_save", kr_id=kr.pk), fields(kr, "22", 8), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and f'id="kr-{kr.pk}"' in body and "Saved" in body
    # Its only key result is in: the summary above the cards says so, out of band.
    assert 'id="week-summary"' in body and 'hx-swap-oob="true"' in body
    assert "Done for this week." in body
    kr.refresh_from_db()
    assert kr.current_value == D(22)
    bad = client.post(
        url(acme, "my_week_save", kr_id=kr.pk),
        fields(kr, "22", 0, revision=1),
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 400 and "Confidence is from 1 to 10." in bad.content.decode()


def test_a_stale_revision_gets_the_conflict_message_with_the_newer_values(
    client, login, acme, bob, carol, kr
):
    login(carol)
    services.checkin_record(org=acme, by=bob, key_result=kr, value=D(24), confidence=5)
    response = client.post(
        url(acme, "my_week_save", kr_id=kr.pk),
        fields(kr, "99", 9, revision=0),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "changed since you opened the page" in body
    assert "Now saved: 24" in body and "Bob Lin" in body
    assert 'value="99"' in body  # what was typed stays


def test_without_javascript_a_single_save_uses_the_only_button(client, login, acme, carol, kr, kr2):
    login(carol)
    response = client.post(
        url(acme), {**fields(kr, "21"), **fields(kr2, "bad"), "only": str(kr.pk)}
    )
    assert response.status_code == 302
    assert CheckIn.objects.for_org(acme).count() == 1


def test_without_javascript_one_save_redirects_or_shows_the_page_with_the_input_kept(
    client, login, acme, bob, carol, kr, kr2
):
    login(carol)
    save = url(acme, "my_week_save", kr_id=kr.pk)
    response = client.post(save, fields(kr, "21", 7))
    assert response.status_code == 302 and response.url == url(acme)
    assert CheckIn.objects.for_org(acme).get().value == D(21)
    # A refused value: the whole page again, the typed value and the message on its card.
    bad = client.post(save, fields(kr, "lots", 7, revision=1))
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "<html" in body and 'value="lots"' in body and "data-kr-card" in body
    assert body.count("data-kr-card") == 2  # kr2 is drawn too, unbound
    # A lost race: the newer values are shown, what was typed stays.
    services.checkin_record(org=acme, by=bob, key_result=kr, value=D(24), confidence=5)
    stale = client.post(save, fields(kr, "99", 9, revision=1))
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "changed since you opened the page" in body and "Now saved: 24" in body
    assert 'value="99"' in body


def test_saving_one_key_result_reads_and_writes_a_fixed_set_of_rows(
    client, login, acme, carol, kr, kr2, django_assert_num_queries
):
    login(carol)
    client.get(url(acme))  # the session and the person are loaded once, as on any page
    save = url(acme, "my_week_save", kr_id=kr.pk)
    # Session, user, membership; the key result and objective locked, this week's
    # check-in, the cycle's state held (PostgreSQL); the key result and its history row;
    # the objective's key results and its progress; the check-in and its history row; two
    # savepoint statements (the test's transaction wraps the request's).
    statements = 14 if connection.vendor == "postgresql" else 13
    with django_assert_num_queries(statements):
        response = client.post(save, fields(kr, "21", 7))
    assert response.status_code == 302
    with django_assert_num_queries(statements):  # a revision: the same
        response = client.post(save, fields(kr, "20", 7, revision=1))
    assert response.status_code == 302
    assert CheckIn.objects.for_org(acme).get().revision == 2


def test_someone_elses_key_result_is_not_in_my_week(client, login, acme, erin, kr):
    login(erin)
    response = client.post(url(acme, "my_week_save", kr_id=kr.pk), fields(kr, "1"))
    assert response.status_code == 404


def test_a_check_in_from_my_week_takes_only_the_key_results_the_page_lists(
    client, login, acme, alice, carol, erin, objective, kr, kr2
):
    """The save locks the row first and then asks ``checks_in_from_my_week``: the page's own
    rule for the key result in hand, less its cycle's state, which the check-in service
    refuses with its reason."""
    archived = okr.objective_create(
        org=acme, by=carol, cycle=objective.cycle, level=Level.INDIVIDUAL, owner=carol, title="Old"
    )
    in_archived = okr.key_result_create(
        org=acme, by=carol, objective=archived, owner=carol, title="Old KR",
        start_value=D(0), target_value=D(5),
    )  # fmt: skip
    Objective.objects.for_org(acme).filter(pk=archived.pk).update(status="archived")
    later = okr.cycle_create(
        org=acme, by=alice, name="2027 Q1", start_date=date(2027, 1, 1),
        end_date=date(2027, 3, 31),
    )  # fmt: skip
    planned = okr.key_result_create(
        org=acme, by=carol, owner=carol, title="Next quarter", start_value=D(0),
        target_value=D(5),
        objective=okr.objective_create(
            org=acme, by=carol, cycle=later, level=Level.INDIVIDUAL, owner=carol, title="Next"
        ),
    )  # fmt: skip
    ernies = okr.key_result_create(
        org=acme, by=carol, objective=objective, owner=erin, title="Erin's",
        start_value=D(0), target_value=D(5),
    )  # fmt: skip
    everyone = [kr, kr2, in_archived, planned, ernies]
    listed = set(selectors.my_key_results(acme, carol).values_list("pk", flat=True))
    assert listed == {kr.pk, kr2.pk}
    for key_result in everyone:
        row = (
            KeyResult.objects.for_org(acme).select_related("objective__cycle").get(pk=key_result.pk)
        )
        taken = key_result.pk in listed or key_result == planned
        assert selectors.checks_in_from_my_week(row, carol) == taken, key_result.title

    login(carol)
    for key_result in (in_archived, ernies):
        save = url(acme, "my_week_save", kr_id=key_result.pk)
        assert client.post(save, fields(key_result, "3")).status_code == 404
    # Her own, in a cycle that is not active: refused with the reason, not as unknown.
    refused = client.post(url(acme, "my_week_save", kr_id=planned.pk), fields(planned, "3"))
    assert refused.status_code == 400 and "2027 Q1 is not active" in refused.content.decode()
    assert not CheckIn.objects.for_org(acme).exists()
    assert client.post(url(acme, "my_week_save", kr_id=kr.pk), fields(kr, "3")).status_code == 302


def test_no_active_cycle_says_so(client, login, acme, carol):
    login(carol)
    assert "no active cycle" in client.get(url(acme)).content.decode()


@pytest.mark.parametrize("n", [3, 30])
def test_query_count_does_not_grow_with_key_results(
    client, login, acme, carol, objective, n, django_assert_max_num_queries
):
    for i in range(n):
        kr = okr.key_result_create(
            org=acme,
            by=carol,
            objective=objective,
            owner=carol,
            title=f"Metric {i} from 0 to 10",
            start_value=D(0),
            target_value=D(10),
        )
        services.checkin_record(org=acme, by=carol, key_result=kr, value=D(i % 10), confidence=5)
    login(carol)
    with django_assert_max_num_queries(10):
        response = client.get(url(acme))
    assert response.status_code == 200
    assert response.content.decode().count("data-kr-card") == n


# --- A lost race, a cycle that moved on, an id beyond any row, last week's values -----------------


def _send(client, acme, how, data):
    """Post ``data`` as My week sends it: the card's htmx save, its no-JavaScript save, or
    "Save all"."""
    (kr_id,) = {int(name[2:].split("-")[0]) for name in data if name.endswith("-value")} or {0}
    if how == "save-all":
        return client.post(url(acme), data)
    save = url(acme, "my_week_save", kr_id=kr_id)
    if how == "htmx":
        return client.post(save, data, HTTP_HX_REQUEST="true")
    return client.post(save, data)


@pytest.mark.parametrize("how", ["htmx", "no-js", "save-all"])
def test_saving_again_after_a_lost_race_revises_the_newer_check_in(
    how, client, login, acme, bob, carol, kr
):
    """The answer to a lost race keeps what was typed, shows the newer check-in and expects
    its revision: saving again, having read it, revises it (it used to fail for ever)."""
    services.checkin_record(org=acme, by=carol, key_result=kr, value=D(26), confidence=6)
    # Carol's page was opened at revision 1; Bob revises the check-in meanwhile.
    services.checkin_record(
        org=acme, by=bob, key_result=kr, value=D(24), confidence=5, expected_revision=1
    )
    login(carol)
    stale = _send(client, acme, how, fields(kr, "99", 9, "typed note", revision=1))
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "changed since you opened the page" in body
    assert "Now saved: 24 (confidence 5/10) by Bob Lin." in body
    page = _Fields(body)
    assert page.fields[f"kr{kr.pk}-value"]["value"] == "99" and "typed note" in body
    assert page.fields[f"kr{kr.pk}-revision"]["value"] == "2"  # Bob's, not the one sent

    again = _send(client, acme, how, fields(kr, "99", 9, "typed note", revision=2))
    assert again.status_code == (200 if how == "htmx" else 302)
    checkin = CheckIn.objects.for_org(acme).get()
    assert (checkin.value, checkin.revision, checkin.recorded_by) == (D(99), 3, carol)


def test_save_all_hands_back_every_card_with_the_revision_to_send_next(
    client, login, acme, bob, carol, kr, kr2
):
    """A "Save all" that lost one race: the saved card expects its new revision, the lost
    one the newer check-in's, so the next "Save all" saves both."""
    services.checkin_record(org=acme, by=bob, key_result=kr, value=D(24), confidence=5)
    login(carol)
    first = client.post(url(acme), {**fields(kr, "99", 9), **fields(kr2, "60", 7)})
    assert first.status_code == 409 and "1 saved" in first.content.decode()
    page = _Fields(first.content.decode())
    revisions = {k: page.fields[f"kr{k.pk}-revision"]["value"] for k in (kr, kr2)}
    assert revisions == {kr: "1", kr2: "1"}
    again = client.post(
        url(acme),
        {**fields(kr, "99", 9, revision=revisions[kr]), **fields(kr2, "61", 7, revision=1)},
    )
    assert again.status_code == 302
    values = dict(CheckIn.objects.for_org(acme).values_list("key_result_id", "value"))
    assert values == {kr.pk: D(99), kr2.pk: D(61)}


def test_a_first_check_in_at_the_same_instant_as_another_shows_it_and_saves_next(
    monkeypatch, client, login, acme, bob, carol, kr
):
    """Two first check-ins of the week at once: the loser's insert fails on the unique
    constraint (its locking read saw none). The answer reads the winner's afresh, shows it
    and expects its revision."""
    services.checkin_record(org=acme, by=bob, key_result=kr, value=D(24), confidence=5)
    locked = services.lock_for_checkin

    def read_before_the_other_committed(*args, **kwargs):
        key_result = locked(*args, **kwargs)
        key_result.week_checkin = None
        return key_result

    monkeypatch.setattr(services, "lock_for_checkin", read_before_the_other_committed)
    login(carol)
    save = url(acme, "my_week_save", kr_id=kr.pk)
    lost = client.post(save, fields(kr, "99", 9, revision=0), HTTP_HX_REQUEST="true")
    assert lost.status_code == 409
    body = lost.content.decode()
    assert "at the same moment" in body and "Now saved: 24" in body
    assert _Fields(body).fields[f"kr{kr.pk}-revision"]["value"] == "1"
    monkeypatch.undo()
    again = client.post(save, fields(kr, "99", 9, revision=1), HTTP_HX_REQUEST="true")
    assert again.status_code == 200
    assert CheckIn.objects.for_org(acme).get().value == D(99)


@pytest.mark.parametrize("how", ["htmx", "no-js", "save-all"])
def test_a_check_in_after_the_cycle_moved_on_says_why_and_keeps_the_input(
    how, client, login, acme, alice, carol, cycle, kr
):
    """The page was opened while the cycle was active; it moved to scoring before the
    save. The card comes back with the service's reason and what was typed (not a 404)."""
    login(carol)
    okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="scoring")
    response = _send(client, acme, how, fields(kr, "21", 7, "typed note", need_help=True))
    assert response.status_code == 400
    body = response.content.decode()
    assert "2026 Q4 is not active; check-ins are taken only in the active cycle." in body
    page = _Fields(body)
    assert page.fields[f"kr{kr.pk}-value"]["value"] == "21" and "typed note" in body
    assert "checked" in page.fields[f"kr{kr.pk}-need_help"]
    # Nothing is due in a cycle that is not active, nor is the week done.
    assert "still due this week" not in body and "Done for this week" not in body
    assert "There is no active cycle right now." in body
    assert not CheckIn.objects.for_org(acme).exists()


def test_an_id_beyond_any_row_is_not_found(client, login, acme, carol, kr):
    """Ids past the 64-bit range used to reach the locking SQL and fail there (500)."""
    huge = "99999999999999999999"
    login(carol)
    typed = {f"kr{huge}-value": "3", f"kr{huge}-confidence": "5", f"kr{huge}-revision": "0"}
    assert client.post(f"/acme/my-week/{huge}/", typed).status_code == 404
    assert client.post(f"/acme/my-week/{huge}/", typed, HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(f"/acme/my-week/{huge}/", {}).status_code == 404
    assert client.post(url(acme), {**typed, "only": huge}).status_code == 404
    # "Save all" with a stray card of that id: the person's own cards are saved.
    assert client.post(url(acme), {**typed, **fields(kr, "25")}).status_code == 302
    assert CheckIn.objects.for_org(acme).get().value == D(25)


def test_the_form_is_prefilled_with_last_weeks_value_and_confidence(client, login, acme, carol, kr):
    from django.utils import timezone

    last_week = timezone.now() - timedelta(weeks=1)
    services.checkin_record(
        org=acme, by=carol, key_result=kr, value=D("23.5"), confidence=3, note="Old", now=last_week
    )
    login(carol)
    body = client.get(url(acme)).content.decode()
    page = _Fields(body)
    assert page.fields[f"kr{kr.pk}-value"]["value"] == "23.5"
    assert page.fields[f"kr{kr.pk}-confidence"]["value"] == "3"
    assert page.fields[f"kr{kr.pk}-revision"]["value"] == "0"  # this week's is still to come
    assert "Old</textarea>" not in body  # last week's note is not this week's
    assert "1 key result</strong> still due this week" in body
