"""The tenancy rules of DESIGN.md: scoped reads, 404 for outsiders, 403 for wrong roles,
and the database refusing a row that links two organisations."""

import ast
import re
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from okrapp.models import Invitation, Membership, Team, TeamMembership
from okrapp.tenancy import UnscopedQueryError
from tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


# --- Scoped reads ---------------------------------------------------------------------------


def test_unscoped_tenant_queries_refuse_to_run(alice):
    for run in (
        lambda: list(Membership.objects.all()),
        lambda: Membership.objects.get(pk=alice.pk),
        lambda: Membership.objects.filter(pk=alice.pk).first(),
        lambda: Membership.objects.count(),
        lambda: Membership.objects.exists(),
        lambda: Membership.objects.filter(pk=alice.pk).update(role="member"),
        lambda: Membership.objects.filter(pk=alice.pk).delete(),
        lambda: Membership.objects.values_list("id", flat=True)[0],
        lambda: list(Team.objects.select_related("parent")),
    ):
        with pytest.raises(UnscopedQueryError):
            run()


def test_for_org_reads_only_that_organisation(alice, mallory, acme, globex):
    assert list(Membership.objects.for_org(acme)) == [alice]
    assert list(Membership.objects.for_org(globex.pk)) == [mallory]
    assert not Membership.objects.for_org(acme).filter(pk=mallory.pk).exists()
    # Scope survives chaining in any order.
    assert Membership.objects.filter(role="admin").for_org(acme).get() == alice


def test_relations_from_a_scoped_row_can_be_followed(engineering, bob, carol):
    members = {tm.membership for tm in engineering.team_memberships.all()}
    assert members == {bob, carol}
    assert list(bob.reports.all()) == [carol]


def test_framework_internals_use_the_unscoped_manager_and_app_code_the_scoped_one():
    from django.apps import apps

    from okrapp.tenancy import TenantModel, TenantQuerySet

    for model in apps.get_models():
        if issubclass(model, TenantModel):
            assert model._default_manager.name == "all_tenants", model
            assert isinstance(model.objects.all(), TenantQuerySet), model


#: Keyword arguments that scope a query to one organisation.
_ORG_FILTERS = {"organization", "organization_id"}


def _unscoped_history_queries(source: str) -> list[int]:
    """Lines of ``….history.<method>(…)`` chains with no ``organization_id=`` filter.

    django-simple-history's ``history`` manager is a plain manager: ``for_org`` does not
    guard it, so a query through it must name the organisation itself (a check-in's history
    read by the ids of a list is "ids within this organisation" only with it). The filter
    counts anywhere in the chain that starts at ``history``; ``….history.model`` (the
    historical class, not a query) is not a query.
    """
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    lines = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "history"
            and node.attr != "model"
        ):
            continue
        link, scoped = node, False
        while True:
            parent = parents.get(link)
            if isinstance(parent, ast.Call) and parent.func is link:
                scoped |= any(k.arg in _ORG_FILTERS for k in parent.keywords)
            elif not (isinstance(parent, ast.Attribute) and parent.value is link):
                break
            link = parent
        if not scoped:
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("CheckIn.history.filter(id__in=revised).filter(revision__lt=2)", True),
        ("h = (\n    CheckIn.history.filter(id__in=ids)\n    .order_by('-history_date')\n)", True),
        ("kr.history.select_related('history_user')", True),
        ("KeyResult.history.as_of(when)", True),
        ("Objective.history.filter(Q(organization_id=org.pk))", True),  # keyword only
        ("CheckIn.history.filter(organization_id=org.pk, id__in=revised)", False),
        ("KeyResult.history.filter(id=1).filter(organization=org).first()", False),
        ("kr.history.filter(organization_id=org.pk).select_related('history_user')", False),
        ("historical = model.history.model", False),
        ("if figures.history: points = figures.history", False),
        ("record.history_user.full_name", False),
    ],
)
def test_the_history_check_flags_queries_without_the_organisation(source, flagged):
    assert bool(_unscoped_history_queries(source)) is flagged


def test_app_code_does_not_bypass_the_scope():
    """``all_tenants`` is for framework internals; app code reads through ``for_org``, and
    reads history (not guarded by ``for_org``) with ``organization_id=`` in the query.

    Related managers (``kr.checkins``) are allowed: they start from a row already read
    inside its organisation (a static check cannot tell them from other attributes)."""
    allowed = {
        "okrapp/tenancy.py",  # defines it; resolves the membership the URL names
        "okrapp/services.py",  # an invitation link is opened by someone not yet a member
    }
    offenders = []
    for app in ("okrapp", "cycles", "checkins"):
        for path in (ROOT / app).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel:
                continue
            source = path.read_text()
            if rel not in allowed and re.search(
                r"\ball_tenants\b|_default_manager|_base_manager", source
            ):
                offenders.append(rel)
            offenders += [f"{rel}:{line} (history)" for line in _unscoped_history_queries(source)]
    assert offenders == []


