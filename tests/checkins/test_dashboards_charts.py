"""The dashboards' SVG geometry: pure functions with a title and a text alternative."""

from datetime import date, timedelta
from decimal import Decimal as D

from checkins import charts


def test_bar_chart_draws_capped_bars_and_describes_each():
    chart = charts.bar_chart(
        bars=[
            {"label": "Engineering", "value": D("0.5"), "tone": "on_track", "url": "/e/"},
            {"label": "Sales", "value": D("1.4"), "tone": "on_track", "url": "/s/"},
            {"label": "Support", "value": None, "tone": "none", "url": "/x/"},
        ],
        expected=D("0.25"),
        title="Teams",
        width=500,
        label_width=100,
        value_width=50,
        pad=0,
    )
    track = 500 - 100 - 50
    engineering, sales, support = chart["bars"]
    assert engineering["width"] == round(track * 0.5, 1)
    assert sales["width"] == track  # 140 % is drawn full, not beyond the track
    assert support["empty"] and support["value_text"] == "—"
    assert chart["expected_x"] == 100 + track * 0.25
    assert chart["title"] == "Teams"
    assert chart["desc"].startswith("Engineering: 50 %; Sales: 140 %; Support: —")
    assert "Expected by today: 25 %" in chart["desc"]


def test_heat_map_tones_titles_and_weeks_to_come():
    chart = charts.heat_map(
        rows=[
            {
                "label": "Engineering",
                "depth": 0,
                "values": [D(1), D("0.5"), D(0), None],
                "future": [False, False, False, True],
                "current_index": 2,
            },
            {"label": "Platform", "depth": 1, "values": [D("0.8"), None, D("0.3"), None]},
        ],
        columns=["2026-W40", "2026-W41", "2026-W42", "2026-W43"],
        title="Rates",
    )
    engineering, platform = chart["rows"]
    assert [c["tone"] for c in engineering["cells"]] == ["full", "mid", "zero", "future"]
    assert [c["tone"] for c in platform["cells"]] == ["high", "none", "low", "none"]
    assert engineering["cells"][0]["title"] == "Engineering, 2026-W40: 100 %"
    assert engineering["cells"][2]["current"]
    assert "still open" in engineering["cells"][2]["title"]
    assert engineering["cells"][3]["title"] == "Engineering, 2026-W43: still to come"
    assert platform["label_x"] > engineering["label_x"]  # sub-teams are indented
    assert [c["label"] for c in chart["columns"]] == ["40", "41", "42", "43"]
    assert chart["desc"] == (
        "Engineering: 2026-W40 100 %, 2026-W41 50 %, 2026-W42 0 %; "
        "Platform: 2026-W40 80 %, 2026-W42 30 %."
    )


def test_pace_chart_draws_history_expected_line_and_trend():
    start = date(2026, 1, 5)
    end = start + timedelta(days=90)
    points = [(start + timedelta(days=6), D("0.1")), (start + timedelta(days=13), D("0.2"))]
    chart = charts.pace_chart(
        points=points,
        forecast=D("1.3"),
        start=start,
        end=end,
        today=start + timedelta(days=14),
        title="Ship v2",
        width=100,
        height=50,
        pad=0,
    )
    assert chart["title"] == "Pace of “Ship v2”"
    assert len(chart["dots"]) == 2
    assert chart["expected"] == {"x1": 0.0, "y1": 50.0, "x2": 100.0, "y2": 0.0}
    assert chart["trend"]["x2"] == 100.0 and chart["trend"]["y2"] == 0.0  # capped at 100 %
    assert "At this pace it reaches 100 % by April 5, 2026." in chart["desc"]
    empty = charts.pace_chart(
        points=[], forecast=None, start=start, end=end, today=start, title="x"
    )
    assert empty["trend"] is None and empty["desc"] == "No check-ins yet."
