from django.contrib import admin

from .models import Bar, CorporateAction, ImportRun, Instrument


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "sector", "sub_industry")
    list_filter = ("sector",)
    search_fields = ("symbol", "name")


@admin.register(Bar)
class BarAdmin(admin.ModelAdmin):
    list_display = ("instrument", "frequency", "ts", "open", "high", "low", "close", "volume", "source")
    list_filter = ("frequency", "source")
    search_fields = ("instrument__symbol",)
    raw_id_fields = ("instrument", "import_run")
    list_select_related = ("instrument",)
    # Millions of rows: no exact count of the unfiltered table on every page.
    show_full_result_count = False


@admin.register(CorporateAction)
class CorporateActionAdmin(admin.ModelAdmin):
    list_display = ("instrument", "kind", "ex_date", "value", "source")
    list_filter = ("kind", "source")
    search_fields = ("instrument__symbol",)
    raw_id_fields = ("instrument",)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "file_name",
        "status",
        "rows_read",
        "rows_inserted",
        "rows_rejected",
        "created_at",
    )
    list_filter = ("kind", "status", "frequency")
    search_fields = ("file_name", "file_sha256")
    # The record of what happened: not edited by hand.
    readonly_fields = [f.name for f in ImportRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # An audit trail; bars keep pointing at their run (Bar.import_run has no DB constraint).
        return False
