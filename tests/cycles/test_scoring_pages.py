"""End-of-quarter self-scoring pages through their URLs: the owner scores, managers read and
comment, everyone else is refused; refused input is kept; query counts stay flat."""

import re
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cycles import services
from cycles.models import CycleState, KeyResultScore, Level
from tests.cycles.factories import CycleFactory, KeyResultFactory, ObjectiveFactory
from tests.factories import MembershipFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, org, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def text(response) -> str:
    return response.content.decode()


def squash(response) -> str:
    """The page's text with runs of white space folded, for phrases split over lines."""
    return re.sub(r"\s+", " ", text(response))


# --- The cast's key results --------------------------------------------------------------------


@pytest.fixture
def cycle(acme, alice):
    today = date.today()
    cycle = services.cycle_create(
        org=acme,
        by=alice,
        name="Ending quarter",
        start_date=today - timedelta(days=85),
        end_date=today + timedelta(days=5),
    )
    for state in ("planning", "active"):
        cycle = services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    return cycle


def _objective(acme, owner, cycle, title, type_="committed", **extra):
    return services.objective_create(
        org=acme,
        by=owner,
        cycle=cycle,
        title=title,
        level=Level.INDIVIDUAL,
        owner=owner,
        type=type_,
        **extra,
    )


def _kr(acme, owner, objective, title, current):
    return services.key_result_create(
        org=acme,
        by=owner,
        objective=objective,
        owner=owner,
        title=title,
        start_value=D(0),
        target_value=D(10),
        current_value=D(current),
    )


@pytest.fixture
def committed_kr(acme, carol, cycle):
    objective = _objective(acme, carol, cycle, "Ship the gripper")
    return _kr(acme, carol, objective, "Sign 10 pilot workshops", 6)


@pytest.fixture
def aspirational_kr(acme, carol, cycle):
    objective = _objective(acme, carol, cycle, "Open a new market", "aspirational")
    return _kr(acme, carol, objective, "Sell 10 robots in Japan", 7)


def _to(acme, alice, cycle, state):
    return services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)


@pytest.fixture
def scoring(acme, alice, cycle, committed_kr, aspirational_kr):
    return _to(acme, alice, cycle, CycleState.SCORING)


def _fields(kr, score, *, worked="", change="", reason=""):
    prefix = f"kr{kr.pk}-"
    return {
        f"{prefix}score": score,
        f"{prefix}what_worked": worked,
        f"{prefix}what_to_change": change,
        f"{prefix}reason": reason,
    }


def _score(acme, kr):
    return KeyResultScore.objects.for_org(acme).filter(key_result=kr).first()


# --- The owner's page -------------------------------------------------------------------------


def test_the_owner_sees_each_kr_with_progress_suggestion_and_expectation(
    login, carol, scoring, committed_kr, aspirational_kr, acme
):
    response = login(carol).get(url("my_scoring", acme, cycle_id=scoring.pk))
    assert response.status_code == 200
    page = squash(response)
    assert "0 of 2 scored." in page
    # Grouped under their objectives, committed and aspirational told apart.
    assert "Ship the gripper" in page and "Open a new market" in page
    assert "1.0 (committed)" in page and "about 0.7 (aspirational)" in page
    # The suggestion (progress rounded to one decimal) fills the score.
    assert f'name="kr{committed_kr.pk}-score" value="0.6"' in page
    assert f'name="kr{aspirational_kr.pk}-score" value="0.7"' in page
    assert "60 %" in page or "60%" in page
    assert "Below 1.0, say what you would change next time" in page


