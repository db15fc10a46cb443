"""Dashboards: the company view (the organisation's home page), a team's dashboard with its
CSV export, and cadence health for OKR Masters and admins.

Every page reads its figures from ``checkins.dashboards`` in a constant number of queries.
Query parameters that make no sense (an unknown status, a non-numeric id) are dropped with
a notice on the page; they never fail the request.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.vary import vary_on_headers

from checkins import charts, dashboards, reminders, services
from checkins.models import week_label
from cycles.models import Cycle, CycleState
from cycles.views.common import STATUS_LABELS, get_cycle, load_cycles, review_counts
from cycles.views.tree import hidden_objective_ids
from okrapp import cache as page_cache
from okrapp.models import Membership
from okrapp.rendering import render_page
from okrapp.selectors import setup_checklist
from okrapp.tenancy import role_required

OKR_MASTERS_AND_ADMINS = role_required(Membership.Role.ADMIN, okr_master=True)


def _choose_cycle(request, cycles: list[Cycle], *, default: Cycle | None):
    """The cycle ``?cycle=`` names, else ``default``; a bad value is a notice, not an error."""
    raw = request.GET.get("cycle", "")
    if not raw:
        return default, []
    if raw.isdigit():
        for cycle in cycles:
            if cycle.pk == int(raw):
                return cycle, []
    notice = _("There is no such cycle; showing the current one instead.")
    return default, [notice]


def _wants_partial(request) -> bool:
    # A history restore asks htmx for the whole page again.
    return bool(request.htmx) and not request.htmx.history_restore_request


# --- Company view ------------------------------------------------------------------------------


@page_cache.per_viewer("company")
def company(request, org_slug):
    """The organisation's home: mission and vision, then how the company is doing.

    The cycle's figures (objectives, team bars and their chart, check-in rates, movers and
    calls for help) are the same for everyone who may read the same private objectives:
    they are cached, rendered, per organisation data version (bumped by the check-in and
    OKR services), cycle, day, language and those objectives. Kudos are the viewer's own.
    The whole page is then kept per viewer at the data version (kudos bump it too)."""
    org, viewer = request.org, request.membership
    cycles = load_cycles(org)
    active = next((c for c in cycles if c.state == CycleState.ACTIVE), None)
    cycle, notices = _choose_cycle(request, cycles, default=active)
    week = services.current_week(org)
    context = {
        "cycles": cycles,
        "cycle": cycle,
        "active": active,
        "notices": notices,
        "week_label": week_label(week),
    }
    if cycle is None:
        teams = dashboards.load_teams(org)
        context |= _org_counts(org, teams)
        context["view"] = dashboards.company_view(org, viewer, cycle, teams, week)
    else:
        # Team and membership changes bump the data version too (okrapp.services), so
        # the key needs no list of teams: a cached page costs no team query at all.
        key = page_cache.key(
            "company",
            org,
            cycle.pk,
            cycle is active,
            week,
            cycle.today(),
            get_language(),
            hidden_objective_ids(org, viewer, cycle),
        )
        kudos = dashboards.recent_kudos(org, viewer)  # the viewer's own: never cached
        figures = cache.get(key)
        if figures is None:
            teams = dashboards.load_teams(org)
            view = dashboards.company_view(org, viewer, cycle, teams, week, kudos=False)
            view.kudos = kudos
            figures = _company_figures(request, view, active=active) | _org_counts(org, teams)
            cache.set(key, figures, page_cache.TTL)
        view = figures["view"]
        view.kudos = kudos
        context |= {
            "view": view,
            "figures_html": mark_safe(figures["figures_html"]),  # noqa: S308 - rendered, escaped
            "changes_html": mark_safe(figures["changes_html"]),  # noqa: S308 - rendered, escaped
            "change_label": figures["change_label"],
            "team_count": figures["team_count"],
            "member_count": figures["member_count"],
        }
    if viewer.is_admin:
        context["setup"] = setup_checklist(
            org, team_count=context["team_count"], member_count=context["member_count"]
        )
    return render_page(request, "checkins/company.html", context)


def _org_counts(org, teams) -> dict:
    return {
        "team_count": len(teams),
        "member_count": Membership.objects.for_org(org).active().count(),
    }


def _company_figures(request, view: dashboards.CompanyView, *, active) -> dict:
    """The company view's cacheable part: its two rendered sections and the few figures the
    rest of the page shows (a plain view without the objectives, rows or movers)."""
    org, cycle = request.org, view.cycle
    charted = [bar for bar in view.team_bars if bar.objectives]
    bar_chart = None
    if charted:
        bar_chart = charts.bar_chart(
            bars=[
                {
                    "label": bar.team.name,
                    "value": bar.progress,
                    "tone": bar.status.value if bar.status else "none",
                    "url": reverse(
                        "team_dashboard", kwargs={"org_slug": org.slug, "team_slug": bar.team.slug}
                    )
                    + (f"?cycle={cycle.pk}" if cycle and cycle is not active else ""),
                    "note": STATUS_LABELS[bar.status] if bar.status else "",
                }
                for bar in charted
            ],
            expected=view.expected,
            title=_("Progress of each team's objectives"),
        )
    context = {
        "org": org,
        "cycle": cycle,
        "view": view,
        "bar_chart": bar_chart,
        "charted": charted,
        "uncharted": len(view.team_bars) - len(charted),
        "change_label": week_label(view.change_week) if view.change_week else "",
    }
    return {
        "figures_html": render_to_string("checkins/company.html#company-figures", context),
        "changes_html": render_to_string("checkins/company.html#company-changes", context),
        "change_label": context["change_label"],
        "view": dashboards.CompanyView(
            cycle=None,
            expected=view.expected,
            week=view.week,
            change_week=view.change_week,
            rate=view.rate,
            rate_last_week=view.rate_last_week,
        ),
    }


# --- Team dashboard -----------------------------------------------------------------------------


def _team_board(request, team_slug: str, *, objectives: bool = False, summarised: bool = False):
    """The board, its filters and its shown rows. With ``objectives``, also the cache key
    of the team objectives section and the section drawn (HTML) if the cache has it (else
    ``None``: the board then carries the objectives' history to draw it).

    ``summarised``: the people are first counted in SQL; when the filters leave more than
    ``EXPANDED_ROWS`` lines, no row is built (the rows are ``None``) and each group's
    ``shown_people`` are ``PersonSummary`` lines."""
    org, viewer = request.org, request.membership
    teams = dashboards.load_teams(org)
    team = next((t for t in teams if t.slug == team_slug), None)
    if team is None:
        raise Http404("No such team.")
    node = dashboards.find_node(dashboards.team_forest(teams), team.pk)
    node = node or dashboards.TeamNode(team, 0)  # a loop in the tree (refused by services)
    cycles = load_cycles(org)
    cycle, notices = _choose_cycle(request, cycles, default=cycles[0] if cycles else None)
    today = cycle.today() if cycle else None
    objectives_key = objectives_html = None
    if objectives and cycle is not None:
        objectives_key = _objectives_key(request, node, cycle, today)
        objectives_html = cache.get(objectives_key)
    board = dashboards.team_dashboard(
        org,
        viewer,
        node,
        cycle,
        today=today,
        objective_history=objectives and not objectives_html,
        rows=not summarised,
        sort=request.GET.get("sort", ""),
    )
    board.ancestors = dashboards.ancestors_of(teams, team)
    filters = dashboards.parse_filters(request.GET, board)
    filters.notices[:0] = notices
    rows = None
    if board.summary is not None:
        if dashboards.summarise(board, filters) <= dashboards.EXPANDED_ROWS:
            dashboards.load_rows(board)
        elif objectives:
            dashboards.load_objectives(board)  # the stat tiles and the objectives section
    if board.rows_loaded:
        rows = dashboards.apply_filters(board, filters)
    return cycles, board, filters, rows, (objectives_key, objectives_html)


def _objectives_key(request, node: dashboards.TeamNode, cycle: Cycle, today: date) -> str:
    """The cache key of a team dashboard's objectives section: the same for everyone who
    may read the same private objectives (no form, no CSRF token, nothing of the viewer's
    own inside), per organisation data version, team tree, cycle, day and language."""
    org, viewer = request.org, request.membership
    return page_cache.key(
        "team-objectives",
        org,
        node.team.pk,
        cycle.pk,
        today,
        get_language(),
        [(n.team.pk, n.team.name, n.depth) for n in node.walk()],
        hidden_objective_ids(org, viewer, cycle),
    )


def _objectives_section(request, board: dashboards.TeamDashboard, key: str | None) -> str:
    """Draw the team objectives section (pace charts included) and cache it under ``key``."""
    if board.cycle is None:
        return ""
    for group in board.groups:
        for figures in group.objectives:
            figures.chart = None
            if figures.readable and figures.history:
                figures.chart = charts.pace_chart(
                    points=figures.history,
                    forecast=figures.forecast,
                    start=board.cycle.start_date,
                    end=board.cycle.end_date,
                    today=board.today,
                    title=figures.objective.title,
                ) | {"id": f"pace-{figures.objective.pk}"}
    html = render_to_string(
        "checkins/dashboard.html#dashboard-objectives",
        {
            "org": request.org,
            "cycle": board.cycle,
            "board": board,
            "show_all_teams": len(board.groups) > 1,
        },
    )
    cache.set(key, html, page_cache.TTL)
    return html


def _query(cycle: Cycle | None, filters: dashboards.Filters, default_cycle, **overrides) -> str:
    params = {}
    if cycle is not None and cycle != default_cycle:
        params["cycle"] = str(cycle.pk)
    params.update(filters.params(**overrides))
    return f"?{urlencode(params)}" if params else ""


# The same address answers with the page or (for htmx) the table: a browser going back must
# not be served the cached table alone.
@vary_on_headers("HX-Request")
@page_cache.per_viewer("team-dashboard")
def team_dashboard(request, org_slug, team_slug):
    """Everyone on the team and its sub-teams x their key results, with filters and sorting
    in the query string (the filtered table is a partial for htmx)."""
    # The table alone (htmx) and one person's rows do without the objectives section.
    whole_page = not _wants_partial(request)
    one_person = not whole_page and request.GET.get("part") == "person"
    cycles, board, filters, rows, (objectives_key, objectives_html) = _team_board(
        request, team_slug, objectives=whole_page, summarised=not one_person
    )
    org = request.org
    default_cycle = cycles[0] if cycles else None
    base = reverse("team_dashboard", kwargs={"org_slug": org.slug, "team_slug": board.team.slug})
    csv_url = reverse(
        "team_dashboard_csv", kwargs={"org_slug": org.slug, "team_slug": board.team.slug}
    )
    here = base + _query(board.cycle, filters, default_cycle)
    sort_links = {
        key: base + _query(board.cycle, filters, default_cycle, sort=key)
        for key in dashboards.SORTS
    }
    if one_person and filters.person:
        # One person's key results, opened from their collapsed line (htmx). Acknowledging
        # one comes back here and swaps these rows alone (and the line's figures): the
        # table would otherwise become this person's rows while the form says "Everyone".
        lines = [line for group in board.groups for line in group.shown_people]
        person = next(p for p in board.people if p.pk == filters.person)
        line = next(
            (line for line in lines if line.person.pk == person.pk),
            dashboards.PersonLine(person, []),
        )
        context = {
            "cycle": board.cycle,
            "filters": filters,
            "line": line,
            # Without JavaScript this address is the page filtered to the person.
            "here": base + _query(board.cycle, filters, default_cycle, part="person"),
            "ack_target": f"#dash-person-rows-{person.pk}",
            "partial_messages": list(messages.get_messages(request)),
        }
        return render(request, "checkins/dashboard.html#person-rows", context)
    # A large view lists one collapsed line per person; each opens with their key results
    # (htmx), or without JavaScript by the link to the dashboard filtered to that person.
    expanded = rows is not None and len(rows) <= dashboards.EXPANDED_ROWS
    if rows is not None:
        line_count = len(rows)
    else:  # collapsed: counted in SQL
        line_count = sum(line.lines for group in board.groups for line in group.shown_people)
    person_links = {}
    if not expanded:
        for group in board.groups:
            for line in group.shown_people:
                person_links[line.person.pk] = base + _query(
                    board.cycle, filters, default_cycle, person=line.person.pk
                )
    if whole_page and objectives_html is None:
        objectives_html = _objectives_section(request, board, objectives_key)
    partial_messages = []
    if _wants_partial(request):
        # The table says what just happened (e.g. "Acknowledged.") where the eye is.
        partial_messages = list(messages.get_messages(request))
    context = {
        "cycles": cycles,
        "cycle": board.cycle,
        "board": board,
        "team": board.team,
        "filters": filters,
        "rows": rows,
        "line_count": line_count,
        "here": here,
        "base": base,
        "csv_url": csv_url + _query(board.cycle, filters, default_cycle),
        "clear_url": base + _query(board.cycle, dashboards.Filters(), default_cycle),
        "sort_links": sort_links,
        "expanded": expanded,
        "person_links": person_links,
        "sorts": dashboards.SORTS,
        "statuses": [(s.value, STATUS_LABELS[s]) for s in STATUS_LABELS],
        "partial_messages": partial_messages,
        "show_all_teams": len(board.groups) > 1,
        "ancestors": board.ancestors,
        "objectives_html": mark_safe(objectives_html or ""),  # noqa: S308 - rendered, escaped
    }
    name = "checkins/dashboard.html"
    if _wants_partial(request):
        name += "#dashboard-table"
    return render(request, name, context)


CSV_COLUMNS = (
    ("team", gettext_lazy("Team")),
    ("person", gettext_lazy("Person")),
    ("objective", gettext_lazy("Objective")),
    ("key_result", gettext_lazy("Key result")),
    ("progress", gettext_lazy("Progress %")),
    ("raw_progress", gettext_lazy("Raw progress %")),
    ("expected", gettext_lazy("Expected by now %")),
    ("status", gettext_lazy("Status")),
    ("confidence", gettext_lazy("Confidence")),
    ("confidence_change", gettext_lazy("Confidence change")),
    ("last_checkin", gettext_lazy("Last check-in")),
    ("weeks_missed", gettext_lazy("Weeks missed")),
    ("need_help", gettext_lazy("Needs help")),
    ("unacknowledged", gettext_lazy("Unacknowledged check-ins")),
)


def _cell(value) -> str:
    """A spreadsheet cell that cannot start a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _pct(value) -> str:
    return "" if value is None else f"{(value * 100).quantize(Decimal('0.1'))}"


def csv_rows(rows: list[dashboards.KeyResultRow]) -> list[list[str]]:
    """The dashboard's rows as spreadsheet lines; blanked rows keep only team and person."""
    lines = []
    for row in rows:
        line = {"team": row.group.team.name, "person": row.person.display_name}
        if row.kr is not None and not row.readable:
            line["objective"] = _("Private objective")
            line["key_result"] = _("Private key result")
        elif row.kr is not None:
            line |= {
                "objective": row.kr.objective.title,
                "key_result": row.kr.title,
                "progress": _pct(row.capped),
                "raw_progress": _pct(row.progress),
                "expected": _pct(row.expected),
                "status": row.status_label,
                "confidence": row.confidence,
                "confidence_change": row.confidence_change,
                "last_checkin": row.last_checkin.week_label if row.last_checkin else "",
                "weeks_missed": row.weeks_missed,
                "need_help": _("yes") if row.need_help else _("no"),
                "unacknowledged": row.unacknowledged,
            }
        lines.append([_cell(line.get(key)) for key, _label in CSV_COLUMNS])
    return lines


def team_dashboard_csv(request, org_slug, team_slug):
    """The dashboard as it is filtered and sorted, as CSV."""
    _cycles, board, _filters, rows, _objectives = _team_board(request, team_slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = board.cycle.name if board.cycle else date.today().isoformat()
    filename = f"{slugify(board.team.slug)}-{slugify(stamp) or 'cycle'}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # spreadsheet programs read UTF-8 by this mark
    writer = csv.writer(response)
    writer.writerow([str(label) for _key, label in CSV_COLUMNS])
    writer.writerows(csv_rows(rows))
    return response


# --- Cadence health ------------------------------------------------------------------------------


@OKR_MASTERS_AND_ADMINS
def cadence_current(request, org_slug):
    """Cadence health of the current cycle (active, else planning, …)."""
    cycles = load_cycles(request.org)
    if not cycles:
        messages.info(request, _("There is no cycle yet, so there is no cadence to look at."))
        return redirect("cycle_list", org_slug=request.org.slug)
    return redirect("cadence_health", org_slug=request.org.slug, cycle_id=cycles[0].pk)


@OKR_MASTERS_AND_ADMINS
def cadence_health(request, org_slug, cycle_id):
    org, viewer = request.org, request.membership
    cycle = get_cycle(request, cycle_id)
    teams = dashboards.load_teams(org)
    health = dashboards.cadence_health(org, cycle, teams)
    rows = [*health.teams]
    if health.everyone:
        rows.append(health.everyone)
    heat_map = None
    current_index = next(
        (i for i, week in enumerate(health.weeks) if week == health.this_week), None
    )
    if rows:
        heat_map = charts.heat_map(
            rows=[
                {
                    "label": row.name,
                    "depth": row.depth,
                    "values": [w.value for w in row.weeks],
                    "future": [w.future for w in row.weeks],
                    "current_index": current_index,
                }
                for row in rows
            ],
            columns=[week_label(w) for w in health.weeks],
            title=_("Check-in rate per team and week of %(cycle)s") % {"cycle": cycle.name},
        )
    context = {
        "cycle": cycle,
        "cycles": load_cycles(org),
        "health": health,
        "rows": rows,
        "heat_map": heat_map,
        "review_counts": review_counts(org, cycle),
        "stuck": list(reminders.stuck_claims(org)) if viewer.is_admin else None,
        "failed": list(reminders.failed_claims(org)) if viewer.is_admin else None,
    }
    return render_page(request, "checkins/cadence_health.html", context)
