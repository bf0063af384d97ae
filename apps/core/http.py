"""Small request helpers shared by every page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request: HttpRequest, default: str, *args, **kwargs) -> str:
    """The `next` the request carries (POST, then GET) if it points at this site, else `default`
    (a URL or a URL name resolved with args/kwargs). An open redirect is never followed."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(default, *args, **kwargs)


def redirect_next(request: HttpRequest, default: str, *args, **kwargs) -> HttpResponseRedirect:
    return redirect(safe_next_url(request, default, *args, **kwargs))