def test_save_all_refuses_a_committed_kr_below_one_without_reflection_and_keeps_input(
    login, carol, scoring, committed_kr, aspirational_kr, acme
):
    client = login(carol)
    data = {
        **_fields(committed_kr, "0.6", worked="The pilots loved it"),
        **_fields(aspirational_kr, "0.8", worked="Partner found early"),
    }
    response = client.post(url("my_scoring", acme, cycle_id=scoring.pk), data)
    assert response.status_code == 400
    page = squash(response)
    assert "needs a reflection: what would you change next time?" in page
    assert "Choose the main reason it fell short." in page
    # Everything typed is kept, the valid row was saved.
    assert f'name="kr{committed_kr.pk}-score" value="0.6"' in page
    assert "The pilots loved it" in page
    assert "1 score saved; fix the marked ones below." in page
    assert _score(acme, committed_kr) is None
    assert _score(acme, aspirational_kr).score == D("0.8")

    data.update(
        _fields(
            committed_kr,
            "0.6",
            worked="The pilots loved it",
            change="Book the workshops before the quarter starts.",
            reason="too_ambitious",
        )
    )
    response = client.post(url("my_scoring", acme, cycle_id=scoring.pk), data)
    assert response.status_code == 302
    record = _score(acme, committed_kr)
    assert (record.score, record.suggested, record.reason, record.scored_by) == (
        D("0.6"),
        D("0.6"),
        "too_ambitious",
        carol,
    )
    page = squash(client.get(response.url))
    assert "All scored. Thank you!" in page
    assert "Saved 1 score." in page  # the aspirational one was unchanged: not saved again
    assert f'name="kr{committed_kr.pk}-score" value="0.6"' in page
    assert "Book the workshops before the quarter starts." in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1.5", "Score from 0.0 to 1.0."),
        ("-0.1", "Score from 0.0 to 1.0."),
        ("0.75", "Use one decimal, e.g. 0.7."),
        ("lots", "Enter a number."),
        ("", "This field is required."),
    ],
)
def test_a_bad_score_is_400_with_the_message_and_the_input_kept(
    login, carol, scoring, aspirational_kr, acme, typed, message
):
    data = _fields(aspirational_kr, typed, worked="Kept words")
    response = login(carol).post(url("my_scoring", acme, cycle_id=scoring.pk), data)
    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert f'name="kr{aspirational_kr.pk}-score" value="{typed}"' in page or typed == ""
    assert "Kept words" in page
    assert _score(acme, aspirational_kr) is None


def test_one_kr_saves_alone_without_javascript(
    login, carol, scoring, committed_kr, aspirational_kr, acme
):
    data = {
        "only": str(aspirational_kr.pk),
        **_fields(aspirational_kr, "0.5", worked="Good partner"),
        # The other row's (incomplete) input is not saved and not judged.
        **_fields(committed_kr, "0.2"),
    }
    response = login(carol).post(url("my_scoring", acme, cycle_id=scoring.pk), data)
    assert response.status_code == 302
    assert response.url.endswith(f"#kr-{aspirational_kr.pk}")
    assert _score(acme, aspirational_kr).score == D("0.5")
    assert _score(acme, committed_kr) is None


def test_one_kr_saves_through_htmx_and_the_summary_follows(
    login, carol, scoring, committed_kr, aspirational_kr, acme
):
    client = login(carol)
    target = url("my_scoring_save", acme, cycle_id=scoring.pk, kr_id=committed_kr.pk)
    response = client.post(target, _fields(committed_kr, "0.4", worked="Tried hard"), **HTMX)
    assert response.status_code == 400
    page = text(response)
    assert page.lstrip().startswith("<section")  # the row, not the page
    assert f'id="kr-{committed_kr.pk}"' in page and "<html" not in page
    assert "Choose the main reason it fell short." in page
    assert "Tried hard" in page and 'value="0.4"' in page

    data = _fields(committed_kr, "0.4", change="Start earlier", reason="blocked")
    response = client.post(target, data, **HTMX)
    assert response.status_code == 200
    page = squash(response)
    assert "Saved" in page and "score-band-yellow" in page
    assert 'id="scoring-summary"' in page and 'hx-swap-oob="true"' in page
    assert "1 of 2 scored." in page
    assert _score(acme, committed_kr).reason == "blocked"

    response = client.post(
        url("my_scoring_save", acme, cycle_id=scoring.pk, kr_id=aspirational_kr.pk),
        _fields(aspirational_kr, "0.7"),
        **HTMX,
    )
    assert "All scored. Thank you!" in squash(response)


def test_one_kr_plain_post_redirects_or_shows_the_page(login, carol, scoring, committed_kr, acme):
    client = login(carol)
    target = url("my_scoring_save", acme, cycle_id=scoring.pk, kr_id=committed_kr.pk)
    refused = client.post(target, _fields(committed_kr, "0.3", worked="Kept"))
    assert refused.status_code == 400
    assert "<html" in text(refused) and "Kept" in text(refused)
    saved = client.post(target, _fields(committed_kr, "1.0"))
    assert saved.status_code == 302 and saved.url.endswith(f"#kr-{committed_kr.pk}")
    assert _score(acme, committed_kr).score == D("1.0")


