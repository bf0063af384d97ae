"""Forms of the strategy pages. The config is one JSON object; the key fields above it (kind,
universe, frequency) override what the JSON says, so a quick edit need not touch the JSON."""

from __future__ import annotations

import json

from django import forms

from apps.universes.models import Universe

from .models import Frequency
from .registry import strategy_kinds

KEY_FIELDS = ("kind", "universe", "frequency")


class StrategyForm(forms.Form):
    name = forms.SlugField(max_length=64, help_text="letters, digits, '-' and '_'")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    kind = forms.ChoiceField(choices=[])
    universe = forms.ChoiceField(choices=[])
    frequency = forms.ChoiceField(choices=Frequency.choices)
    config = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "class": "mono", "spellcheck": "false"}),
        required=False,
        help_text="the full config as JSON; omitted settings take their defaults",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = strategy_kinds()
        self.fields["universe"].choices = [(n, n) for n in Universe.objects.values_list("name", flat=True)]
        if editing:
            self.fields["name"].disabled = True

    def clean_config(self) -> dict:
        raw = (self.cleaned_data.get("config") or "").strip()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(data, dict):
            raise forms.ValidationError("must be a JSON object")
        return data

    def merged_config(self) -> dict:
        data = dict(self.cleaned_data["config"])
        data.update({k: self.cleaned_data[k] for k in KEY_FIELDS})
        return data

    def add_config_errors(self, by_path: dict[str, list[str]]) -> None:
        """Put each config error next to its field: key fields on themselves, the rest on the JSON
        box prefixed with their path."""
        for path, messages in by_path.items():
            top = path.split(".", 1)[0]
            for message in messages:
                if top in KEY_FIELDS and path == top:
                    self.add_error(top, message)
                else:
                    self.add_error("config", f"{path}: {message}" if path else message)


class PromotionRequestForm(forms.Form):
    to_stage = forms.ChoiceField(choices=[], label="Move to")
    evidence = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.CheckboxSelectMultiple, label="Evidence (backtests)"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, targets: list[str], runs: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [(t, t) for t in targets]
        self.fields["evidence"].choices = [(str(r.pk), _run_label(r)) for r in runs]

    def refs(self) -> list[tuple[str, int]]:
        return [("backtest", int(pk)) for pk in self.cleaned_data["evidence"]]


def _run_label(run) -> str:
    m = run.metrics or {}
    parts = [f"#{run.pk} {run.status}"]
    for key in ("sharpe", "max_drawdown", "n_trades", "oos"):
        if key in m:
            parts.append(f"{key}={m[key]:.3g}" if isinstance(m[key], float) else f"{key}={m[key]}")
    return " · ".join(parts)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
