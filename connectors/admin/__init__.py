"""Admin for connectors: setup, mappings, inbox (with dead-letter replay), outbox, sync log.

Credentials and the webhook secret are write-only here: the form has password fields that
are never filled in, a blank field keeps what is stored, and no list, page or message
shows them. A connector and its locations are checked and saved by the API's services
(connectors.sync.configure), so the admin refuses what the API refuses, naming the field,
and queues the same pushes. A partner's CSV feed is uploaded on a page of its own
(connectors.sync.feeds). Inbox, outbox, runs and problems are read-only records; actions
call the engine's services.
"""

from . import connector, records

__all__ = ["connector", "records"]
