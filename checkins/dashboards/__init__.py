"""The figures of the dashboards: a team's people x key results, the company view, cadence
health. Each reader here takes a constant number of queries, however large the team.

One module per concept: ``teams`` (the team tree, what a viewer may read), ``progress``
(figures replayed from check-ins, the pace forecast), ``team`` (a team's dashboard, rows
or people summarised in SQL), ``filters`` (its filters, sorting and per-person lines),
``company`` (the company view) and ``cadence`` (cadence health). The names the views use
are importable from the package.

Definitions (DESIGN.md, "Scoring rules" and "Cadence drives performance"):

* A team's people are the active members of the team and of every team below it. The
  dashboard lists each person once, under the first team of the tree (the team itself,
  then its sub-teams depth first) they are on.
* A key result's figures: raw progress (shown capped), expected progress today (the elapsed
  share of the cycle, the same for every key result), status (on track / at risk / behind),
  the confidence of its latest check-in and its change since the check-in before, the
  latest check-in's need-help flag, and the weeks missed: weeks of the cycle that are over
  (this week is still open) without a check-in, counted from the week the key result
  appeared (its creation, or its first check-in if earlier).
* Unacknowledged check-ins: those of the last ``ACK_WEEKS`` weeks nobody has acknowledged,
  the window of the manager's acknowledgement queue.
* Team objective progress: the weighted mean of its key results' capped progress
  (``cycles.scoring.objective_progress``); a team's roll-up is the plain mean over the team
  objectives of the team and its sub-teams that the viewer may read.
* Pace forecast: ``cycles.scoring.pace_forecast`` over the objective's weekly progress
  history, replayed from the check-ins (each key result at its latest value that week),
  from the first week with a check-in to this week.
* Check-in rate of a team in a week: key results owned by its people (sub-teams included)
  checked in that week / key results they own in the cycle.
* Private objectives the viewer may not read (``cycles.permissions.can_read_objective``)
  are blanked: their rows keep their place and their person, never their titles or figures,
  and they match no filter but the person.
"""

from checkins.dashboards.cadence import WeekRate, cadence_health, streaks
from checkins.dashboards.company import CompanyView, company_view, recent_kudos
from checkins.dashboards.filters import (
    EXPANDED_ROWS,
    SORTS,
    Filters,
    PersonLine,
    apply_filters,
    parse_filters,
    person_lines,
    summarise,
)
from checkins.dashboards.progress import (
    CheckInFact,
    capped_progress_sql,
    checkin_facts,
    forecast,
    progress_at,
    progress_history,
)
from checkins.dashboards.team import (
    ACK_WEEKS,
    KeyResultRow,
    TeamDashboard,
    load_objectives,
    load_rows,
    team_dashboard,
)
from checkins.dashboards.teams import (
    TeamNode,
    ancestors_of,
    find_node,
    load_teams,
    readable_objectives_q,
    team_forest,
)

__all__ = [
    "ACK_WEEKS",
    "EXPANDED_ROWS",
    "SORTS",
    "CheckInFact",
    "CompanyView",
    "Filters",
    "KeyResultRow",
    "PersonLine",
    "TeamDashboard",
    "TeamNode",
    "WeekRate",
    "ancestors_of",
    "apply_filters",
    "cadence_health",
    "capped_progress_sql",
    "checkin_facts",
    "company_view",
    "find_node",
    "forecast",
    "load_objectives",
    "load_rows",
    "load_teams",
    "parse_filters",
    "person_lines",
    "progress_at",
    "progress_history",
    "readable_objectives_q",
    "recent_kudos",
    "streaks",
    "summarise",
    "team_dashboard",
    "team_forest",
]
