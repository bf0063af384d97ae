"""Input of the research jobs (backtest, training, parameter search), for the pages and the REST
API alike: a bound form keeps what the user typed, and every error is a sentence about the field.
"""

from __future__ import annotations

from django import forms

from apps.core.forms import LimitedJSONField

from .models import ParameterSearch
from .services.candidates import ParamSpaceError, param_space_validate
from .services.search import DEFAULT_SETTINGS

INTEGER_SETTINGS = ("n_samples", "population", "generations")
FRACTION_SETTINGS = ("mutation", "crossover", "holdout_fraction")


class JobForm(forms.Form):
    """A backtest or a training run: the strategy's current config is the input; a reason is
    optional and lands in the run's history."""

    reason = forms.CharField(max_length=500, required=False, strip=True)


def _int_setting(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=200,
        required=False,
        error_messages={"invalid": "enter a whole number"},
    )


def _fraction_setting(label: str, lo: float, hi: float) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        min_value=lo,
        max_value=hi,
        required=False,
        error_messages={"invalid": "enter a number"},
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )


class SearchForm(forms.Form):
    method = forms.ChoiceField(choices=ParameterSearch.Method.choices, initial="grid")
    objective = forms.ChoiceField(
        choices=ParameterSearch.Objective.choices,
        initial="sharpe",
        help_text="balanced = ½ Sharpe + ½ min(Calmar, 3)",
    )
    param_space = LimitedJSONField(
        label="Parameter space",
        help_text='JSON: dotted config path → list of values, e.g. {"model.fast": [5, 10, 20]}',
        max_chars=8_000,
        max_depth=3,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "spellcheck": "false"}),
        error_messages={"required": "give at least one parameter and its values"},
    )
    n_samples = _int_setting("Samples (random)")
    population = _int_setting("Population (GA)")
    generations = _int_setting("Generations (GA)")
    mutation = _fraction_setting("Mutation", 0.0, 1.0)
    crossover = _fraction_setting("Crossover", 0.0, 1.0)
    holdout_fraction = _fraction_setting("Hold-out fraction", 0.1, 0.5)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in (*INTEGER_SETTINGS, *FRACTION_SETTINGS):
            self.fields[key].initial = DEFAULT_SETTINGS[key]

    def clean_param_space(self) -> dict:
        try:
            return param_space_validate(self.cleaned_data["param_space"])
        except ParamSpaceError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        if data.get("method") == "evolutionary" and (data.get("population") or 2) < 2:
            self.add_error("population", "an evolutionary search needs a population of at least 2")
        return data

    def search_settings(self) -> dict:
        """The settings the user gave (the service fills the rest with its defaults)."""
        return {
            key: self.cleaned_data[key]
            for key in (*INTEGER_SETTINGS, *FRACTION_SETTINGS)
            if self.cleaned_data.get(key) is not None
        }


class ApplyBestForm(forms.Form):
    """Confirm a search's best parameters as a new strategy (a draft for review)."""

    name = forms.SlugField(max_length=64, label="New strategy name", help_text="letters, digits, '-' and '_'")
    reviewed_sha = forms.CharField(widget=forms.HiddenInput, max_length=64)
    confirm = forms.BooleanField(
        label="I have reviewed the differences above",
        error_messages={"required": "tick the box to confirm you reviewed the differences"},
    )
