import pytest

from apps.trading.brokers.alpaca import AlpacaBroker, RatePacer
from tests.support.fake_alpaca import fake_alpaca, fake_credentials  # noqa: F401 - the fixture

__all__ = ["fake_alpaca"]


@pytest.fixture
def broker(fake_alpaca):  # noqa: F811
    b = AlpacaBroker(credentials=fake_credentials(), base_url=fake_alpaca.base_url, pacer=RatePacer(10_000))
    yield b
    b.close()
