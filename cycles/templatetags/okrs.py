"""Formatting of OKR figures for templates: percentages, KR values and goals, statuses."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from cycles import scoring

register = template.Library()


@register.filter
def num(value) -> str:
    """A decimal without trailing zeros, grouped and localised: ``1,234.5``."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    plain = value.normalize()
    places = max(0, -plain.as_tuple().exponent)
    return number_format(value, decimal_pos=places, force_grouping=True)


@register.filter
def pct(fraction) -> str:
    """A progress fraction as a whole percentage: ``0.4237`` → ``42 %``."""
    if fraction is None:
        return "—"
    whole = (Decimal(fraction) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return _("%(value)s %%") % {"value": number_format(whole, force_grouping=True)}


@register.filter
def capped(fraction):
    return None if fraction is None else scoring.capped(Decimal(fraction))


@register.filter
def is_over(fraction) -> bool:
    """True when raw progress lies outside 0..1 (shown as "120 % (capped 100 %)")."""
    return fraction is not None and Decimal(fraction) != scoring.capped(Decimal(fraction))


@register.filter
def kr_value(value, kr) -> str:
    """``value`` in the key result's terms: ``1,200 USD``, ``35 %``, ``90 min``, done / not."""
    if kr.is_milestone:
        if value is None:
            return "—"
        return _("Done") if Decimal(value) >= 1 else _("Not done")
    if value is None:
        return "—"
    shown = num(value)
    if kr.kind == scoring.Kind.CURRENCY and kr.currency:
        return f"{shown} {kr.currency}"
    if kr.unit == "%":
        return f"{shown} %"
    return f"{shown} {kr.unit}".strip()


@register.simple_tag
def kr_goal(kr) -> str:
    """What the key result asks for, in words: "from 20 to 50 min", "stay at least 99 %"."""
    if kr.is_milestone:
        return _("Milestone: done or not")
    direction = scoring.Direction(kr.direction)
    if direction is scoring.Direction.STAY_BETWEEN:
        return _("Stay between %(lower)s and %(upper)s") % {
            "lower": kr_value(kr.lower_bound, kr),
            "upper": kr_value(kr.upper_bound, kr),
        }
    if direction is scoring.Direction.STAY_AT_LEAST:
        return _("Stay at least %(value)s") % {"value": kr_value(kr.target_value, kr)}
    if direction is scoring.Direction.STAY_AT_MOST:
        return _("Stay at most %(value)s") % {"value": kr_value(kr.target_value, kr)}
    if direction is scoring.Direction.DECREASE:
        return _("Decrease from %(start)s to %(target)s") % {
            "start": kr_value(kr.start_value, kr),
            "target": kr_value(kr.target_value, kr),
        }
    return _("Increase from %(start)s to %(target)s") % {
        "start": kr_value(kr.start_value, kr),
        "target": kr_value(kr.target_value, kr),
    }


@register.filter
def get(mapping, key):
    """``mapping[key]`` or None: ``{{ newer|get:field.name }}``."""
    if not mapping:
        return None
    return mapping.get(key)