# --- Requests ---------------------------------------------------------------------------------


def _tenant_patterns(resolver=None, prefix=""):
    """Every URL pattern whose route carries ``<org_slug>``, with its full route."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _tenant_patterns(entry, route)
        elif isinstance(entry, URLPattern) and "<slug:org_slug>" in route:
            yield route, entry


def _fill(route: str, values: dict[str, str]) -> str:
    """A concrete path for ``route``: path converters and DRF's regex groups alike."""

    def sub(match):
        name = match.group("name") or match.group("regex_name")
        if name not in values:
            raise AssertionError(f"No sample value for <{name}> in {route}; add one to the test.")
        return str(values[name])

    pattern = r"<(?:\w+:)?(?P<name>\w+)>|\(\?P<(?P<regex_name>\w+)>[^)]*\)"
    path = re.sub(pattern, sub, route)
    path = path.replace("^", "").replace("$", "").replace("\\", "")
    path = re.sub(r"\(\?:?[^)]*\)\??|\[[^]]*\][*+]?|[?*+]", "", path)
    return "/" + path


@pytest.fixture
def acme_ids(acme, alice, bob, carol, engineering):
    """Real ids of Acme's rows, one per URL parameter of the URLconf."""
    from datetime import date
    from decimal import Decimal

    from checkins import services as cadence
    from cycles import services as okr
    from okrapp import services as core

    invitation = Invitation.objects.create(
        organization=acme, email="new@acme.example", invited_by=alice
    )
    cycle = okr.cycle_create(
        org=acme, by=alice, name="Q", start_date=date(2026, 10, 1), end_date=date(2026, 12, 31)
    )
    for state in ("planning", "active"):
        okr.cycle_transition(org=acme, by=alice, cycle=cycle, to_state=state)
    objective = okr.objective_create(
        org=acme, by=carol, cycle=cycle, level=3, owner=carol, title="Acme secret objective"
    )
    kr = okr.key_result_create(
        org=acme,
        by=carol,
        objective=objective,
        owner=carol,
        title="Acme secret KR",
        start_value=Decimal(0),
        target_value=Decimal(10),
    )
    initiative = okr.initiative_save(org=acme, by=carol, key_result=kr, title="Acme initiative")
    checkin = cadence.checkin_record(
        org=acme, by=carol, key_result=kr, value=Decimal(3), confidence=5
    )
    comment = cadence.comment_create(org=acme, by=carol, key_result=kr, body="Acme comment")
    pair = cadence.one_on_one_get_or_create(org=acme, by=bob, manager=bob, report=carol)
    meeting = cadence.meeting_create(org=acme, by=bob, pair=pair, on=date.today())
    item = cadence.action_item_add(org=acme, by=bob, meeting=meeting, text="Acme action")
    away = cadence.away_add(org=acme, by=carol, starts_on=date.today(), ends_on=date.today())
    from checkins import reminders

    (claim_id,) = reminders.claim(acme, [carol.pk], date.today(), "checkin_reminder")
    token, _secret = core.api_token_create(org=acme, by=carol, name="script")
    return {
        "org_slug": acme.slug,
        "membership_id": carol.pk,
        "team_slug": engineering.slug,
        "invitation_id": invitation.pk,
        "cycle_id": cycle.pk,
        "to_state": "scoring",
        "objective_id": objective.pk,
        "kr_id": kr.pk,
        "initiative_id": initiative.pk,
        "token_id": token.pk,
        "checkin_id": checkin.pk,
        "comment_id": comment.pk,
        "meeting_id": meeting.pk,
        "item_id": item.pk,
        "away_id": away.pk,
        "claim_id": claim_id,
        "pk": objective.pk,
    }


def _org_rows(org) -> dict[str, list[dict]]:
    """Every row the organisation owns, by table: the tenant models' and their history's
    (every model of the three apps with an organisation column), and the organisation's own."""
    from django.apps import apps

    from okrapp.models import Organization

    rows = {"okrapp.Organization": list(Organization.objects.filter(pk=org.pk).values())}
    for label in ("okrapp", "cycles", "checkins"):
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if any(f.attname == "organization_id" for f in model._meta.concrete_fields):
                rows[model._meta.label] = list(
                    model._base_manager.filter(organization_id=org.pk).order_by("pk").values()
                )
    return rows


