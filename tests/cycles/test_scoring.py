"""The scoring rules of DESIGN.md, as pure functions: exact figures, then properties."""

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cycles.scoring import (
    Direction,
    Kind,
    ScoreBand,
    Status,
    capped,
    expected_progress,
    expected_score,
    met_expectation,
    objective_progress,
    pace_forecast,
    raw_progress,
    score_band,
    status,
    suggested_score,
)

NUMBER = Kind.NUMBER


def progress(direction, current, *, start=None, target=None, kind=NUMBER, **bounds):
    return raw_progress(
        kind=kind, direction=direction, start=start, target=target, current=current, **bounds
    )


def inc(start, target, current):
    return progress(Direction.INCREASE, current, start=start, target=target)


def dec(start, target, current):
    return progress(Direction.DECREASE, current, start=start, target=target)


# --- enums ------------------------------------------------------------------------------------


def test_enums_are_plain_strings_for_model_choices():
    assert [d.value for d in Direction] == [
        "increase",
        "decrease",
        "stay_at_least",
        "stay_at_most",
        "stay_between",
    ]
    assert [k.value for k in Kind] == ["number", "percent", "currency", "milestone"]
    assert [s.value for s in Status] == ["on_track", "at_risk", "behind"]
    assert [b.value for b in ScoreBand] == ["red", "yellow", "green"]
    assert Direction.INCREASE == "increase"
    assert isinstance(Kind.MILESTONE, str)
    assert [d for d in Direction if d.is_stay] == [
        Direction.STAY_AT_LEAST,
        Direction.STAY_AT_MOST,
        Direction.STAY_BETWEEN,
    ]


def test_string_values_are_accepted_and_unknown_ones_refused():
    assert raw_progress(
        kind="percent", direction="increase", start=D(0), target=D(100), current=D(40)
    ) == D("0.4")
    with pytest.raises(ValueError):
        raw_progress(kind="number", direction="sideways", start=0, target=1, current=0)
    with pytest.raises(ValueError):
        raw_progress(kind="weight", direction="increase", start=0, target=1, current=0)


# --- increase / decrease ----------------------------------------------------------------------


def test_increase_from_0_to_100_at_40_is_0_4():
    assert inc(D(0), D(100), D(40)) == D("0.4")


def test_decrease_from_50_to_10_at_20_is_0_75():
    assert dec(D(50), D(10), D(20)) == D("0.75")


def test_progress_is_quantized_to_four_places_half_up():
    result = inc(D(0), D(3), D(1))
    assert result == D("0.3333")
    assert result.as_tuple().exponent == -4
    assert inc(D(0), D(8), D(1)) == D("0.1250")
    # 1/160000 = 0.00000625 -> 0.0000; 0.00005 exactly rounds half up to 0.0001
    assert inc(D(0), D(160000), D(1)) == D("0.0000")
    assert inc(D(0), D(20000), D(1)) == D("0.0001")
    assert inc(D(0), D(20000), D(-1)) == D("-0.0001")


def test_decimal_values_keep_their_precision():
    assert inc(D("0.10"), D("0.30"), D("0.20")) == D("0.5")
    assert inc(D("12.5"), D("13.0"), D("12.9")) == D("0.8")


def test_start_and_end_values_give_0_and_1():
    assert inc(D(10), D(20), D(10)) == 0
    assert inc(D(10), D(20), D(20)) == 1
    assert dec(D(20), D(10), D(20)) == 0
    assert dec(D(20), D(10), D(10)) == 1


def test_over_achievement_is_kept_raw_and_capped_to_1():
    raw = inc(D(0), D(100), D(120))
    assert raw == D("1.2")
    assert capped(raw) == 1


def test_moving_the_wrong_way_is_kept_raw_and_capped_to_0():
    raw = inc(D(100), D(200), D(80))
    assert raw == D("-0.2")
    assert capped(raw) == 0
    assert dec(D(50), D(10), D(60)) == D("-0.25")


@pytest.mark.parametrize("direction", [Direction.INCREASE, Direction.DECREASE])
@pytest.mark.parametrize("current", [D(5), None])
def test_start_equal_to_target_is_refused(direction, current):
    with pytest.raises(ValueError, match="target different from its start"):
        progress(direction, current, start=D(5), target=D("5.00"))


@pytest.mark.parametrize("missing", ["start", "target"])
def test_increase_needs_start_and_target(missing):
    values = {"start": D(0), "target": D(10), missing: None}
    with pytest.raises(ValueError, match=f"{missing} is required"):
        progress(Direction.INCREASE, D(1), **values)


