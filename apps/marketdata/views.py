"""The data page (coverage and import history) and an import run's reject report. Read-only."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .forms import DataQueryForm
from .models import ImportRun
from .selectors import import_runs_recent, instrument_coverage, instrument_sectors, instruments_with_coverage

PAGE_SIZE = 50


@require_GET
@permission_required("marketdata.view_bar", raise_exception=True)
def data_page(request):
    """Instruments with their bar coverage (filtered by ?q= and ?sector=, paginated by ?page=) and
    the import history. A bad or unknown parameter is shown with a 400 above the unfiltered list."""
    sectors = instrument_sectors()
    form = DataQueryForm(request.GET, sectors=sectors)
    valid = form.is_valid()
    search, sector, number = (
        (form.cleaned_data["q"], form.cleaned_data["sector"], form.cleaned_data["page"] or 1)
        if valid
        else ("", "", 1)
    )
    paginator = Paginator(instruments_with_coverage(search=search, sector=sector), PAGE_SIZE)
    if number > paginator.num_pages:
        form.add_error("page", f"there is no page {number}: the list has {paginator.num_pages} page(s)")
        number = 1
    page = paginator.page(number)
    coverage: dict[int, list[dict]] = {}
    for row in instrument_coverage(instrument_ids=[i.pk for i in page.object_list]):
        coverage.setdefault(row["instrument_id"], []).append(row)
    rows = [{"instrument": i, "coverage": coverage.get(i.pk, [])} for i in page.object_list]
    return render(
        request,
        "marketdata/data.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "sector": sector,
            "sectors": sectors,
            "runs": import_runs_recent(limit=25),
            "form": form,
        },
        status=200 if form.is_valid() else 400,
    )


@require_GET
@permission_required("marketdata.view_bar", raise_exception=True)
def import_run_detail(request, pk: int):
    run = get_object_or_404(ImportRun.objects.select_related("created_by"), pk=pk)
    reasons = sorted(run.reject_reasons.items(), key=lambda kv: -kv[1])
    return render(request, "marketdata/import_run.html", {"run": run, "reasons": reasons})
