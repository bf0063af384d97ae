"""Forms for the pages' query parameters (GET): a bad value or an unknown parameter is shown to
the user with a 400, never replaced by a silent default."""

from __future__ import annotations

from django import forms

QUERY_TEXT_MAX = 100


class QueryForm(forms.Form):
    """A page's GET parameters. Every field is optional; a parameter the page does not take, or one
    given twice, is an error naming the parameters it does take."""

    def clean(self):
        cleaned = super().clean()
        unknown = sorted(set(self.data) - set(self.fields))
        if unknown:
            takes = ", ".join(f"{name} ({field.label or name})" for name, field in self.fields.items())
            plural = "s" if len(unknown) > 1 else ""
            raise forms.ValidationError(
                f"unknown parameter{plural} {', '.join(unknown)}: this page takes {takes}"
            )
        repeated = [
            name for name in self.fields if hasattr(self.data, "getlist") and len(self.data.getlist(name)) > 1
        ]
        if repeated:
            raise forms.ValidationError(f"parameter given more than once: {', '.join(repeated)}")
        return cleaned

    @property
    def messages(self) -> list[str]:
        """Every error as one plain sentence: 'Date: Enter a valid date.'"""
        if not self.is_bound or self.is_valid():
            return []
        out = list(self.non_field_errors())
        for name, errors in self.errors.items():
            if name != forms.forms.NON_FIELD_ERRORS:
                label = self.fields[name].label or name
                out += [f"{label} ({name}): {e}" for e in errors]
        return out


class DataQueryForm(QueryForm):
    """The data page: search text, a sector among the instruments' sectors, a page number."""

    q = forms.CharField(required=False, max_length=QUERY_TEXT_MAX, label="Search")
    sector = forms.ChoiceField(required=False, label="Sector")
    page = forms.IntegerField(required=False, min_value=1, label="Page")

    def __init__(self, *args, sectors: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sector"].choices = [("", "all sectors"), *((s, s) for s in sectors)]
