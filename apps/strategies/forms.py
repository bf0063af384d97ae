"""Forms of the strategy pages. The config is one JSON object; the key fields above it (kind,
universe, frequency) override what the JSON says, so a quick edit need not touch the JSON."""

from __future__ import annotations

from django import forms

from apps.core.forms import LimitedJSONField
from apps.universes.models import Universe

from .configdiff import config_diff
from .lifecycle import config_sha256
from .models import Frequency
from .registry import strategy_kinds

KEY_FIELDS = ("kind", "universe", "frequency")


class StrategyForm(forms.Form):
    name = forms.SlugField(max_length=64, help_text="letters, digits, '-' and '_'")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    kind = forms.ChoiceField(choices=[])
    universe = forms.ChoiceField(choices=[])
    frequency = forms.ChoiceField(choices=Frequency.choices)
    config = LimitedJSONField(
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


def evidence_eligibility(run, version) -> str | None:
    """Why a run cannot pass the candidate gate's config check for this version, or None when
    it can: it must have finished and be a run of exactly the version's config."""
    if not run.succeeded:
        return f"not finished ({run.status})"
    if not isinstance(run.config, dict) or config_sha256(run.config) != config_sha256(version.config or {}):
        changes = config_diff(version.config or {}, run.config if isinstance(run.config, dict) else {})
        paths = ", ".join(c.path for c in changes[:4]) + (" …" if len(changes) > 4 else "")
        return (
            f"a run of another config than v{version.version}'s ({len(changes)} setting(s) differ: {paths})"
        )
    return None


class PromotionRequestForm(forms.Form):
    to_stage = forms.ChoiceField(choices=[], label="Move to")
    evidence = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.CheckboxSelectMultiple, label="Evidence (backtests)"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, targets: list[str], runs: list, version, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [(t, t) for t in targets]
        why = {r.pk: evidence_eligibility(r, version) for r in runs}
        # Only runs that can pass the config check are offered; the others are listed with why.
        self.fields["evidence"].choices = [(str(r.pk), _run_label(r)) for r in runs if why[r.pk] is None]
        self.ineligible = [(r, why[r.pk]) for r in runs if why[r.pk] is not None]

    def refs(self) -> list[tuple[str, int]]:
        return [("backtest", int(pk)) for pk in self.cleaned_data["evidence"]]


def _run_label(run) -> str:
    m = run.metrics or {}
    parts = [f"#{run.pk}"]
    if m.get("sharpe") is not None:
        parts.append(f"Sharpe {m['sharpe']:.2f}")
    if m.get("max_drawdown") is not None:
        parts.append(f"max drawdown {m['max_drawdown'] * 100:.1f}%")
    if m.get("n_trades") is not None:
        parts.append(f"{m['n_trades']:,} trades")
    if "oos" in m:
        parts.append("out of sample" if m["oos"] else "in sample")
    return " · ".join(parts)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
