"""A fake sales partner: receives the hub's signed pushes and serves a CSV stock feed.

`POST /push` checks the HMAC-SHA256 signature of the raw body (hex or base64, in a
configurable header) before it reads anything: a bad or missing signature is a 401 and
nothing is kept. A delivery id seen before is answered 200 and not applied again.
`GET /feed.csv` serves `feed_text`; with `token` set, both routes want that bearer token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from tests.fakes.server import FakeStore, Request, Response


class FakePartner(FakeStore):
    def __init__(
        self,
        *,
        secret: str,
        signature_header: str = "X-Hub-Signature-256",
        encoding: str = "hex",
        prefix: str = "sha256=",
        token: str | None = None,
        items_key: str = "items",
    ) -> None:
        super().__init__()
        self.secret = secret
        self.signature_header = signature_header.lower()
        self.encoding = encoding
        self.prefix = prefix
        self.token = token
        self.items_key = items_key
        self.feed_text = "sku,quantity\n"
        self.pushes: list[dict] = []  # accepted bodies, in order
        self.rejected_signatures = 0
        self.deliveries: set[str] = set()
        self.stock: dict[tuple[str, str], int] = {}  # (sku, location) -> quantity pushed
        self.route("POST", "/push", self._push)
        self.route("GET", "/feed.csv", self._feed)

    def expected_signature(self, body: bytes) -> str:
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).digest()
        encoded = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return self.prefix + encoded

    def _is_authorised(self, request: Request) -> bool:
        return self.token is None or request.headers.get("authorization") == f"Bearer {self.token}"

    def _push(self, request: Request) -> Response:
        if not self._is_authorised(request):
            return Response(401, {"error": "unauthorised"})
        given = request.headers.get(self.signature_header, "")
        if not hmac.compare_digest(given.encode(), self.expected_signature(request.body).encode()):
            with self.lock:
                self.rejected_signatures += 1
            return Response(401, {"error": "bad signature"})
        try:
            body = json.loads(request.body)
            items = body[self.items_key]
        except (ValueError, KeyError, TypeError):
            return Response(400, {"error": f"expected a JSON object with {self.items_key!r}"})
        delivery = request.headers.get("x-hub-delivery", "")
        with self.lock:
            if delivery and delivery in self.deliveries:
                return Response(200, {"duplicate": True})
            self.deliveries.add(delivery)
            self.pushes.append(body)
            for item in items:
                self.stock[(item["sku"], item.get("location", ""))] = item["quantity"]
        return Response(200, {"accepted": len(items)})

    def _feed(self, request: Request) -> Response:
        if not self._is_authorised(request):
            return Response(401, {"error": "unauthorised"})
        return Response(
            200, raw=self.feed_text.encode(), headers={"Content-Type": "text/csv; charset=utf-8"}
        )

    def set_feed(self, text: str) -> None:
        with self.lock:
            self.feed_text = text
