"""The Django admin of transfers, for ops staff; others with admin access only read it.

Nothing here writes a model: lanes are created and changed through
`transfers.services.create_lane` / `update_lane`, transfers are created through
`create_transfer` and moved on by actions that call one transition service per transfer,
each asked first whether the user may act at that end (`transfers.access.may_act`). Lines,
timeline and receipts are read-only.
"""

from . import documents, lanes

__all__ = ["documents", "lanes"]