def test_nobody_scores_another_persons_key_result(
    login, alice, bob, carol, erin, scoring, committed_kr, acme
):
    target = url("my_scoring_save", acme, cycle_id=scoring.pk, kr_id=committed_kr.pk)
    for person in (bob, erin, alice):
        response = login(person).post(target, _fields(committed_kr, "1.0"))
        assert response.status_code == 403, person
    # Another's key result is not on one's own page either.
    response = login(erin).post(
        url("my_scoring", acme, cycle_id=scoring.pk),
        {"only": str(committed_kr.pk), **_fields(committed_kr, "1.0")},
    )
    assert response.status_code == 404
    assert _score(acme, committed_kr) is None


def test_a_private_key_result_is_404_and_another_cycles_too(
    login, alice, carol, erin, acme, cycle, scoring
):
    private = _objective(acme, carol, scoring, "Private", visibility="private")
    hidden = KeyResultFactory(objective=private, owner=carol)
    response = login(erin).post(
        url("my_scoring_save", acme, cycle_id=scoring.pk, kr_id=hidden.pk),
        _fields(hidden, "1.0"),
    )
    assert response.status_code == 404
    other = CycleFactory(organization=acme, state=CycleState.SCORING, name="Other")
    response = login(carol).post(
        url("my_scoring_save", acme, cycle_id=other.pk, kr_id=hidden.pk), _fields(hidden, "1.0")
    )
    assert response.status_code == 404


def test_before_scoring_the_page_explains_and_refuses_to_save(
    login, carol, cycle, committed_kr, acme
):
    client = login(carol)
    response = client.get(url("my_scoring", acme, cycle_id=cycle.pk))
    assert response.status_code == 200
    page = squash(response)
    assert "It opens when an admin moves Ending quarter to scoring" in page
    assert "<textarea" not in page and "Sign 10 pilot workshops" in page
    response = client.post(url("my_scoring", acme, cycle_id=cycle.pk), _fields(committed_kr, "1"))
    assert response.status_code == 400
    assert "Ending quarter is not in scoring" in text(response)
    response = client.post(
        url("my_scoring_save", acme, cycle_id=cycle.pk, kr_id=committed_kr.pk),
        _fields(committed_kr, "1"),
        **HTMX,
    )
    assert response.status_code == 400
    assert "Ending quarter is not in scoring" in text(response)
    assert _score(acme, committed_kr) is None


def test_a_closed_cycle_shows_the_scores_read_only(
    login, alice, bob, carol, scoring, committed_kr, aspirational_kr, acme
):
    record = services.score_submit(
        org=acme,
        by=carol,
        key_result=committed_kr,
        score=D("0.3"),
        what_worked="Prototype early",
        what_to_change="Fewer goals",
        reason="priorities_changed",
    )
    services.score_review(org=acme, by=bob, score=record, comment="Fair; let us plan it together")
    closed = _to(acme, alice, scoring, CycleState.CLOSED)
    response = login(carol).get(url("my_scoring", acme, cycle_id=closed.pk))
    page = squash(response)
    assert "Ending quarter is closed: these scores are final." in page
    assert "<textarea" not in page and "Save all" not in page
    assert "score-band-red" in page and "Priorities changed" in page and "Fewer goals" in page
    assert "Fair; let us plan it together" in page and "Bob Lin" in page
    assert "1 of 2 scored." in page and "Not scored" in page


def test_someone_without_key_results_is_told_so(login, erin, scoring, acme):
    response = login(erin).get(url("my_scoring", acme, cycle_id=scoring.pk))
    assert response.status_code == 200
    assert "You own no key results in Ending quarter." in text(response)


# --- Managers ------------------------------------------------------------------------------------


