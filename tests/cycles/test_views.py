"""OKR pages through their URLs, as each role of DESIGN.md's role table."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from cycles import services
from cycles.models import (
    Alignment,
    Cycle,
    CycleState,
    CycleTransition,
    Initiative,
    KeyResult,
    Level,
    Objective,
    ReviewStatus,
)
from cycles.quarters import fiscal_year_of
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name, org, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def text(response) -> str:
    return response.content.decode()


# --- The cast's OKRs ------------------------------------------------------------------------------


@pytest.fixture
def cycle(acme, alice):
    today = timezone.localdate()
    cycle = services.cycle_create(
        org=acme,
        by=alice,
        name="This quarter",
        start_date=today - timedelta(days=45),
        end_date=today + timedelta(days=45),
    )
    return services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="planning")


@pytest.fixture
def company(acme, alice, cycle):
    return services.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        title="Delight workshop owners",
        level=Level.COMPANY,
        owner=alice,
        mission_link="A helpful robot in every workshop",
        status="published",
    )


@pytest.fixture
def team_objective(acme, bob, cycle, engineering, company):
    objective = services.objective_create(
        org=acme,
        by=bob,
        cycle=cycle,
        title="Make setup effortless",
        level=Level.TEAM,
        team=engineering,
        owner=bob,
        aligned_to=[company],
    )
    _kr(
        acme,
        bob,
        objective,
        title="Cut setup time from 360 to 90 minutes",
        direction="decrease",
        start_value=D(360),
        target_value=D(90),
        current_value=D(225),
    )
    return objective


@pytest.fixture
def carol_objective(acme, carol, cycle, team_objective):
    objective = services.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Write the quick-start guide",
        level=Level.INDIVIDUAL,
        owner=carol,
        aligned_to=[team_objective],
    )
    _kr(
        acme,
        carol,
        objective,
        title="Grow guide readers from 0 to 100",
        start_value=D(0),
        target_value=D(100),
        current_value=D(120),
    )
    return objective


@pytest.fixture
def dave(acme):
    """A member on no team: reads public OKRs, edits nobody's."""
    user = UserFactory(email="dave@acme.example", full_name="Dave Wu")
    return MembershipFactory(organization=acme, user=user)


def _kr(org, by, objective, **fields):
    fields.setdefault("title", "Grow NPS from 20 to 50")
    fields.setdefault("owner", by)
    if fields.get("kind") != "milestone" and "stay" not in fields.get("direction", ""):
        fields.setdefault("start_value", D(20))
        fields.setdefault("target_value", D(50))
    return services.key_result_create(org=org, by=by, objective=objective, **fields)


