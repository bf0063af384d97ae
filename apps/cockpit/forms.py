"""The kill switch buttons' form, shared by the pages and any API: why the button is pressed."""

from django import forms

REASON_MAX = 500


class PressForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX, strip=True)
