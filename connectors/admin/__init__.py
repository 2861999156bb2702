"""The connectors admin (see connector.py)."""

from . import connector

__all__ = ["connector"]
