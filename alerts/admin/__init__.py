"""The Django admin of alerts, for ops staff; others with admin access only read it.

Nothing here writes a model: rules, receivers, routes and escalation steps are saved
through their services from a form whose last check is the service itself (a refusal is
the form's error on the field it names, and nothing is written); silences are created and
expired through theirs; alerts are acknowledged and resolved by actions that call
`acknowledge_alert` / `resolve_alert`. Alerts and the delivery log are read-only. The
delivery log has no "retry now": delivery offers no service that makes a notification due
again (a failed one is retried on its backoff, a dead one is given up).
"""

from . import logs, setup

__all__ = ["logs", "setup"]
