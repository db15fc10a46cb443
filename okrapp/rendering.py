"""Full page or named partial: the one rule every htmx-aware view follows."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def render_page(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render ``template``; for an htmx request, only its ``{% partialdef partial %}``."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    return render(request, name, context, status=status)
