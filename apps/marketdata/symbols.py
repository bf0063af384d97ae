"""What a ticker symbol may look like, defined once for every import (bars, membership) and the
Instrument model. Plain Python: validation and parsers use it without Django."""

import re

SYMBOL_MAX_LEN = 16  # Instrument.symbol max_length
# Exchange tickers as the desk's sources spell them: letters and digits, with ".", "-" or "_" for
# share classes (BRK.B, BF-B, Quandl's BRK_A). Anything else (spaces, quotes, "/", "$", ";") is a
# vendor artefact or an injection attempt, never a ticker; symbols are upper-cased before the check.
SYMBOL_PATTERN = r"[A-Z0-9](?:[A-Z0-9._\-]*[A-Z0-9])?"
SYMBOL_CHARSET = "A-Z, 0-9 and '.', '-', '_' between them"
_SYMBOL = re.compile(SYMBOL_PATTERN)


def symbol_problem(symbol: str) -> str | None:
    """Why an upper-cased, stripped symbol is not a ticker, or None."""
    if len(symbol) > SYMBOL_MAX_LEN:
        return f"longer than {SYMBOL_MAX_LEN} characters"
    if not _SYMBOL.fullmatch(symbol):
        return f"has characters outside {SYMBOL_CHARSET}"
    return None
