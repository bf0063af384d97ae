import pytest
from django.test import RequestFactory

from apps.core.http import safe_next_url


@pytest.mark.parametrize(
    "nxt, expected",
    [
        ("/research/", "/research/"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_next_is_followed_only_when_it_points_at_this_site(nxt, expected):
    request = RequestFactory().post("/x", {"next": nxt})
    assert safe_next_url(request, "/") == expected
