"""Every write of alerts; each public function is one transaction."""

from .evaluation import Evaluated, apply_findings, fingerprint
from .rules import create_rule, update_rule

__all__ = ["Evaluated", "apply_findings", "create_rule", "fingerprint", "update_rule"]
