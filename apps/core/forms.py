"""Form fields shared by every page and the REST API.

`LimitedJSONField` is the one place the site parses JSON a user typed. Python's `json` module
recurses once per nesting level: a 5,000-deep `[[[[...]]]]` raised RecursionError inside
`json.loads` and the page answered 500 with a debug page. So the size and the nesting depth are
measured on the raw text first (one linear pass that skips string contents), and only text within
both limits is parsed; every refusal is a plain validation message."""

from __future__ import annotations

import json

from django import forms

MAX_JSON_CHARS = 64_000  # a full strategy config is ~2 kB; a large param space ~1 kB
MAX_JSON_DEPTH = 20  # a config is 3 levels deep; leave room, stay far from the recursion limit


def json_depth(text: str) -> int:
    """The deepest nesting of objects/arrays in `text`, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_limited_json(text: str, *, max_chars: int = MAX_JSON_CHARS, max_depth: int = MAX_JSON_DEPTH):
    """Parse `text` as JSON, refusing (forms.ValidationError) text that is too long or too deeply
    nested before the parser sees it, and naming the line and column of a syntax error."""
    if len(text) > max_chars:
        raise forms.ValidationError(
            f"is too long: {len(text):,} characters, at most {max_chars:,} allowed", code="too_long"
        )
    depth = json_depth(text)
    if depth > max_depth:
        raise forms.ValidationError(
            f"is nested {depth:,} levels deep; at most {max_depth} levels are allowed", code="too_deep"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", code="invalid"
        ) from None


class LimitedJSONField(forms.CharField):
    """A textarea holding one JSON object. Cleans to a dict (empty text -> {} when not required);
    the bound value stays the text the user typed, so an error never loses their input."""

    default_error_messages = {"not_object": 'must be a JSON object, e.g. {"key": value}'}

    def __init__(self, *, max_chars: int = MAX_JSON_CHARS, max_depth: int = MAX_JSON_DEPTH, **kwargs):
        self.max_chars, self.max_depth = max_chars, max_depth
        kwargs.setdefault("strip", True)
        super().__init__(**kwargs)

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return {}
        data = parse_limited_json(text, max_chars=self.max_chars, max_depth=self.max_depth)
        if not isinstance(data, dict):
            raise forms.ValidationError(self.error_messages["not_object"], code="not_object")
        return data

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, indent=2)
        return value