def test_no_check_in_yet_is_zero_progress():
    assert inc(D(0), D(100), None) == 0
    assert dec(D(100), D(0), None) == 0


def test_floats_are_refused():
    with pytest.raises(TypeError, match="Decimal"):
        inc(0.0, D(100), D(40))
    with pytest.raises(TypeError):
        capped(0.5)


def test_ints_and_numeric_strings_are_converted_exactly():
    assert inc(0, 100, 40) == D("0.4")
    assert inc("0", "0.3", "0.1") == D("0.3333")


def test_non_finite_values_are_refused():
    with pytest.raises(ValueError, match="finite"):
        inc(D(0), D(100), D("NaN"))
    with pytest.raises(ValueError, match="finite"):
        inc(D(0), D("Infinity"), D(1))
    with pytest.raises(ValueError, match="not a number"):
        inc(D(0), D(100), "forty")


# --- milestones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [(None, 0), (D(0), 0), (D("0.99"), 0), (D(1), 1), (D("1.00"), 1), (D(2), 1), (D(-1), 0)],
)
def test_milestone_is_0_or_1(current, expected):
    result = progress(Direction.INCREASE, current, kind=Kind.MILESTONE, start=D(0), target=D(1))
    assert result == expected


def test_milestone_ignores_start_and_target():
    assert progress(Direction.INCREASE, D(1), kind=Kind.MILESTONE) == 1
    assert progress(Direction.INCREASE, D(1), kind=Kind.MILESTONE, start=D(1), target=D(1)) == 1


# --- "stay" key results -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [(D(99), 0), (D("99.99"), 0), (D(100), 1), (D("100.00"), 1), (D(101), 1), (None, 0)],
)
def test_stay_at_least(current, expected):
    assert progress(Direction.STAY_AT_LEAST, current, target=D(100)) == expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [(D(2), 1), (D(5), 1), (D("5.01"), 0), (D(6), 0), (None, 0)],
)
def test_stay_at_most(current, expected):
    assert progress(Direction.STAY_AT_MOST, current, target=D(5)) == expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (D(19), 0),  # below
        (D(20), 1),  # lower boundary, inclusive
        (D(22), 1),  # inside
        (D(25), 1),  # upper boundary, inclusive
        (D("25.01"), 0),  # above
        (None, 0),  # not yet measured
    ],
)
def test_stay_between(current, expected):
    assert progress(Direction.STAY_BETWEEN, current, lower=D(20), upper=D(25)) == expected


def test_stay_between_a_single_value():
    assert progress(Direction.STAY_BETWEEN, D(3), lower=D(3), upper=D(3)) == 1


def test_stay_between_needs_ordered_bounds():
    with pytest.raises(ValueError, match="lower is required"):
        progress(Direction.STAY_BETWEEN, D(1), upper=D(5))
    with pytest.raises(ValueError, match="upper is required"):
        progress(Direction.STAY_BETWEEN, D(1), lower=D(5))
    with pytest.raises(ValueError, match="above upper bound"):
        progress(Direction.STAY_BETWEEN, D(1), lower=D(5), upper=D(4))


@pytest.mark.parametrize("direction", [Direction.STAY_AT_LEAST, Direction.STAY_AT_MOST])
def test_stay_at_bound_needs_a_target(direction):
    with pytest.raises(ValueError, match="target is required"):
        progress(direction, D(1))


def test_stay_ignores_start():
    # A "stay" KR may have start == target (it starts where it must stay).
    assert progress(Direction.STAY_AT_LEAST, D(100), start=D(100), target=D(100)) == 1


# --- capping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("-3"), D(0)), (D(0), D(0)), (D("0.42"), D("0.42")), (D(1), D(1)), (D("7.5"), D(1))],
)
def test_capped(value, expected):
    assert capped(value) == expected


# --- objective progress -----------------------------------------------------------------------


def test_objective_progress_is_the_plain_mean_by_default():
    assert objective_progress([(D("0.2"), None), (D("0.6"), None)]) == D("0.4")
    assert objective_progress([D("0.2"), D("0.6"), D("1")]) == D("0.6")


def test_objective_progress_is_weighted():
    assert objective_progress([(D("1"), D(3)), (D("0"), D(1))]) == D("0.75")
    assert objective_progress([(D("0.5"), D("0.5")), (D("0.8"), D("1.5"))]) == D("0.725")


def test_objective_progress_uses_capped_kr_progress():
    # An over-achieved KR cannot hide a flat one: (1 + 0) / 2, not (2 + 0) / 2.
    assert objective_progress([(D(2), 1), (D(0), 1)]) == D("0.5")
    assert objective_progress([(D("-1"), 1), (D("0.5"), 1)]) == D("0.25")


