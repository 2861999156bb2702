"""What each condition sees: `Finding`s (a subject, its value and whether the condition
holds or has cleared), computed from the hub's own reads. Nothing here writes.

- `stock`: levels (available below, out of stock, back in stock) and channels (salable
  below, out of / back in stock on a channel, a forced status contradicting stock).
"""

from .common import Finding, RuleIndex, subject_key

__all__ = ["Finding", "RuleIndex", "subject_key"]
