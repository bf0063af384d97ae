"""The one JSON form field of the site: size and depth are refused before the parser runs."""

import pytest
from django import forms

from apps.core.forms import LimitedJSONField, json_depth


def test_depth_ignores_brackets_inside_strings():
    assert json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth('{"a": "\\"[[[["}') == 1
    assert json_depth("") == 0


def test_limits_are_checked_before_parsing_and_messages_are_plain():
    field = LimitedJSONField(max_chars=100, max_depth=3)
    assert field.clean('{"a": {"b": [1]}}') == {"a": {"b": [1]}}
    with pytest.raises(forms.ValidationError, match="nested 4 levels deep; at most 3"):
        field.clean('{"a": {"b": [[1]]}}')
    with pytest.raises(forms.ValidationError, match="too long: 101 characters, at most 100"):
        field.clean('"' + "x" * 99 + '"')
    with pytest.raises(forms.ValidationError, match=r"not valid JSON: Expecting value \(line 1, column 7\)"):
        field.clean('{"a": }')
    with pytest.raises(forms.ValidationError, match="must be a JSON object"):
        field.clean("[1, 2]")
    # a depth far past Python's recursion limit is a message, never a RecursionError
    with pytest.raises(forms.ValidationError, match="nested 100,000 levels"):
        LimitedJSONField(max_chars=10**6).clean("[" * 100_000 + "]" * 100_000)
    assert LimitedJSONField(required=False).clean("") == {}
