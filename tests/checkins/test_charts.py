from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D

from checkins.charts import burnup


@dataclass
class KR:
    title: str = "Grow NPS from 20 to 50"
    kind: str = "number"
    direction: str = "increase"
    start_value: D | None = D(20)
    target_value: D | None = D(50)
    lower_bound: D | None = None
    upper_bound: D | None = None
    unit: str = ""

    @property
    def is_milestone(self):
        return self.kind == "milestone"


@dataclass
class Cycle:
    start_date: date = date(2026, 10, 1)
    end_date: date = date(2026, 12, 31)


@dataclass
class C:
    week: date
    value: D
    confidence: int

    @property
    def week_label(self):
        y, w, _ = self.week.isocalendar()
        return f"{y}-W{w:02d}"


def test_expected_line_runs_from_start_to_target_across_the_cycle():
    chart = burnup(kr=KR(), cycle=Cycle(), checkins=[], width=300, height=100, pad=0)
    e = chart["expected"]
    assert (e["x1"], e["x2"]) == (0, 300)
    assert e["y1"] > e["y2"]  # increasing: the line climbs (SVG y grows downward)
    assert "No check-ins yet." in chart["desc"]


def test_points_are_ordered_by_week_and_described_for_screen_readers():
    checkins = [C(date(2026, 11, 2), D(35), 3), C(date(2026, 10, 5), D(25), 8)]
    chart = burnup(kr=KR(), cycle=Cycle(), checkins=checkins)
    assert [p.value for p in chart["points"]] == [D(25), D(35)]
    assert chart["points"][0].x < chart["points"][1].x
    assert chart["points"][0].y > chart["points"][1].y
    assert [p.tone for p in chart["points"]] == ["high", "low"]
    assert "2026-W41: 25 (confidence 8/10)" in chart["desc"]
    assert chart["polyline"].count(",") == 2


def test_stay_key_results_draw_their_bounds():
    band = burnup(
        kr=KR(
            direction="stay_between",
            start_value=None,
            target_value=None,
            lower_bound=D(10),
            upper_bound=D(20),
        ),
        cycle=Cycle(),
        checkins=[],
    )
    assert band["expected"] is None and band["band"]["height"] > 0
    floor = burnup(
        kr=KR(direction="stay_at_least", start_value=None, target_value=D("99.5")),
        cycle=Cycle(),
        checkins=[C(date(2026, 10, 5), D("99.7"), 7)],
    )
    assert floor["threshold"] is not None and "at least 99.5" in floor["desc"]


def test_today_marker_only_inside_the_cycle():
    assert burnup(kr=KR(), cycle=Cycle(), checkins=[], today=date(2026, 11, 25))["today_x"]
    assert burnup(kr=KR(), cycle=Cycle(), checkins=[], today=date(2027, 1, 5))["today_x"] is None


def test_a_stay_bound_is_described_in_one_translatable_sentence(monkeypatch):
    """Each direction has a whole sentence to translate, not "at %(kind)s" with "least" and
    "most" translated apart (a language orders them its own way)."""
    import checkins.charts

    asked = []

    def gettext(message):
        asked.append(message)
        return message

    monkeypatch.setattr(checkins.charts, "_", gettext)
    for direction, sentence in [
        ("stay_at_least", "Should stay at least 99.5."),
        ("stay_at_most", "Should stay at most 99.5."),
    ]:
        chart = burnup(
            kr=KR(direction=direction, start_value=None, target_value=D("99.5")),
            cycle=Cycle(),
            checkins=[],
        )
        assert sentence in chart["desc"]
    assert "Should stay at least %(bound)s." in asked and "Should stay at most %(bound)s." in asked
    assert not {"least", "most"} & set(asked)
