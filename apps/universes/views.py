from datetime import date

from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.marketdata.models import Frequency

from . import selectors
from .forms import CoverageForm


@require_GET
@permission_required("universes.view_membership", raise_exception=True)
def universe_detail(request, name: str = selectors.DEFAULT_UNIVERSE):
    """Members of a universe on a chosen date with their bar coverage (hourly bars unless ?freq=1d:
    the desk trades hourly). Without ?at= the date is
    the latest market date holding bars of the chosen frequency (else today)."""
    universe = selectors.universe_get(name)
    if universe is None and name != selectors.DEFAULT_UNIVERSE:
        raise Http404(f"no universe named {name!r}")
    form = CoverageForm(request.GET or None)
    at, freq = None, Frequency.HOUR
    if form.is_bound and form.is_valid():
        at = form.cleaned_data["at"]
        freq = form.cleaned_data["freq"] or Frequency.HOUR
    if at is None:
        at = selectors.latest_bar_day(freq) or date.today()
    status = 400 if form.is_bound and not form.is_valid() else 200
    if status == 200:  # show the effective date and frequency in the picker
        form = CoverageForm(initial={"at": at, "freq": freq})
    coverage = selectors.universe_coverage(universe=universe, at=at, freq=freq) if universe else None
    rows = []
    if coverage is not None:
        have = set(coverage.with_bars)
        for sym in coverage.members:
            inst = coverage.instruments.get(sym)
            rows.append(
                {
                    "symbol": sym,
                    "name": inst.name if inst else "",
                    "sector": inst.sector if inst else "",
                    "has_bar": sym in have,
                }
            )
    context = {
        "universe": universe,
        "name": name,
        "universes": selectors.universe_list(),
        "form": form,
        "at": at,
        "freq": freq,
        "freq_label": Frequency(freq).label,
        "coverage": coverage,
        "rows": rows,
        "sectors": coverage.sectors() if coverage else [],
    }
    return render(request, "universes/detail.html", context, status=status)
