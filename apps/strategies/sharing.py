"""The sharing form of the strategy page (its own module: forms.py belongs to the strategy and
approval pages). Offers only the users `selectors.share_candidates` names; the service re-checks."""

from __future__ import annotations

from django import forms


class ShareForm(forms.Form):
    username = forms.ModelChoiceField(
        queryset=None,
        to_field_name="username",
        label="Make editor",
        error_messages={"invalid_choice": "only quants without access yet can be made editors"},
    )

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].queryset = users