def _objective_post(**overrides):
    data = {
        "title": "Ship a delightful unboxing",
        "description": "",
        "why_it_matters": "",
        "mission_link": "",
        "level": "3",
        "team": "",
        "owner": "",
        "type": "committed",
        "visibility": "public",
        "status": "draft",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _kr_post(**overrides):
    data = {
        "title": "Grow weekly active workshops from 40 to 90",
        "owner": "",
        "kind": "number",
        "currency": "",
        "direction": "increase",
        "start_value": "40",
        "target_value": "90",
        "lower_bound": "",
        "upper_bound": "",
        "current_value": "",
        "unit": "workshops",
        "weight": "1",
        "confidence": "5",
    }
    data.update(overrides)
    return data


# --- Cycles ---------------------------------------------------------------------------------------


def test_cycle_list_shows_cycles_and_admin_forms_only_to_admins(login, alice, carol, cycle, acme):
    page = text(login(alice).get(url("cycle_list", acme)))
    assert "This quarter" in page and "Planning" in page
    assert "Generate Q1–Q4 for fiscal year" in page  # noqa: RUF001
    assert url("cycle_create", acme) in page
    page = text(login(carol).get(url("cycle_list", acme)))
    assert "This quarter" in page
    assert "Generate Q1–Q4" not in page  # noqa: RUF001
    assert url("cycle_create", acme) not in page


def test_admin_generates_the_quarters_of_a_fiscal_year(login, alice, acme):
    response = login(alice).post(url("cycle_generate", acme), {"fiscal_year": "2027"})
    assert response.status_code == 302
    names = sorted(Cycle.objects.for_org(acme).values_list("name", flat=True))
    assert names == ["2027 Q1", "2027 Q2", "2027 Q3", "2027 Q4"]
    page = text(login(alice).get(response.url))
    assert "Created 4 draft cycles" in page


def test_the_suggested_year_skips_a_year_generated_in_another_language(login, alice, acme):
    today = timezone.localtime(timezone.now(), acme.zoneinfo).date()
    year = fiscal_year_of(today, acme.fiscal_year_start_month)
    with translation.override("zh-hant"):
        services.cycle_generate_quarters(org=acme, by=alice, fiscal_year=year)
    page = text(login(alice).get(url("cycle_list", acme)))
    assert 'name="fiscal_year"' in page
    assert f'value="{year + 1}"' in page
    response = login(alice).post(url("cycle_generate", acme), {"fiscal_year": str(year)})
    assert response.status_code == 302
    assert Cycle.objects.for_org(acme).count() == 4


def test_a_year_out_of_range_is_refused_with_the_year_kept(login, alice, acme):
    response = login(alice).post(url("cycle_generate", acme), {"fiscal_year": "1999"})
    assert response.status_code == 400
    assert 'value="1999"' in text(response)
    assert not Cycle.objects.for_org(acme).exists()


def test_admin_creates_a_pilot_cycle_for_chosen_teams(login, alice, acme, engineering):
    response = login(alice).post(
        url("cycle_create", acme),
        {
            "name": "Pilot 2026",
            "start_date": "2026-04-01",
            "end_date": "2026-06-30",
            "is_pilot": "on",
            "pilot_teams": [engineering.pk],
            "scoring_deadline": "2026-07-10",
        },
    )
    assert response.status_code == 302
    cycle = Cycle.objects.for_org(acme).get()
    assert cycle.is_pilot and [link.team for link in cycle.pilot_links.all()] == [engineering]
    page = text(login(alice).get(response.url))
    assert "Pilot" in page and "Engineering" in page


def test_a_cycle_that_ends_before_it_starts_is_refused_with_input_kept(login, alice, acme):
    response = login(alice).post(
        url("cycle_create", acme),
        {"name": "Backwards", "start_date": "2026-06-30", "end_date": "2026-04-01"},
    )
    assert response.status_code == 400
    page = text(response)
    assert "The cycle must end after it starts." in page
    assert 'value="Backwards"' in page and 'value="2026-06-30"' in page


def test_cycle_administration_is_403_for_everyone_but_admins(
    login, client, bob, carol, erin, cycle, acme
):
    for person in (bob, carol, erin):
        login(person)
        assert client.post(url("cycle_generate", acme), {"fiscal_year": "2027"}).status_code == 403
        assert client.post(url("cycle_create", acme), {"name": "x"}).status_code == 403
        assert client.get(url("cycle_edit", acme, cycle_id=cycle.pk)).status_code == 403
        move = url("cycle_transition", acme, cycle_id=cycle.pk, to_state="active")
        assert client.get(move).status_code == 403
        assert client.post(move).status_code == 403
        carry = url("cycle_carry_over", acme, cycle_id=cycle.pk)
        assert client.post(carry, {"from_cycle": cycle.pk}).status_code == 403
    cycle.refresh_from_db()
    assert cycle.state == CycleState.PLANNING


def test_cycle_overview(login, alice, carol, cycle, company, team_objective, carol_objective, acme):
    services.review_submit(org=acme, by=alice, objective=team_objective, decision="approved")
    page = text(login(carol).get(url("cycle_detail", acme, cycle_id=cycle.pk)))
    assert "Expected progress today" in page
    assert "Delight workshop owners" in page
    assert "Engineering" in page  # review counts per team
    assert "Approved" in page and "Not reviewed" in page
    assert "Alice Chen" in page  # moved it to planning
    assert url("cycle_transition", acme, cycle_id=cycle.pk, to_state="active") not in page
    admin_page = text(login(alice).get(url("cycle_detail", acme, cycle_id=cycle.pk)))
    assert url("cycle_transition", acme, cycle_id=cycle.pk, to_state="active") in admin_page
    assert url("cycle_carry_over", acme, cycle_id=cycle.pk) in admin_page
    assert url("cycle_edit", acme, cycle_id=cycle.pk) in admin_page


def test_moving_a_cycle_asks_for_confirmation_then_records_who(login, alice, cycle, acme):
    move = url("cycle_transition", acme, cycle_id=cycle.pk, to_state="active")
    page = text(login(alice).get(move))
    assert "weekly check-ins begin" in page
    cycle.refresh_from_db()
    assert cycle.state == CycleState.PLANNING  # GET changes nothing
    response = login(alice).post(move)
    assert response.status_code == 302
    cycle.refresh_from_db()
    assert cycle.state == CycleState.ACTIVE
    last = CycleTransition.objects.for_org(acme).filter(cycle=cycle).first()
    assert (last.from_state, last.to_state, last.by) == ("planning", "active", alice)


def test_activating_without_a_mission_says_so_and_links_to_the_settings(login, alice, cycle, acme):
    acme.mission = ""
    acme.save()
    move = url("cycle_transition", acme, cycle_id=cycle.pk, to_state="active")
    assert url("org_mission", acme) in text(login(alice).get(move))
    response = login(alice).post(move)
    assert response.status_code == 400
    page = text(response)
    assert "mission and vision before activating" in page
    assert f'href="{url("org_mission", acme)}"' in page
    cycle.refresh_from_db()
    assert cycle.state == CycleState.PLANNING


def test_an_unknown_or_impossible_state(login, alice, cycle, acme):
    login(alice)
    assert (
        login(alice)
        .get(url("cycle_transition", acme, cycle_id=cycle.pk, to_state="nonsense"))
        .status_code
        == 404
    )
    response = login(alice).post(
        url("cycle_transition", acme, cycle_id=cycle.pk, to_state="closed")
    )
    assert response.status_code == 400
    assert "cannot move to Closed" in text(response)


def test_a_closed_cycle_is_frozen(login, alice, bob, cycle, team_objective, acme):
    for state in ("active", "scoring", "closed"):
        services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    frozen = "its values are frozen and can no longer change"
    response = login(alice).post(
        url("cycle_edit", acme, cycle_id=cycle.pk),
        {"name": "Renamed", "start_date": "2026-01-01", "end_date": "2026-03-31"},
    )
    assert response.status_code == 400 and frozen in text(response)
    kr = team_objective.key_results.get()
    response = login(bob).post(
        url("key_result_edit", acme, kr_id=kr.pk),
        _kr_post(title="Changed", version=kr.version, owner=bob.pk),
    )
    assert response.status_code == 400 and frozen in text(response)
    kr.refresh_from_db()
    assert kr.title != "Changed"
    page = text(login(bob).get(url("objective_detail", acme, objective_id=team_objective.pk)))
    assert url("objective_edit", acme, objective_id=team_objective.pk) not in page
    assert url("key_result_edit", acme, kr_id=kr.pk) not in page
    assert frozen in text(login(bob).get(url("key_result_edit", acme, kr_id=kr.pk)))


def test_carry_over_copies_unfinished_key_results(login, alice, acme, cycle, team_objective):
    next_cycle = services.cycle_create(
        org=acme,
        by=alice,
        name="Next quarter",
        start_date=cycle.end_date + timedelta(days=1),
        end_date=cycle.end_date + timedelta(days=91),
    )
    response = login(alice).post(
        url("cycle_carry_over", acme, cycle_id=next_cycle.pk), {"from_cycle": cycle.pk}
    )
    assert response.status_code == 302
    copy = KeyResult.objects.for_org(acme).in_cycle(next_cycle).get()
    assert copy.carried_from == team_objective.key_results.get()
    assert "Carried 1 unfinished key result over" in text(login(alice).get(response.url))
    response = login(alice).post(
        url("cycle_carry_over", acme, cycle_id=next_cycle.pk), {"from_cycle": next_cycle.pk}
    )
    assert response.status_code == 400


# --- Objectives -----------------------------------------------------------------------------------


def test_the_new_objective_form_is_prefilled_from_the_link(login, bob, cycle, engineering, acme):
    page = text(
        login(bob).get(url("objective_create", acme) + f"?cycle={cycle.pk}&team=engineering")
    )
    assert f'<option value="{engineering.pk}" selected>Engineering</option>' in page
    assert '<option value="2" selected>Team</option>' in page
    assert f'name="cycle" value="{cycle.pk}"' in page


def test_a_member_writes_an_individual_objective_aligned_upward(
    login, carol, cycle, team_objective, company, acme
):
    response = login(carol).post(
        url("objective_create", acme),
        _objective_post(cycle=cycle.pk, owner=carol.pk, aligned_to=[team_objective.pk]),
    )
    assert response.status_code == 302
    objective = Objective.objects.for_org(acme).get(title="Ship a delightful unboxing")
    assert objective.owner == carol and objective.cycle == cycle
    assert list(objective.aligned_to.all()) == [team_objective]


def test_bad_input_is_400_with_field_errors_and_everything_typed_kept(login, alice, cycle, acme):
    response = login(alice).post(
        url("objective_create", acme),
        _objective_post(
            cycle=cycle.pk, level="1", owner=alice.pk, why_it_matters="Because customers ask"
        ),
    )
    assert response.status_code == 400
    page = text(response)
    assert "Say which part of the mission this company objective serves." in page
    assert 'value="Ship a delightful unboxing"' in page
    assert "Because customers ask</textarea>" in page
    assert not Objective.objects.for_org(acme).exists()


def test_aligning_downward_is_refused_inline(login, bob, cycle, carol_objective, engineering, acme):
    response = login(bob).post(
        url("objective_create", acme),
        _objective_post(
            cycle=cycle.pk,
            level="2",
            team=engineering.pk,
            owner=bob.pk,
            aligned_to=[carol_objective.pk],
        ),
    )
    # Individual objectives are not offered as parents at all.
    assert response.status_code == 400
    assert "Select a valid choice" in text(response)


NOT_IDS = (str(2**63), "9" * 30, "-99999999999999999999", "-1", "1.5", "abc", "١٢", " ")


@pytest.mark.parametrize("bad", NOT_IDS)
def test_an_objective_with_something_not_an_id_for_a_parent_or_owner_is_400_with_input_kept(
    bad, login, alice, bob, cycle, company, team_objective, engineering, acme
):
    client = login(bob)
    for field in ("aligned_to", "owner", "team"):
        data = {"cycle": cycle.pk, "level": "2", "team": engineering.pk, "owner": bob.pk}
        data |= {"aligned_to": [company.pk, bad]} if field == "aligned_to" else {field: bad}
        response = client.post(url("objective_create", acme), _objective_post(**data))
        assert response.status_code == 400, (field, bad)
        page = text(response)
        assert "Select a valid choice" in page, (field, bad)
        assert 'value="Ship a delightful unboxing"' in page
    assert not Objective.objects.for_org(acme).filter(title="Ship a delightful unboxing").exists()
    # Editing: the same refusal, and the objective is left as it was.
    edit = url("objective_edit", acme, objective_id=team_objective.pk)
    for field in ("aligned_to", "owner", "team"):
        data = {"level": "2", "team": engineering.pk, "owner": bob.pk, "version": "1"}
        data |= {"aligned_to": [company.pk, bad]} if field == "aligned_to" else {field: bad}
        response = client.post(edit, _objective_post(**data))
        assert response.status_code == 400, (field, bad)
        page = text(response)
        assert "Select a valid choice" in page, (field, bad)
        assert 'value="Ship a delightful unboxing"' in page
    team_objective.refresh_from_db()
    assert team_objective.title == "Make setup effortless" and team_objective.version == 1


@pytest.mark.parametrize("bad", NOT_IDS)
def test_a_cycle_with_something_not_an_id_for_a_pilot_team_is_400_with_input_kept(
    bad, login, alice, acme, engineering
):
    data = {
        "name": "Pilot 2026",
        "start_date": "2026-04-01",
        "end_date": "2026-06-30",
        "is_pilot": "on",
        "pilot_teams": [engineering.pk, bad],
    }
    response = login(alice).post(url("cycle_create", acme), data)
    assert response.status_code == 400
    page = text(response)
    assert "Select a valid choice" in page
    assert 'value="Pilot 2026"' in page
    today = timezone.localdate()
    cycle = services.cycle_create(
        org=acme, by=alice, name="Q", start_date=today, end_date=today + timedelta(days=90)
    )
    settings = url("cycle_edit", acme, cycle_id=cycle.pk)
    response = login(alice).post(settings, data | {"name": "Q"})
    assert response.status_code == 400
    assert "Select a valid choice" in text(response)
    cycle.refresh_from_db()
    assert not cycle.is_pilot


def test_a_move_that_would_break_an_alignment_is_refused_inline_with_the_input_kept(
    login, bob, cycle, team_objective, carol_objective, company, acme
):
    # Bob moves the team objective down to individual, keeping its link to the company's,
    # and renames it: carol's would no longer be below it.
    response = login(bob).post(
        url("objective_edit", acme, objective_id=team_objective.pk),
        _objective_post(
            title="Renamed while moving",
            level="3",
            owner=bob.pk,
            version="1",
            aligned_to=[company.pk],
        ),
    )
    assert response.status_code == 400
    page = text(response)
    assert "“Write the quick-start guide” contributes to this objective" in page
    assert 'value="Renamed while moving"' in page
    team_objective.refresh_from_db()
    assert (team_objective.level, team_objective.title) == (Level.TEAM, "Make setup effortless")
    assert Alignment.objects.for_org(acme).filter(parent=team_objective).count() == 1


def test_a_member_cannot_write_a_team_objective(login, carol, cycle, engineering, acme):
    response = login(carol).post(
        url("objective_create", acme),
        _objective_post(cycle=cycle.pk, level="2", team=engineering.pk, owner=carol.pk),
    )
    assert response.status_code == 403
    assert 'value="Ship a delightful unboxing"' in text(response)
    assert not Objective.objects.for_org(acme).filter(level=Level.TEAM).exists()


def test_objective_page(login, alice, bob, carol, erin, team_objective, carol_objective, acme):
    kr = carol_objective.key_results.get()
    Initiative.objects.create(organization=acme, key_result=kr, title="Draft", status="done")
    services.objective_update(
        org=acme,
        by=carol,
        objective=carol_objective,
        expected_version=None,
        title="Write the best quick-start guide",
    )
    services.review_submit(
        org=acme,
        by=erin,
        objective=carol_objective,
        decision="changes_requested",
        comment="Add a second key result about support tickets.",
    )
    page = text(login(bob).get(url("objective_detail", acme, objective_id=carol_objective.pk)))
    assert "Write the best quick-start guide" in page
    assert "120 %" in page and "capped 100 %" in page  # raw and capped
    assert "Draft" in page  # its initiative
    assert url("objective_detail", acme, objective_id=team_objective.pk) in page  # aligned up
    assert "Has 1 key results; aim for 2 to 5." in page  # quality finding
    assert "Add a second key result about support tickets." in page  # review history
    # History: who, what, old → new.
    assert "Carol Tsai" in page
    assert "Write the quick-start guide</del>" in page
    assert "Write the best quick-start guide</ins>" in page
    assert "Not reviewed</del>" in page and "Changes requested</ins>" in page
    up = text(login(bob).get(url("objective_detail", acme, objective_id=team_objective.pk)))
    assert url("objective_detail", acme, objective_id=carol_objective.pk) in up  # aligned down


def test_initiatives_all_done_while_the_kr_trails_are_flagged(login, bob, team_objective, acme):
    kr = team_objective.key_results.get()
    services.key_result_update(
        org=acme, by=bob, key_result=kr, expected_version=None, current_value=D(350)
    )
    Initiative.objects.create(organization=acme, key_result=kr, title="New manual", status="done")
    flag = "Every initiative is done, yet this key result is below where it should be"
    assert flag in text(
        login(bob).get(url("objective_detail", acme, objective_id=team_objective.pk))
    )
    assert flag in text(login(bob).get(url("key_result_detail", acme, kr_id=kr.pk)))


@pytest.fixture
def private_objective(acme, carol, cycle, engineering, team_objective):
    objective = services.objective_create(
        org=acme,
        by=carol,
        cycle=cycle,
        title="Secret career plan",
        level=Level.INDIVIDUAL,
        owner=carol,
        team=engineering,
        visibility="private",
        aligned_to=[team_objective],
    )
    _kr(
        acme,
        carol,
        objective,
        title="Read 12 leadership books",
        start_value=D(0),
        target_value=D(12),
    )
    return objective


def test_a_private_objective_is_404_for_others_and_blank_in_the_tree(
    login, client, alice, bob, carol, erin, dave, cycle, private_objective, acme
):
    kr = private_objective.key_results.get()
    pages = [
        url("objective_detail", acme, objective_id=private_objective.pk),
        url("objective_edit", acme, objective_id=private_objective.pk),
        url("key_result_detail", acme, kr_id=kr.pk),
        url("key_result_edit", acme, kr_id=kr.pk),
        url("key_result_create", acme, objective_id=private_objective.pk),
    ]
    for person in (dave, erin):
        login(person)
        assert [client.get(page).status_code for page in pages] == [404] * 5
        assert (
            client.post(
                url("objective_delete", acme, objective_id=private_objective.pk)
            ).status_code
            == 404
        )
        tree = text(client.get(url("alignment_tree", acme, cycle_id=cycle.pk)))
        assert "Private objective" in tree
        assert "Secret career plan" not in tree and "leadership books" not in tree
        person_page = text(client.get(url("person_okrs", acme, membership_id=carol.pk)))
        assert "Private objective" in person_page and "Secret career plan" not in person_page
    login(erin)  # the OKR Master sees its place in the queue, not its content
    queue = text(client.get(url("review_queue", acme, cycle_id=cycle.pk)))
    assert "Private objective" in queue and "Secret career plan" not in queue
    review = url("objective_review", acme, objective_id=private_objective.pk)
    assert client.post(review, {"decision": "approved"}).status_code == 404
    for person in (carol, bob, alice):  # owner, the team's manager, admin
        login(person)
        assert client.get(pages[0]).status_code == 200
        assert "Secret career plan" in text(
            client.get(url("alignment_tree", acme, cycle_id=cycle.pk))
        )


def test_editing_follows_the_role_table(
    login, client, alice, bob, carol, erin, dave, company, team_objective, carol_objective, acme
):
    def status(person, objective):
        login(person)
        return client.get(url("objective_edit", acme, objective_id=objective.pk)).status_code

    # Member: own objectives only.
    assert status(carol, carol_objective) == 200
    assert status(carol, team_objective) == 403
    assert status(dave, carol_objective) == 403
    # Manager: the team's objectives and their reports'.
    assert status(bob, team_objective) == 200
    assert status(bob, carol_objective) == 200
    assert status(bob, company) == 403
    # OKR Master reviews but does not edit others' OKRs.
    assert status(erin, carol_objective) == 403
    # Admin: everything.
    assert all(status(alice, o) == 200 for o in (company, team_objective, carol_objective))
    # Buttons follow the same rules.
    login(dave)
    page = text(client.get(url("objective_detail", acme, objective_id=carol_objective.pk)))
    assert url("objective_edit", acme, objective_id=carol_objective.pk) not in page
    login(carol)
    page = text(client.get(url("objective_detail", acme, objective_id=carol_objective.pk)))
    assert url("objective_edit", acme, objective_id=carol_objective.pk) in page


def test_a_stale_objective_edit_shows_the_newer_values_and_keeps_the_typed_ones(
    login, bob, carol, team_objective, carol_objective, acme
):
    edit = url("objective_edit", acme, objective_id=carol_objective.pk)
    form = login(carol).get(edit)
    assert 'name="version" value="1"' in text(form)
    services.objective_update(
        org=acme,
        by=bob,
        objective=carol_objective,
        expected_version=1,
        title="Bob's better title",
    )
    data = _objective_post(
        title="Carol's own title", owner=carol.pk, version="1", aligned_to=[team_objective.pk]
    )
    response = login(carol).post(edit, data)
    assert response.status_code == 409
    page = text(response)
    assert "changed since you opened it" in page
    assert 'value="Carol&#x27;s own title"' in page  # what she typed
    assert "Bob&#x27;s better title" in page  # what Bob saved meanwhile
    assert 'name="version" value="2"' in page
    carol_objective.refresh_from_db()
    assert carol_objective.title == "Bob's better title"
    # Saving again on purpose overwrites.
    assert login(carol).post(edit, {**data, "version": "2"}).status_code == 302
    carol_objective.refresh_from_db()
    assert carol_objective.title == "Carol's own title"


def test_an_objective_of_a_planning_cycle_is_deleted_and_of_a_running_one_refused(
    login, alice, carol, cycle, carol_objective, acme
):
    delete = url("objective_delete", acme, objective_id=carol_objective.pk)
    assert login(carol).get(delete).status_code == 405
    services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state="active")
    response = login(carol).post(delete)
    assert response.status_code == 302
    assert "archived, not deleted" in text(login(carol).get(response.url))
    assert Objective.objects.for_org(acme).filter(pk=carol_objective.pk).exists()
    cycle.state = "planning"
    cycle.save()
    response = login(carol).post(delete)
    assert response.status_code == 302
    assert not Objective.objects.for_org(acme).filter(pk=carol_objective.pk).exists()


