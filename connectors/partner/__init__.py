"""A generic sales partner (a marketplace, a local store, an ERP or WMS) without an API of
its own kind: a signed JSON webhook with a configurable field mapping, a CSV stock feed
(uploaded, or fetched from a URL by the polling task) and a signed JSON push.

Signatures are HMAC-SHA256 of the raw body, hex or base64, in a configurable header.

- `connector`: `PartnerConnector`, the store class (kind "partner").
- `csv_feed`: `parse_stock_csv`, for uploaded files and the fetched feed; its
  `MalformedFeed` names the line and column of a problem.
- `fields`: dotted paths and checked values, with errors naming where a value was.
- `options`: the connector's options, checked when it is built.
"""

from connectors.partner.connector import PartnerConnector
from connectors.partner.csv_feed import MalformedFeed, parse_stock_csv
from connectors.partner.options import PartnerOptions

__all__ = ["MalformedFeed", "PartnerConnector", "PartnerOptions", "parse_stock_csv"]