def test_the_manager_sees_the_teams_scores_and_who_has_not_scored(
    login, bob, carol, erin, engineering, scoring, committed_kr, aspirational_kr, acme
):
    services.score_submit(
        org=acme,
        by=carol,
        key_result=committed_kr,
        score=D("0.5"),
        what_worked="Demo days",
        what_to_change="Smaller batches",
        reason="blocked",
    )
    erin_kr = _kr(acme, erin, _objective(acme, erin, scoring, "Erin's"), "Erin's KR", 2)
    del erin_kr  # erin reports to bob: she shows as not scored yet
    response = login(bob).get(url("team_scoring", acme, cycle_id=scoring.pk))
    assert response.status_code == 200
    page = squash(response)
    assert "Carol Tsai" in page and "Erin Huang" in page
    assert "score-band-yellow" in page and "Blocked by a dependency" in page
    assert "Smaller batches" in page and "Demo days" in page
    assert "Below the expectation." in page
    assert "1 of 3" in page  # key results scored
    waiting = page.split('id="waiting-title"')[1].split("</section>")[0]
    assert "Carol Tsai" in waiting and "Erin Huang" in waiting
    assert "Comment for the owner" in page


def test_members_and_okr_masters_who_manage_nobody_get_403(login, carol, erin, scoring, acme):
    for person in (carol, erin):
        response = login(person).get(url("team_scoring", acme, cycle_id=scoring.pk))
        assert response.status_code == 403


def test_a_direct_manager_without_a_team_sees_their_reports(
    login, acme, alice, carol, scoring, committed_kr
):
    manager = MembershipFactory(organization=acme, role="member")
    carol.manager = manager
    carol.save(update_fields=["manager"])
    response = login(manager).get(url("team_scoring", acme, cycle_id=scoring.pk))
    assert response.status_code == 200
    assert "Sign 10 pilot workshops" in text(response)


def test_the_manager_comments_through_htmx_and_without_javascript(
    login, bob, carol, scoring, committed_kr, acme
):
    record = services.score_submit(org=acme, by=carol, key_result=committed_kr, score=D("1.0"))
    client = login(bob)
    target = url("team_scoring_comment", acme, cycle_id=scoring.pk, kr_id=committed_kr.pk)

    refused = client.post(target, {"comment": "   "}, **HTMX)
    assert refused.status_code == 400
    assert "Write a comment for the owner." in text(refused)
    assert text(refused).lstrip().startswith("<li")

    sent = client.post(target, {"comment": "Well earned"}, **HTMX)
    assert sent.status_code == 200
    assert "Comment sent to Carol Tsai." in text(sent) and "Well earned" in text(sent)
    record.refresh_from_db()
    assert (record.manager_comment, record.reviewed_by) == ("Well earned", bob)

    plain = client.post(target, {"comment": "Even better"})
    assert plain.status_code == 302 and plain.url.endswith(f"#score-{committed_kr.pk}")
    refused = client.post(target, {"comment": ""})
    assert refused.status_code == 400 and "<html" in text(refused)
    assert "Write a comment for the owner." in text(refused)

    # The owner reads it on their scoring page and on the key result's page.
    page = text(login(carol).get(url("my_scoring", acme, cycle_id=scoring.pk)))
    assert "Even better" in page
    page = text(login(carol).get(url("key_result_detail", acme, kr_id=committed_kr.pk)))
    assert "End-of-quarter score" in page and "Even better" in page


def test_only_the_owners_manager_comments(
    login, alice, bob, carol, erin, scoring, committed_kr, acme
):
    services.score_submit(org=acme, by=carol, key_result=committed_kr, score=D("1.0"))
    target = url("team_scoring_comment", acme, cycle_id=scoring.pk, kr_id=committed_kr.pk)
    for person in (carol, erin):
        assert login(person).post(target, {"comment": "Hm"}).status_code == 403
    assert login(alice).post(target, {"comment": "Admin note"}).status_code == 302
    # A score that does not exist yet cannot be commented on.
    other = _kr(acme, carol, committed_kr.objective, "Unscored", 1)
    target = url("team_scoring_comment", acme, cycle_id=scoring.pk, kr_id=other.pk)
    assert login(bob).post(target, {"comment": "Hm"}).status_code == 404


def test_an_outsider_gets_404(login, mallory, scoring, committed_kr, acme):
    client = login(mallory)
    for name, extra in (
        ("my_scoring", {}),
        ("team_scoring", {}),
        ("my_scoring_save", {"kr_id": committed_kr.pk}),
        ("team_scoring_comment", {"kr_id": committed_kr.pk}),
    ):
        response = client.post(url(name, acme, cycle_id=scoring.pk, **extra))
        assert response.status_code == 404, name


