from django import forms

from apps.marketdata.forms import QueryForm
from apps.marketdata.models import Frequency


class CoverageForm(QueryForm):
    at = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Date")
    freq = forms.ChoiceField(choices=Frequency.choices, required=False, label="Bars")