# --- Key results and initiatives ------------------------------------------------------------------


def test_a_key_result_is_created_with_decimal_values(login, carol, carol_objective, acme):
    response = login(carol).post(
        url("key_result_create", acme, objective_id=carol_objective.pk),
        _kr_post(owner=carol.pk, start_value="12.5", target_value="20.25", current_value="13.75"),
    )
    assert response.status_code == 302
    kr = KeyResult.objects.for_org(acme).get(title__startswith="Grow weekly")
    assert (kr.start_value, kr.target_value, kr.current_value) == (
        D("12.5"),
        D("20.25"),
        D("13.75"),
    )
    assert kr.progress == D("0.1613")  # 1.25 / 7.75


def test_start_equal_to_target_is_refused_and_the_input_kept(login, carol, carol_objective, acme):
    response = login(carol).post(
        url("key_result_create", acme, objective_id=carol_objective.pk),
        _kr_post(owner=carol.pk, start_value="40", target_value="40"),
    )
    assert response.status_code == 400
    page = text(response)
    assert "The target equals the start" in page
    assert 'value="Grow weekly active workshops from 40 to 90"' in page
    assert 'value="workshops"' in page


def test_a_stay_between_key_result_needs_its_bounds(login, carol, carol_objective, acme):
    response = login(carol).post(
        url("key_result_create", acme, objective_id=carol_objective.pk),
        _kr_post(owner=carol.pk, direction="stay_between", start_value="", target_value=""),
    )
    assert response.status_code == 400
    assert "Give the lower bound." in text(response)


