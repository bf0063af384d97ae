"""The data page (coverage and import history) and an import run's reject report. Read-only."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .models import ImportRun
from .selectors import import_runs_recent, instrument_coverage, instrument_sectors, instruments_with_coverage

PAGE_SIZE = 50


@require_GET
@permission_required("marketdata.view_bar", raise_exception=True)
def data_page(request):
    search = request.GET.get("q", "").strip()
    sector = request.GET.get("sector", "").strip()
    page = Paginator(instruments_with_coverage(search=search, sector=sector), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
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
            "sectors": instrument_sectors(),
            "runs": import_runs_recent(limit=25),
        },
    )


@require_GET
@permission_required("marketdata.view_bar", raise_exception=True)
def import_run_detail(request, pk: int):
    run = get_object_or_404(ImportRun.objects.select_related("created_by"), pk=pk)
    reasons = sorted(run.reject_reasons.items(), key=lambda kv: -kv[1])
    return render(request, "marketdata/import_run.html", {"run": run, "reasons": reasons})