def test_objective_progress_counts_a_kr_without_check_in_as_zero():
    assert objective_progress([(None, 1), (D("0.8"), 1)]) == D("0.4")


def test_objective_without_key_results_has_no_progress():
    assert objective_progress([]) is None
    assert objective_progress(iter(())) is None


@pytest.mark.parametrize("weight", [D(0), D("-1"), 0])
def test_weights_must_be_positive(weight):
    with pytest.raises(ValueError, match="greater than 0"):
        objective_progress([(D("0.5"), D(1)), (D("0.5"), weight)])


def test_objective_progress_accepts_a_generator():
    assert objective_progress((p, 1) for p in (D("0.1"), D("0.2"), D("0.3"))) == D("0.2")


def test_objective_progress_is_quantized():
    assert objective_progress([D(1), D(0), D(0)]) == D("0.3333")


# --- expected progress ------------------------------------------------------------------------

Q_START = date(2025, 1, 1)
Q_END = date(2025, 3, 31)  # 90 days


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2024, 12, 31), D(0)),  # before
        (date(2024, 1, 1), D(0)),
        (Q_START, D("0.0111")),  # first day: 1/90
        (date(2025, 1, 9), D("0.1")),  # 9/90
        (date(2025, 2, 14), D("0.5")),  # 45/90
        (date(2025, 3, 30), D("0.9889")),  # 89/90
        (Q_END, D(1)),  # last day
        (date(2025, 4, 1), D(1)),  # after
        (date(2030, 1, 1), D(1)),
    ],
)
def test_expected_progress(on, expected):
    assert expected_progress(start=Q_START, end=Q_END, on=on) == expected


def test_expected_progress_of_a_one_day_cycle():
    day = date(2025, 5, 5)
    assert expected_progress(start=day, end=day, on=day - timedelta(days=1)) == 0
    assert expected_progress(start=day, end=day, on=day) == 1


def test_expected_progress_refuses_a_cycle_ending_before_it_starts():
    with pytest.raises(ValueError, match="before it starts"):
        expected_progress(start=Q_END, end=Q_START, on=Q_START)


def test_expected_progress_wants_local_dates_not_datetimes():
    with pytest.raises(TypeError, match="local date"):
        expected_progress(start=Q_START, end=Q_END, on=datetime(2025, 2, 1, 12, 0))


# --- status -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress_", "expected", "result"),
    [
        (D("0.38"), D("0.4"), Status.ON_TRACK),  # exactly 95 %
        (D("0.3799"), D("0.4"), Status.AT_RISK),  # just under 95 %
        (D("0.30"), D("0.4"), Status.AT_RISK),  # exactly 75 %
        (D("0.2999"), D("0.4"), Status.BEHIND),  # just under 75 %
        (D("0.95"), D(1), Status.ON_TRACK),
        (D("0.75"), D(1), Status.AT_RISK),
        (D("0.7499"), D(1), Status.BEHIND),
        (D("0.5"), D("0.4"), Status.ON_TRACK),  # ahead
        (D(0), D(0), Status.ON_TRACK),  # cycle not started
        (D("-0.5"), D(0), Status.ON_TRACK),
        (D(0), D("0.0111"), Status.BEHIND),
    ],
)
def test_status_thresholds(progress_, expected, result):
    assert status(progress_, expected) == result


def test_status_uses_capped_progress():
    assert status(D("3"), D(1)) == Status.ON_TRACK
    assert status(D("-1"), D("0.5")) == Status.BEHIND


# --- suggested score, bands, expectations -----------------------------------------------------


@pytest.mark.parametrize(
    ("progress_", "score"),
    [
        (D(0), D("0.0")),
        (D("0.44"), D("0.4")),
        (D("0.45"), D("0.5")),  # half up
        (D("0.6499"), D("0.6")),
        (D("0.95"), D("1.0")),
        (D("1.3"), D("1.0")),  # capped first
        (D("-0.2"), D("0.0")),
    ],
)
def test_suggested_score(progress_, score):
    result = suggested_score(progress_)
    assert result == score
    assert result.as_tuple().exponent == -1


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (D("0.0"), ScoreBand.RED),
        (D("0.3"), ScoreBand.RED),
        (D("0.34"), ScoreBand.RED),
        (D("0.35"), ScoreBand.YELLOW),  # rounds to 0.4
        (D("0.4"), ScoreBand.YELLOW),
        (D("0.6"), ScoreBand.YELLOW),
        (D("0.649"), ScoreBand.YELLOW),
        (D("0.65"), ScoreBand.GREEN),  # rounds to 0.7
        (D("0.7"), ScoreBand.GREEN),
        (D("1.0"), ScoreBand.GREEN),
        (1, ScoreBand.GREEN),
    ],
)
def test_score_band(score, band):
    assert score_band(score) == band


