"""Errors of the market-data services, each naming what is wrong with the input."""


class BarFileError(ValueError):
    """The file as a whole cannot be imported: unreadable, unsupported type, missing columns,
    unknown frequency or time zone. Row-level problems are not errors: they go in the report."""