def test_a_stale_key_result_edit_is_refused_with_the_newer_values(
    login, bob, carol, carol_objective, acme
):
    kr = carol_objective.key_results.get()
    edit = url("key_result_edit", acme, kr_id=kr.pk)
    assert 'name="version" value="1"' in text(login(carol).get(edit))
    services.key_result_update(
        org=acme, by=bob, key_result=kr, expected_version=1, current_value=D("64.5")
    )
    data = _kr_post(
        title=kr.title,
        owner=carol.pk,
        start_value="0",
        target_value="100",
        current_value="70",
        confidence="8",
        version="1",
        unit="",
    )
    response = login(carol).post(edit, data)
    assert response.status_code == 409
    page = text(response)
    assert "changed since you opened it" in page
    assert 'name="current_value" value="70"' in page  # what she typed
    assert "64.5" in page  # what Bob saved
    kr.refresh_from_db()
    assert kr.current_value == D("64.5") and kr.version == 2


def test_the_owner_of_a_key_result_may_edit_it_but_not_delete_it(
    login, bob, carol, team_objective, acme
):
    kr = _kr(acme, bob, team_objective, owner=carol, title="Grow docs visits from 20 to 50")
    assert login(carol).get(url("key_result_edit", acme, kr_id=kr.pk)).status_code == 200
    assert login(carol).post(url("key_result_delete", acme, kr_id=kr.pk)).status_code == 403
    assert login(bob).post(url("key_result_delete", acme, kr_id=kr.pk)).status_code == 302
    assert not KeyResult.objects.for_org(acme).filter(pk=kr.pk).exists()


