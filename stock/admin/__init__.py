"""The Django admin for ops staff.

The ledger and the snapshots are read-only. Balances are never edited here: every stock
change goes through a form that calls one `stock.services` function with the user as actor
and source ADMIN, and shows the service's refusal on the form with nothing written.
"""

from . import catalogue, history, levels, orders

__all__ = ["catalogue", "history", "levels", "orders"]
