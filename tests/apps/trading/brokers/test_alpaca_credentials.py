"""Alpaca keys come from the environment or a secrets file, and the secret never shows: not in
logs (the adapter's, httpx's, the stream's), not in repr()/str() of the broker, its HTTP session,
the credentials or any error it raises."""

import logging
from decimal import Decimal

import pytest

from apps.trading.brokers.alpaca import (
    AlpacaBroker,
    AlpacaCredentials,
    CredentialsMissing,
    RatePacer,
    TradeUpdatesStream,
    credentials_from_env,
)
from apps.trading.brokers.base import BrokerError, OrderRequest, OrderSide
from tests.support.fake_alpaca import SECRET_KEY, fake_credentials

pytestmark = pytest.mark.django_db(databases=[])


def test_from_environment():
    creds = credentials_from_env({"ALPACA_KEY_ID": "PK1", "ALPACA_SECRET_KEY": "s3cret"})
    assert (creds.key_id, creds.secret_key) == ("PK1", "s3cret")


def test_from_secrets_file(tmp_path):
    path = tmp_path / "alpaca.env"
    path.write_text("# desk keys\nexport ALPACA_KEY_ID=PK2\nALPACA_SECRET_KEY='from-file'\n")
    creds = credentials_from_env({"ALPACA_SECRETS_FILE": str(path)})
    assert (creds.key_id, creds.secret_key) == ("PK2", "from-file")
    # The environment wins over the file for a name it sets.
    assert credentials_from_env({"ALPACA_SECRETS_FILE": str(path), "ALPACA_KEY_ID": "PK3"}).key_id == "PK3"


def test_missing_names_what_is_absent_never_a_value(tmp_path):
    with pytest.raises(CredentialsMissing, match="ALPACA_SECRET_KEY") as info:
        credentials_from_env({"ALPACA_KEY_ID": "PK1"})
    assert "PK1" not in str(info.value)
    with pytest.raises(CredentialsMissing, match="cannot read"):
        credentials_from_env({"ALPACA_SECRETS_FILE": str(tmp_path / "absent")})


def test_secret_never_in_repr_str_logs_or_errors(fake_alpaca, caplog):
    caplog.set_level(logging.DEBUG)
    creds = fake_credentials()
    broker = AlpacaBroker(credentials=creds, base_url=fake_alpaca.base_url, pacer=RatePacer(10_000))
    stream = TradeUpdatesStream(
        credentials=creds, url=fake_alpaca.stream_url, on_update=print, on_reconnect=print
    )
    shown = [repr(creds), str(creds), repr(broker), str(broker), repr(broker.http), repr(stream), str(stream)]
    errors: list[BrokerError] = []
    order = OrderRequest("dup", "AAPL", OrderSide.BUY, Decimal("1"), limit_price=Decimal("190"))
    broker.submit(order)
    for fault in ({"status": 500, "body": {"message": "x"}}, {"drop": True}, {"status": 429, "body": {}}):
        fake_alpaca.fault("GET", "/v2/account", **fault)
        with pytest.raises(BrokerError) as info:
            broker.account()
        errors.append(info.value)
    with pytest.raises(BrokerError) as info:
        broker.submit(order)  # duplicate
    errors.append(info.value)
    shown += [repr(e) for e in errors] + [str(e) for e in errors]
    assert SECRET_KEY not in "\n".join(shown)
    assert "HTTP Request" in caplog.text  # httpx did log at INFO/DEBUG: the test looked at real logs
    assert SECRET_KEY not in caplog.text
    broker.close()


def test_credentials_compare_without_printing():
    a = AlpacaCredentials(key_id="PK", secret_key="hidden-value")
    assert "hidden-value" not in f"{a!r} {a}"
