"""The “My week” page: the one-minute weekly check-in."""

from datetime import date
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
    """The save locks the row first and then asks ``on_my_week``: the same rule as the
    page's own query, for the key result in hand."""
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
        assert selectors.on_my_week(row, carol) == (key_result.pk in listed), key_result.title

    login(carol)
    for key_result in (in_archived, planned, ernies):
        save = url(acme, "my_week_save", kr_id=key_result.pk)
        assert client.post(save, fields(key_result, "3")).status_code == 404
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
