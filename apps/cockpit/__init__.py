"""The cockpit: the trader's screen (issue 11), per trading account and a desk overview.

- `rows`: the row and block serialisers (order, fill, position, cycle, reconciliation, headline,
  kill switch block), defined once: the snapshot and the pushed messages use the same shapes.
- `selectors`: the snapshot of one account (read in one transaction with its stream's `seq`) and
  the desk overview.
- `views.api`: the snapshot endpoint and the STOP / CANCEL / FLAT / UNLOCK POSTs (thin: a form,
  then the apps.live services, which check permission); `views.pages`: the page shell.
- `consumers.CockpitConsumer`: the websocket (authenticated, origin checked by the ASGI stack,
  permission checked per account); it joins the account's and the desk's streams and forwards.
The websocket is never the source of truth: a gap in `seq` makes the page reload the snapshot.
"""