# --- Links from the cycle and key result pages ----------------------------------------------------


def test_the_cycle_page_calls_owners_to_score_and_managers_to_the_team(
    login, alice, bob, carol, erin, cycle, committed_kr, acme
):
    active = squash(login(carol).get(url("cycle_detail", acme, cycle_id=cycle.pk)))
    assert "Score your key results" not in active
    _to(acme, alice, cycle, CycleState.SCORING)
    page = squash(login(carol).get(url("cycle_detail", acme, cycle_id=cycle.pk)))
    assert "Scoring is open" in page and "You have scored 0 of your 1 key results." in page
    assert url("my_scoring", acme, cycle_id=cycle.pk) in page
    assert "Team scores" not in page
    page = squash(login(bob).get(url("cycle_detail", acme, cycle_id=cycle.pk)))
    assert "Team scores" in page and "Score your key results" not in page
    page = squash(login(erin).get(url("cycle_detail", acme, cycle_id=cycle.pk)))
    assert "Scoring is open" not in page and "Team scores" not in page


def test_the_key_result_page_shows_the_score_and_reflection(
    login, bob, carol, erin, scoring, committed_kr, acme
):
    kr_url = url("key_result_detail", acme, kr_id=committed_kr.pk)
    page = squash(login(carol).get(kr_url))
    assert "Score this key result" in page
    record = services.score_submit(
        org=acme,
        by=carol,
        key_result=committed_kr,
        score=D("0.6"),
        what_to_change="Plan pilots earlier",
        reason="too_ambitious",
    )
    services.score_review(org=acme, by=bob, score=record, comment="Private word for Carol")
    page = squash(login(erin).get(kr_url))
    assert "End-of-quarter score" in page and "score-band-yellow" in page
    assert "Plan pilots earlier" in page and "Target too ambitious" in page
    assert "Private word for Carol" not in page  # the manager's comment is for the owner
    assert "Change your score" not in page
    page = squash(login(carol).get(kr_url))
    assert "Private word for Carol" in page and "Change your score" in page


# --- Query counts ---------------------------------------------------------------------------------


def _grow_team(acme, bob, engineering, cycle, size):
    """``size`` more people on bob's team, each with two key results, one of them scored."""
    for _ in range(size):
        person = MembershipFactory(organization=acme)
        TeamMembershipFactory(organization=acme, team=engineering, membership=person)
        objective = ObjectiveFactory(
            cycle=cycle, organization=acme, owner=person, level=Level.INDIVIDUAL
        )
        scored = KeyResultFactory(objective=objective)
        KeyResultFactory(objective=objective)
        KeyResultScore.objects.create(
            organization=acme,
            key_result=scored,
            score=D("0.5"),
            suggested=D("0.5"),
            what_worked="Steady",
            reason="blocked",
            scored_by=person,
            manager_comment="Noted",
            reviewed_by=bob,
        )


def _count(client, target) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(target)
    assert response.status_code == 200
    return len(queries)


def test_team_scores_take_the_same_queries_for_2_and_20_reports(
    login, acme, bob, engineering, django_assert_max_num_queries
):
    cycle = CycleFactory(organization=acme, state=CycleState.SCORING)
    client = login(bob)
    target = url("team_scoring", acme, cycle_id=cycle.pk)
    _grow_team(acme, bob, engineering, cycle, 1)  # with carol (no key results): 2 reports
    small = _count(client, target)
    _grow_team(acme, bob, engineering, cycle, 18)  # 20 reports
    with django_assert_max_num_queries(10):
        large = _count(client, target)
    assert large == small


def test_my_scoring_takes_the_same_queries_for_2_and_20_key_results(
    login, acme, carol, django_assert_max_num_queries
):
    cycle = CycleFactory(organization=acme, state=CycleState.SCORING)
    client = login(carol)
    target = url("my_scoring", acme, cycle_id=cycle.pk)

    def grow(n):
        for _ in range(n):
            objective = ObjectiveFactory(cycle=cycle, organization=acme, owner=carol)
            KeyResultFactory(objective=objective)

    grow(2)
    small = _count(client, target)
    grow(18)
    with django_assert_max_num_queries(10):
        large = _count(client, target)
    assert large == small