def test_initiatives_are_added_inline_with_htmx(login, carol, carol_objective, acme):
    kr = carol_objective.key_results.get()
    client = login(carol)
    response = client.post(
        url("initiative_create", acme, kr_id=kr.pk),
        {
            "title": "Record a video",
            "status": "in_progress",
            "owner": carol.pk,
            "backlog_url": "https://tracker.example/ENG-12",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    page = text(response)
    assert "<html" not in page and 'id="initiatives"' in page and "Record a video" in page
    initiative = Initiative.objects.for_org(acme).get()
    # The inline status change sends only the status; the rest stays.
    response = client.post(
        url("initiative_edit", acme, initiative_id=initiative.pk),
        {"status": "done"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    initiative.refresh_from_db()
    assert (initiative.status, initiative.title, initiative.owner) == (
        "done",
        "Record a video",
        carol,
    )
    # Without JavaScript: back to the page.
    response = client.post(url("initiative_delete", acme, initiative_id=initiative.pk))
    assert response.status_code == 302 and response.url.endswith("#initiatives")
    assert not Initiative.objects.for_org(acme).exists()


def test_a_bad_initiative_is_400_with_the_input_kept(login, carol, carol_objective, acme):
    kr = carol_objective.key_results.get()
    response = login(carol).post(
        url("initiative_create", acme, kr_id=kr.pk),
        {"title": "Record a video", "status": "done", "backlog_url": "not a link"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert 'value="Record a video"' in text(response) and "Enter a valid URL." in text(response)


def test_initiatives_of_others_cannot_be_changed(login, dave, carol_objective, acme):
    kr = carol_objective.key_results.get()
    initiative = Initiative.objects.create(organization=acme, key_result=kr, title="Mine")
    login(dave)
    assert (
        login(dave)
        .post(url("initiative_create", acme, kr_id=kr.pk), {"title": "x", "status": "done"})
        .status_code
        == 403
    )
    assert (
        login(dave)
        .post(url("initiative_edit", acme, initiative_id=initiative.pk), {"status": "done"})
        .status_code
        == 403
    )
    assert (
        login(dave).post(url("initiative_delete", acme, initiative_id=initiative.pk)).status_code
        == 403
    )


# --- Review ---------------------------------------------------------------------------------------


def test_the_review_queue_is_for_okr_masters_and_admins(
    login, client, alice, bob, carol, erin, cycle, acme
):
    queue = url("review_queue", acme, cycle_id=cycle.pk)
    for person, expected in ((carol, 403), (bob, 403), (erin, 200), (alice, 200)):
        login(person)
        assert client.get(queue).status_code == expected
        assert client.get(url("review_current", acme)).status_code == (
            302 if expected == 200 else 403
        )


def test_the_review_queue_shows_quality_findings(login, erin, bob, carol, cycle, engineering, acme):
    orphan = services.objective_create(
        org=acme, by=carol, cycle=cycle, title="Tidy my desk", level=Level.INDIVIDUAL, owner=carol
    )
    _kr(acme, carol, orphan, title="Launch the new onboarding flow", kind="milestone")
    page = text(login(erin).get(url("review_queue", acme, cycle_id=cycle.pk)))
    assert "Tidy my desk" in page
    assert "Contributes to no higher objective (an orphan)." in page
    assert "Has 1 key results; aim for 2 to 5." in page
    assert "reads like a task, not an outcome" in page


def test_an_okr_master_requests_a_change_and_the_owner_sees_it(
    login, erin, carol, bob, cycle, carol_objective, acme
):
    review = url("objective_review", acme, objective_id=carol_objective.pk)
    response = login(erin).post(review, {"decision": "changes_requested", "comment": ""})
    assert response.status_code == 400
    assert "Say what should change" in text(response)
    response = login(erin).post(
        review,
        {"decision": "changes_requested", "comment": "Add a KR on support tickets."},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    page = text(response)
    assert f'id="objective-{carol_objective.pk}"' in page and 'hx-swap-oob="true"' in page
    carol_objective.refresh_from_db()
    assert carol_objective.review_status == ReviewStatus.CHANGES_REQUESTED
    own = text(login(carol).get(url("person_okrs", acme, membership_id=carol.pk)))
    assert "The OKR Master asked for a change" in own
    assert "Add a KR on support tickets." in own and "Erin Huang" in own
    # Others see the badge on her page, not the request panel.
    other = text(login(bob).get(url("person_okrs", acme, membership_id=carol.pk)))
    assert "Changes requested" in other and "asked for a change" not in other


def test_a_closed_cycle_offers_no_review_and_refuses_one_with_its_reason(
    login, alice, erin, cycle, carol_objective, acme
):
    for state in ("active", "scoring", "closed"):
        services.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    client = login(erin)
    queue = text(client.get(url("review_queue", acme, cycle_id=cycle.pk)))
    review = url("objective_review", acme, objective_id=carol_objective.pk)
    assert review not in queue
    detail = text(client.get(url("objective_detail", acme, objective_id=carol_objective.pk)))
    assert review not in detail
    for extra in ({}, {"from": "detail"}):
        response = client.post(review, {"decision": "approved", "comment": ""} | extra)
        assert response.status_code == 400
        assert "This quarter is closed; its values are frozen" in text(response)
    carol_objective.refresh_from_db()
    assert carol_objective.review_status == ReviewStatus.NOT_REVIEWED


def test_members_cannot_review(login, carol, bob, carol_objective, acme):
    review = url("objective_review", acme, objective_id=carol_objective.pk)
    for person in (carol, bob):
        assert login(person).post(review, {"decision": "approved"}).status_code == 403


# --- People and teams -----------------------------------------------------------------------------


def test_my_okrs_leads_to_my_page_for_the_current_cycle(login, carol, cycle, carol_objective, acme):
    response = login(carol).get(url("my_okrs", acme))
    assert response.status_code == 302
    assert response.url == url("person_okrs", acme, membership_id=carol.pk) + f"?cycle={cycle.pk}"
    page = text(login(carol).get(response.url))
    assert "My OKRs" in page and "Write the quick-start guide" in page
    assert "Grow guide readers from 0 to 100" in page


def test_a_teams_page_lists_its_objectives(login, dave, cycle, team_objective, engineering, acme):
    page = text(login(dave).get(url("team_okrs", acme, team_slug="engineering")))
    assert "Make setup effortless" in page and "Cut setup time" in page
    assert url("objective_create", acme) not in page  # dave does not manage it
    assert login(dave).get(url("team_okrs", acme, team_slug="nope")).status_code == 404
    assert (
        login(dave).get(url("team_okrs", acme, team_slug="engineering") + "?cycle=x").status_code
        == 404
    )


def test_a_tree_from_the_mission_down(
    login, carol, cycle, company, team_objective, carol_objective, acme
):
    page = text(login(carol).get(url("alignment_tree", acme, cycle_id=cycle.pk)))
    mission, top, middle, bottom = (
        page.index(acme.mission),
        page.index("Delight workshop owners"),
        page.index("Make setup effortless"),
        page.index("Write the quick-start guide"),
    )
    assert mission < top < middle < bottom
    assert "<details" in page and "<summary" in page
    assert "Orphan" not in page
    response = login(carol).get(url("alignment_current", acme))
    assert response.url == url("alignment_tree", acme, cycle_id=cycle.pk)


# --- Tenancy --------------------------------------------------------------------------------------


def test_another_organisations_member_gets_404_everywhere(
    login, client, mallory, cycle, carol, engineering, carol_objective, acme
):
    kr = carol_objective.key_results.get()
    initiative = Initiative.objects.create(organization=acme, key_result=kr, title="Mine")
    kwargs = {
        "cycle_id": cycle.pk,
        "objective_id": carol_objective.pk,
        "kr_id": kr.pk,
        "initiative_id": initiative.pk,
        "membership_id": carol.pk,
        "team_slug": "engineering",
        "to_state": "active",
    }
    from cycles.urls import urlpatterns

    login(mallory)
    for pattern in urlpatterns:
        needed = {k: kwargs[k] for k in pattern.pattern.converters}
        target = url(pattern.name, acme, **needed)
        assert client.get(target).status_code == 404, target
        assert client.post(target).status_code == 404, target
    # And their own organisation's ids in Acme's address are 404 too.
    assert Alignment.objects.for_org(acme).count() == 2


def test_history_keeps_an_objective_and_a_key_result_with_the_same_id_apart(
    login, bob, team_objective, acme
):
    from tests.cycles.factories import KeyResultFactory

    if KeyResult.objects.for_org(acme).filter(pk=team_objective.pk).exists():
        KeyResult.objects.for_org(acme).filter(pk=team_objective.pk).delete()
    KeyResultFactory(id=team_objective.pk, objective=team_objective, owner=bob, title="Twin id")
    services.objective_update(
        org=acme, by=bob, objective=team_objective, expected_version=None, title="Renamed"
    )
    page = text(login(bob).get(url("objective_detail", acme, objective_id=team_objective.pk)))
    assert "Make setup effortless</del>" in page and "Renamed</ins>" in page
    assert "created key result “Twin id”" in page


def _history_of(page: str) -> list[str]:
    """The entries of the page's change history, newest first."""
    return page[page.index('class="history"') :].split('<li class="history-entry')[1:]


ADDED = '<ins><span aria-hidden="true">+</span><span class="visually-hidden">added:</span> {}</ins>'
REMOVED = (
    '<del><span aria-hidden="true">−</span><span class="visually-hidden">removed:</span> {}</del>'  # noqa: RUF001
)


def test_the_history_shows_links_added_and_removed_with_private_parents_blanked(
    login, alice, bob, carol, cycle, company, team_objective, acme
):
    secret = services.objective_create(
        org=acme,
        by=alice,
        cycle=cycle,
        title="Secret expansion",
        level=Level.COMPANY,
        owner=alice,
        mission_link="m",
        visibility="private",
    )
    # One save: a new title, one link added, one removed. It is one entry of the history.
    services.objective_update(
        org=acme,
        by=alice,
        objective=team_objective,
        expected_version=1,
        title="Make setup a breeze",
        aligned_to=[secret],
    )
    records = list(Alignment.history.filter(organization_id=acme.pk, child_id=team_objective.pk))
    assert {(r.history_type, r.parent_id, r.history_user_id) for r in records} == {
        ("+", company.pk, bob.user_id),  # when bob created it
        ("+", secret.pk, alice.user_id),
        ("-", company.pk, alice.user_id),
    }
    objective_moments = set(team_objective.history.values_list("history_date", flat=True))
    assert {r.history_date for r in records} <= objective_moments

    # Carol reads the team objective but not the private company one.
    history = _history_of(
        text(login(carol).get(url("objective_detail", acme, objective_id=team_objective.pk)))
    )
    assert not any("Secret expansion" in entry for entry in history)
    latest = history[0]
    assert "Alice Chen" in latest and "changed the objective" in latest
    assert "Make setup a breeze</ins>" in latest
    assert "Contributes to" in latest
    assert ADDED.format("a private objective") in latest
    assert REMOVED.format("Delight workshop owners") in latest
    # Bob's creation of it, with the link it was created with.
    (created,) = [entry for entry in history if "created the objective" in entry]
    assert "Bob Lin" in created and ADDED.format("Delight workshop owners") in created
    assert not any("Contributes to" in entry for entry in history if entry not in (latest, created))

    # An admin reads the private one's title.
    history = _history_of(
        text(login(alice).get(url("objective_detail", acme, objective_id=team_objective.pk)))
    )
    assert ADDED.format("Secret expansion") in history[0]


def test_the_owner_of_a_team_objective_edits_it_without_managing_the_team(
    login, bob, carol, cycle, engineering, company, acme
):
    objective = services.objective_create(
        org=acme,
        by=bob,
        cycle=cycle,
        title="Docs everyone finds",
        level=Level.TEAM,
        team=engineering,
        owner=carol,
        aligned_to=[company],
    )
    edit = url("objective_edit", acme, objective_id=objective.pk)
    data = _objective_post(
        title="Docs everyone finds and reads",
        level="2",
        team=engineering.pk,
        owner=carol.pk,
        version="1",
        aligned_to=[company.pk],
    )
    assert login(carol).post(edit, data).status_code == 302
    objective.refresh_from_db()
    assert objective.title == "Docs everyone finds and reads"
    # Handing it to someone else, or moving it up a level, is not hers to do.
    response = login(carol).post(edit, {**data, "version": "2", "owner": bob.pk})
    assert response.status_code == 403
    assert "Only the team&#x27;s managers and admins write its objectives." in text(response)
    assert 'value="Docs everyone finds and reads"' in text(response)
    response = login(bob).post(
        edit, {**data, "version": "2", "level": "1", "mission_link": "Everything"}
    )
    assert response.status_code == 403 and "Only admins write company objectives." in text(response)
    objective.refresh_from_db()
    assert (objective.owner, objective.level) == (carol, Level.TEAM)


def test_every_page_renders_in_traditional_chinese(
    login, client, alice, cycle, engineering, carol_objective, acme
):
    alice.language = "zh-hant"
    alice.save(update_fields=["language"])
    kr = carol_objective.key_results.get()
    login(alice)
    for name, kwargs in [
        ("cycle_list", {}),
        ("cycle_detail", {"cycle_id": cycle.pk}),
        ("cycle_edit", {"cycle_id": cycle.pk}),
        ("cycle_transition", {"cycle_id": cycle.pk, "to_state": "active"}),
        ("alignment_tree", {"cycle_id": cycle.pk}),
        ("review_queue", {"cycle_id": cycle.pk}),
        ("person_okrs", {"membership_id": carol_objective.owner_id}),
        ("team_okrs", {"team_slug": engineering.slug}),
        ("objective_create", {}),
        ("objective_detail", {"objective_id": carol_objective.pk}),
        ("objective_edit", {"objective_id": carol_objective.pk}),
        ("key_result_create", {"objective_id": carol_objective.pk}),
        ("key_result_detail", {"kr_id": kr.pk}),
        ("key_result_edit", {"kr_id": kr.pk}),
    ]:
        response = client.get(url(name, acme, **kwargs))
        assert response.status_code == 200, name
        assert response.wsgi_request.LANGUAGE_CODE == "zh-hant"
