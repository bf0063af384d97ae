from django import forms
from django.contrib import admin
from django.db.models import Q

from .models import Membership, Universe


@admin.register(Universe)
class UniverseAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "membership_rows")
    search_fields = ("name",)

    @admin.display(description="membership rows")
    def membership_rows(self, obj: Universe) -> int:
        return obj.memberships.count()


class MembershipForm(forms.ModelForm):
    """Hand edits obey the same rule as imports: no overlapping intervals for one symbol."""

    class Meta:
        model = Membership
        fields = ("universe", "symbol", "start_date", "end_date", "source")

    def clean(self):
        data = super().clean()
        universe, symbol, start, end = (data.get(k) for k in ("universe", "symbol", "start_date", "end_date"))
        if universe and symbol and start:
            clash = Membership.objects.filter(universe=universe, symbol=symbol.upper()).filter(
                Q(end_date__isnull=True) | Q(end_date__gt=start)
            )
            if end is not None:
                clash = clash.filter(start_date__lt=end)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            other = clash.first()
            if other is not None:
                raise forms.ValidationError(f"overlaps the existing interval {other}")
        return data


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ("symbol", "universe", "start_date", "end_date", "source")
    list_filter = ("universe", "source")
    search_fields = ("symbol",)
    date_hierarchy = "start_date"

    def save_model(self, request, obj, form, change):
        obj.symbol = obj.symbol.upper()
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