@pytest.mark.parametrize("score", [D("-0.1"), D("1.1")])
def test_scores_outside_0_to_1_are_refused(score):
    with pytest.raises(ValueError, match=r"between 0\.0 and 1\.0"):
        score_band(score)
    with pytest.raises(ValueError):
        met_expectation(score, committed=True)


def test_expected_score():
    assert expected_score(True) == D("1.0")
    assert expected_score(False) == D("0.7")


@pytest.mark.parametrize(
    ("score", "committed", "met"),
    [
        (D("1.0"), True, True),
        (D("0.9"), True, False),
        (D("0.96"), True, True),  # rounds to 1.0
        (D("0.7"), False, True),
        (D("0.65"), False, True),  # rounds to 0.7
        (D("0.6"), False, False),
        (D("1.0"), False, True),
    ],
)
def test_met_expectation(score, committed, met):
    assert met_expectation(score, committed) is met


# --- pace forecast ----------------------------------------------------------------------------


def test_pace_forecast_projects_a_straight_line_to_the_end():
    points = [(Q_START, D(0)), (Q_START + timedelta(days=9), D("0.1"))]
    # 0.1 per 9 days; the end is 89 days after the start.
    assert pace_forecast(points, start=Q_START, end=Q_END) == D("0.9889")


def test_pace_forecast_fits_least_squares_through_noise():
    start = date(2025, 1, 1)
    end = start + timedelta(days=10)
    points = [
        (start, D(0)),
        (start + timedelta(days=1), D("0.2")),
        (start + timedelta(days=2), D("0.1")),
        (start + timedelta(days=3), D("0.3")),
    ]
    # x = 0..3, mean 1.5; y mean 0.15; Sxy = 0.4, Sxx = 5, slope 0.08;
    # at x = 10: 0.15 + 0.08 * 8.5 = 0.83
    assert pace_forecast(points, start=start, end=end) == D("0.83")


def test_pace_forecast_is_raw_and_may_exceed_1_or_drop_below_0():
    up = [(Q_START, D("0.5")), (Q_START + timedelta(days=10), D("0.6"))]
    assert pace_forecast(up, start=Q_START, end=Q_END) == D("1.39")
    down = [(Q_START, D("0.5")), (Q_START + timedelta(days=10), D("0.4"))]
    assert pace_forecast(down, start=Q_START, end=Q_END) == D("-0.39")


def test_pace_forecast_flat():
    points = [(Q_START + timedelta(days=d), D("0.3")) for d in (3, 10, 20)]
    assert pace_forecast(points, start=Q_START, end=Q_END) == D("0.3")


def test_pace_forecast_needs_two_distinct_dates():
    assert pace_forecast([], start=Q_START, end=Q_END) is None
    assert pace_forecast([(Q_START, D("0.2"))], start=Q_START, end=Q_END) is None
    same_day = [(Q_START, D("0.2")), (Q_START, D("0.4"))]
    assert pace_forecast(same_day, start=Q_START, end=Q_END) is None


def test_pace_forecast_uses_every_point_of_a_repeated_date():
    points = [(Q_START, D("0")), (Q_START, D("0.2")), (Q_START + timedelta(days=1), D("0.2"))]
    # x = 0, 0, 1; y = 0, 0.2, 0.2 -> slope 0.1, line 0.1 + 0.1 x; at x = 89: 9.0
    assert pace_forecast(points, start=Q_START, end=Q_END) == D("9.0")


def test_pace_forecast_refuses_a_cycle_ending_before_it_starts():
    with pytest.raises(ValueError):
        pace_forecast([], start=Q_END, end=Q_START)


# --- properties -------------------------------------------------------------------------------

decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6
)
progresses = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-5, max_value=5)
weights = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value="0.01", max_value=100
)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@given(decimals)
def test_capped_lies_in_0_to_1(value):
    assert D(0) <= capped(value) <= D(1)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=0, max_value=1))
def test_capped_leaves_0_to_1_alone(value):
    assert capped(value) == value


