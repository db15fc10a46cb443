"""Inline SVG icons: ``{% icon "home" %}``, ``{% icon "chevron" class="meeting-chevron" %}``.

A builtin tag (see ``TEMPLATES``): every page draws a dozen icons, and a dictionary lookup
costs a fraction of including a template with a chain of ``{% if %}``. Icons are decorative
(``aria-hidden``): the text next to one carries its meaning.
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# 24 by 24 strokes, drawn with currentColor by app.css (.icon).
SHAPES = {
    "home": ('<path d="M3 10.5 12 3l9 7.5"/><path d="M5 9.5V21h14V9.5"/><path d="M10 21v-6h4v6"/>'),
    "teams": (
        '<rect x="9" y="3" width="6" height="5" rx="1.2"/>'
        '<rect x="3" y="16" width="6" height="5" rx="1.2"/>'
        '<rect x="15" y="16" width="6" height="5" rx="1.2"/>'
        '<path d="M12 8v4M6 16v-4h12v4"/>'
    ),
    "members": (
        '<circle cx="9" cy="8" r="3.5"/>'
        '<path d="M2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6"/>'
        '<path d="M16 4.6a3.5 3.5 0 0 1 0 6.8"/>'
        '<path d="M18 14.3c2.1.7 3.5 2.8 3.5 5.7"/>'
    ),
    "settings": (
        '<path d="M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1"/>'
        '<circle cx="15" cy="6" r="2"/>'
        '<circle cx="9" cy="12" r="2"/>'
        '<circle cx="17" cy="18" r="2"/>'
    ),
    "logout": (
        '<path d="M9 4H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h3"/>'
        '<path d="m16 17 5-5-5-5"/>'
        '<path d="M21 12H9"/>'
    ),
    "plus": ('<path d="M12 5v14M5 12h14"/>'),
    "check": ('<path d="m5 12.5 4.5 4.5L19 7.5"/>'),
    "mail": ('<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3 7 9 6 9-6"/>'),
    "mission": (
        '<circle cx="12" cy="12" r="9"/>'
        '<circle cx="12" cy="12" r="5"/>'
        '<circle cx="12" cy="12" r="1"/>'
    ),
    "vision": (
        '<path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z"/>'
        '<circle cx="12" cy="12" r="3"/>'
    ),
    "chevron": ('<path d="m9 6 6 6-6 6"/>'),
    "info": ('<circle cx="12" cy="12" r="9"/><path d="M12 11v5M12 8h.01"/>'),
    "alert": ('<path d="M12 3.5 2.5 20h19L12 3.5z"/><path d="M12 10v4M12 17h.01"/>'),
    "success": ('<circle cx="12" cy="12" r="9"/><path d="m8 12.5 3 3 5-6"/>'),
    "edit": ('<path d="M4 20h4L19 9l-4-4L4 16v4z"/><path d="m13.5 6.5 4 4"/>'),
    "user": ('<circle cx="12" cy="8" r="4"/><path d="M4 21c0-4.4 3.6-7 8-7s8 2.6 8 7"/>'),
    "building": (
        '<rect x="4" y="3" width="16" height="18" rx="1.5"/>'
        '<path d="M9 7h1M14 7h1M9 11h1M14 11h1M9 15h1M14 15h1M10 21v-3h4v3"/>'
    ),
    "trash": ('<path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/>'),
    "lock": (
        '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>'
    ),
    "target": (
        '<circle cx="12" cy="12" r="8.5"/>'
        '<circle cx="12" cy="12" r="4.5"/>'
        '<path d="M12 12 20 4M16.5 4H20v3.5"/>'
    ),
    "calendar": (
        '<rect x="3.5" y="5" width="17" height="15.5" rx="2"/><path d="M3.5 10h17M8 3v4M16 3v4"/>'
    ),
    "tree": (
        '<rect x="9" y="3" width="6" height="4.5" rx="1.2"/>'
        '<rect x="3" y="16.5" width="6" height="4.5" rx="1.2"/>'
        '<rect x="15" y="16.5" width="6" height="4.5" rx="1.2"/>'
        '<rect x="9" y="16.5" width="6" height="4.5" rx="1.2"/>'
        '<path d="M12 7.5v9M6 16.5v-3.5h12v3.5"/>'
    ),
    "review": (
        '<rect x="5" y="4" width="14" height="17" rx="2"/><path d="M9 4V3h6v1M9 13l2 2 4-4.5"/>'
    ),
    "history": ('<path d="M3.5 12a8.5 8.5 0 1 0 2.5-6"/><path d="M3 4v4h4M12 7.5V12l3 2"/>'),
    "arrow-up": ('<path d="M12 19V5M6 11l6-6 6 6"/>'),
    "arrow-down": ('<path d="M12 5v14M6 13l6 6 6-6"/>'),
    "link": (
        '<path d="M10 14a4 4 0 0 0 5.7 0l3.1-3.1a4 4 0 0 0-5.7-5.7L12 6.3"/>'
        '<path d="M14 10a4 4 0 0 0-5.7 0l-3.1 3.1a4 4 0 0 0 5.7 5.7L12 17.7"/>'
    ),
}


@register.simple_tag
def icon(name: str, **attrs) -> str:
    """The icon ``name``; an unknown name is a template error, not a silent gap."""
    try:
        shape = SHAPES[name]
    except KeyError:
        raise template.TemplateSyntaxError(f"unknown icon {name!r}") from None
    extra = attrs.get("class")
    return format_html(
        '<svg class="icon{}" viewBox="0 0 24 24" aria-hidden="true" focusable="false">{}</svg>',
        f" {extra}" if extra else "",
        mark_safe(shape),  # noqa: S308 - constant markup of this module
    )