def test_every_tenant_url_is_404_for_a_member_of_another_organisation(
    client, login, mallory, acme, acme_ids
):
    before = _org_rows(acme)
    for label in ("Membership", "Invitation", "Team", "TeamMembership"):
        assert before[f"okrapp.{label}"], label  # the snapshot would prove nothing empty
    for label in ("cycles.Objective", "cycles.KeyResult", "checkins.CheckIn", "checkins.Comment"):
        assert before[label], label
    login(mallory)
    urls = [_fill(route, acme_ids) for route, _ in _tenant_patterns()]
    assert len(urls) >= 15
    answers = {}
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            answers[(method, url)] = response.status_code
    wrong = {key: status for key, status in answers.items() if status != 404}
    print(f"outsider walk: {len(answers)} requests over {len(urls)} tenant URLs")
    assert wrong == {}
    # Nothing of Acme's was added, changed or removed by the POSTs.
    after = _org_rows(acme)
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}
    assert after == before


def test_every_tenant_url_sends_anonymous_visitors_to_login(client, acme_ids):
    for route, _ in _tenant_patterns():
        url = _fill(route, acme_ids)
        response = client.get(url)
        if url.startswith("/api/"):
            assert response.status_code == 401, url  # an API answers, it does not redirect
            continue
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("account_login")), url


def test_unknown_organisation_is_the_same_404_as_a_foreign_one(client, login, mallory, acme):
    login(mallory)
    foreign = client.get(f"/{acme.slug}/")
    missing = client.get("/no-such-org/")
    assert foreign.status_code == missing.status_code == 404
    assert acme.name not in foreign.content.decode()


ADMIN_PAGES = ["member_list", "member_invite", "org_settings", "org_mission"]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_are_403_for_members_and_managers(client, login, carol, bob, name):
    for person in (carol, bob):
        login(person)
        response = client.get(reverse(name, kwargs={"org_slug": person.organization.slug}))
        assert response.status_code == 403


def test_a_deactivated_member_loses_access_at_once(client, login, alice, carol, acme):
    login(carol)
    assert client.get(f"/{acme.slug}/").status_code == 200
    Membership.objects.for_org(acme).filter(pk=carol.pk).update(active=False)
    assert client.get(f"/{acme.slug}/").status_code == 404


def test_the_membership_language_is_used_for_pages(client, login, carol, acme):
    carol.language = "zh-hant"
    carol.save(update_fields=["language"])
    login(carol)
    response = client.get(f"/{acme.slug}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.wsgi_request.LANGUAGE_CODE == "zh-hant"


# --- Database ----------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="composite keys are PostgreSQL's")
def test_postgres_refuses_a_raw_row_linking_two_organisations(acme, globex, carol, mallory):
    acme_team = TeamFactory(organization=acme, name="Acme team")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "INSERT INTO okrapp_teammembership (organization_id, team_id, membership_id, is_lead)"
            " VALUES (%s, %s, %s, false)",
            [globex.pk, acme_team.pk, mallory.pk],
        )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "UPDATE okrapp_membership SET manager_id = %s WHERE id = %s", [carol.pk, mallory.pk]
        )
    # The same statement inside one organisation is fine.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "INSERT INTO okrapp_teammembership (organization_id, team_id, membership_id, is_lead)"
            " VALUES (%s, %s, %s, false)",
            [acme.pk, acme_team.pk, carol.pk],
        )
    assert TeamMembership.objects.for_org(acme).filter(team=acme_team).count() == 1


def test_every_tenant_table_carries_the_organisation_and_the_same_org_keys():
    """Each foreign key between tenant tables has its composite twin (migration 0002...)."""
    from django.apps import apps

    from okrapp.tenancy import TenantModel

    tenant_models = [m for m in apps.get_models() if issubclass(m, TenantModel)]
    assert {m.__name__ for m in tenant_models} >= {
        "Membership",
        "Team",
        "TeamMembership",
        "Invitation",
    }
    if connection.vendor != "postgresql":
        pytest.skip("composite keys are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conname LIKE %s",
            ["%_same_org_fk"],
        )
        names = {row[0] for row in cursor.fetchall()}
    for model in tenant_models:
        for field in model._meta.concrete_fields:
            if field.is_relation and issubclass(field.related_model, TenantModel):
                expected = f"{model._meta.db_table}_{field.column}_same_org_fk"[:63]
                assert expected in names, f"{model.__name__}.{field.name} lacks its same-org key"


def test_members_of_one_org_are_not_counted_in_another(acme, globex):
    MembershipFactory.create_batch(3, organization=acme)
    MembershipFactory.create_batch(2, organization=globex)
    assert Membership.objects.for_org(acme).count() == 3
    assert Membership.objects.for_org(globex).count() == 2


def test_a_members_time_zone_does_not_leak_into_the_next_request(client, login, carol, acme):
    from django.utils import timezone

    carol.time_zone = "Europe/Berlin"
    carol.save(update_fields=["time_zone"])
    login(carol)
    client.get(f"/{acme.slug}/")
    assert timezone.get_current_timezone_name() == "UTC"
