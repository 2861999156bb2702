"""A fake warehouse system (WMS): receives the hub's signed pick instructions.

`POST /instructions` verifies the Standard Webhooks signature with the `standardwebhooks`
library itself (not the hub's code) before it reads anything: a bad, missing or stale
signature is a 401 and nothing is kept. An instruction whose `webhook-id` it has seen is
answered 200 and not applied again, as the scheme asks of receivers.
"""

from __future__ import annotations

from standardwebhooks import Webhook, WebhookVerificationError

from tests.fakes.server import FakeStore, Request, Response


class FakeWms(FakeStore):
    def __init__(self, *, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.applied: list[dict] = []  # verified instructions, each once, in order
        self.applied_ids: list[str] = []
        self.rejected_signatures = 0
        self.route("POST", "/instructions", self._instruction)

    @property
    def endpoint_url(self) -> str:
        return f"{self.base_url}/instructions"

    def _instruction(self, request: Request) -> Response:
        try:
            payload = Webhook(self.secret).verify(request.body, request.headers)
        except WebhookVerificationError as error:
            with self.lock:
                self.rejected_signatures += 1
            return Response(401, {"error": str(error)})
        message_id = request.headers["webhook-id"]
        with self.lock:
            if message_id in self.applied_ids:
                return Response(200, {"status": "duplicate"})
            self.applied_ids.append(message_id)
            self.applied.append(payload)
        return Response(200, {"status": "accepted"})