@given(decimals, decimals, decimals)
def test_increase_and_decrease_are_mirror_images(start, target, current):
    # A decrease from s down to t is an increase from -s up to -t, read in a mirror.
    assume(start != target)
    assert dec(start, target, current) == inc(-start, -target, -current)
    assert inc(start, target, current) == dec(-start, -target, -current)


@given(decimals, decimals, decimals, decimals)
def test_increase_progress_is_monotonic_in_current(start, target, a, b):
    assume(start < target)
    low, high = sorted((a, b))
    assert inc(start, target, low) <= inc(start, target, high)


@given(decimals, decimals, decimals, decimals)
def test_decrease_progress_is_non_increasing_in_current(start, target, a, b):
    assume(start > target)
    low, high = sorted((a, b))
    assert dec(start, target, low) >= dec(start, target, high)


@given(decimals, decimals)
def test_increase_and_decrease_reach_0_at_start_and_1_at_target(start, target):
    assume(start != target)
    for fn in (inc, dec):
        assert fn(start, target, start) == 0
        assert fn(start, target, target) == 1


@given(decimals, decimals, decimals)
def test_stay_between_is_1_exactly_inside_the_bounds(a, b, current):
    lower, upper = sorted((a, b))
    inside = lower <= current <= upper
    assert progress(Direction.STAY_BETWEEN, current, lower=lower, upper=upper) == int(inside)


@given(decimals, decimals)
def test_stay_at_least_and_at_most_are_each_others_complement_off_the_bound(bound, current):
    at_least = progress(Direction.STAY_AT_LEAST, current, target=bound)
    at_most = progress(Direction.STAY_AT_MOST, current, target=bound)
    assert {at_least, at_most} <= {D(0), D(1)}
    assert at_least + at_most == (2 if current == bound else 1)


@given(st.lists(st.tuples(progresses, weights), min_size=1, max_size=8))
def test_objective_progress_lies_between_min_and_max_capped_kr(items):
    result = objective_progress(items)
    capped_values = [capped(p) for p, _ in items]
    assert min(capped_values) <= result <= max(capped_values)


@given(progresses, weights)
def test_objective_progress_of_a_single_kr_is_its_capped_progress(value, weight):
    assert objective_progress([(value, weight)]) == capped(value)
    assert objective_progress([value]) == capped(value)


@given(
    st.lists(st.tuples(progresses, weights), min_size=1, max_size=8),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value="0.01", max_value=1000),
)
def test_scaling_all_weights_does_not_change_objective_progress(items, factor):
    scaled = [(p, w * factor) for p, w in items]
    assert objective_progress(scaled) == objective_progress(items)


@given(st.lists(progresses, min_size=1, max_size=8))
def test_equal_weights_equal_default_weights(values):
    assert objective_progress([(v, D(7)) for v in values]) == objective_progress(values)


@given(dates, st.integers(min_value=0, max_value=400), dates, dates)
def test_expected_progress_is_monotonic_in_date(start, length, a, b):
    end = start + timedelta(days=length)
    early, late = sorted((a, b))
    first = expected_progress(start=start, end=end, on=early)
    second = expected_progress(start=start, end=end, on=late)
    assert D(0) <= first <= second <= D(1)


@given(progresses, progresses)
def test_status_improves_with_progress(a, b):
    expected = D("0.6")
    order = [Status.BEHIND, Status.AT_RISK, Status.ON_TRACK]
    low, high = sorted((a, b))
    assert order.index(status(low, expected)) <= order.index(status(high, expected))


@given(progresses)
def test_suggested_score_is_a_one_decimal_score_with_a_band(value):
    score = suggested_score(value)
    assert D(0) <= score <= D(1)
    assert score == score.quantize(D("0.1"))
    band = score_band(score)
    assert met_expectation(score, committed=False) is (band == ScoreBand.GREEN)


@given(
    dates,
    st.integers(min_value=1, max_value=400),
    st.lists(st.integers(min_value=0, max_value=400), min_size=2, unique=True, max_size=10),
    progresses,
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1, max_value=1),
)
def test_pace_forecast_recovers_a_straight_line(start, length, offsets, intercept, slope):
    end = start + timedelta(days=length)
    points = [(start + timedelta(days=d), intercept + slope * d) for d in offsets]
    expected = (intercept + slope * length).quantize(D("0.0001"))
    assert pace_forecast(points, start=start, end=end) == expected


def test_plain_writes_decimals_as_people_do():
    from decimal import Decimal

    from cycles.scoring import plain

    assert [plain(Decimal(v)) for v in ("30.0000", "100", "1E+2", "0.50", "-0.5000")] == [
        "30",
        "100",
        "100",
        "0.5",
        "-0.5",
    ]
