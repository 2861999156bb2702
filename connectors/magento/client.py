"""HTTP to Magento's REST API: bearer tokens, searchCriteria paging and error mapping.

Errors become the `connectors.base` errors: timeouts, refused connections and 5xx are
`RemoteUnavailable`, 429 `RemoteThrottled` (with Retry-After), 401/403 `RemoteAuthFailed`
(after one admin-token refresh), any other 4xx `MagentoRejected` (a `RemoteRejected`).
Tokens and passwords are never logged nor put in messages.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from connectors.base import (
    ConnectorConfig,
    JsonBody,
    RemoteAuthFailed,
    RemoteRejected,
    RemoteUnavailable,
)
from connectors.engine.http import raise_for_store_independent_status
from connectors.magento.options import MagentoOptions

logger = logging.getLogger(__name__)

_TWO_FACTOR_HINT = "2fa"
_NO_ROUTE = "Request does not match any route."

# Admin tokens outlive one connector object (the engine builds one per task): shared per
# store and user, so a worker does not ask for a new token on every run. Only tokens are
# kept, never the password.
_admin_tokens: dict[tuple[str, str, str], str] = {}
_admin_tokens_lock = threading.Lock()


class MagentoRejected(RemoteRejected):
    """A 4xx from Magento, keeping its message template and parameters."""

    def __init__(self, message: str, *, status: int, template: str, parameters: Any) -> None:
        super().__init__(message, status=status, code=template)
        self.template = template
        self.parameters = parameters


class MagentoClient:
    """One store's REST API under `/rest/<store_code>/V1/`."""

    def __init__(
        self, config: ConnectorConfig, session: requests.Session, options: MagentoOptions
    ) -> None:
        self.config = config
        self.session = session
        self.options = options
        self._root = config.base_url.rstrip("/")

    def pages(
        self,
        resource: str,
        *,
        filters: list[list[tuple[str, str, str]]] | None = None,
        sort: list[tuple[str, str]] | None = None,
    ) -> Iterator[list[dict]]:
        """Pages of a `getList`, until `total_count` rows were seen.

        Magento ≤ 2.3 answered a page past the end with the last page again, so the count,
        not an empty page, ends the loop (an empty page also ends it, against a count that
        shrank meanwhile).
        """
        page_number = 1
        seen = 0
        while True:
            params = criteria(
                filters=filters,
                sort=sort,
                page_size=self.options.page_size,
                current_page=page_number,
            )
            answer = self.call("GET", resource, params=params)
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise RemoteUnavailable(f"Magento answered {resource} without a list of items")
            rows = answer["items"]
            total = int(answer.get("total_count") or 0)
            if rows:
                yield rows
            seen += len(rows)
            if not rows or seen >= total:
                return
            page_number += 1

    def call(
        self,
        method: str,
        resource: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: JsonBody = None,
    ) -> Any:
        url = f"{self._root}/rest/{self.options.store_code}/V1/{resource}"
        uses_admin_token = not self.config.credentials.get("token")
        for attempt in (1, 2):
            token = self._bearer_token()
            response = self._send(
                method,
                url,
                params=params,
                json_body=json_body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            if response.status_code == 401 and uses_admin_token and attempt == 1:
                # Expired (4 h by default) or purged: fetch a new one, once.
                self._forget_admin_token(token)
                continue
            return self._decode(method, resource, response)
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: JsonBody = None,
        headers: Mapping[str, str],
    ) -> requests.Response:
        try:
            return self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=dict(headers),
                timeout=self.config.timeout_seconds,
            )
        except requests.Timeout:
            raise RemoteUnavailable(
                f"Magento {self._root} did not answer within {self.config.timeout_seconds:g} s"
            ) from None
        except requests.RequestException as failure:
            raise RemoteUnavailable(
                f"Magento {self._root} could not be reached: {type(failure).__name__}"
            ) from None

    def _decode(self, method: str, resource: str, response: requests.Response) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError:
                raise RemoteUnavailable(
                    f"Magento answered {method} {resource} with a body that is not JSON"
                ) from None
        body = _json_or_none(response)
        message = render_message(body) if body else (response.text or "")[:200]
        described = f"Magento answered {status} to {method} {resource}: {message}"
        raise_for_store_independent_status(response, described)
        if message == _NO_ROUTE:
            described += (
                f" (is store code {self.options.store_code!r} right, and is "
                f"{'the catalog inventory' if self.options.is_legacy_single_source else 'MSI'}"
                " installed?)"
            )
        raise MagentoRejected(
            described,
            status=status,
            template=(body or {}).get("message", "") if isinstance(body, dict) else "",
            parameters=(body or {}).get("parameters") if isinstance(body, dict) else None,
        )

    # Tokens ----------------------------------------------------------------------------
    def _token_key(self) -> tuple[str, str, str]:
        credentials = self.config.credentials
        secret = f"{credentials.get('username', '')}\0{credentials.get('password', '')}"
        return (
            self._root,
            credentials.get("username", ""),
            hashlib.sha256(secret.encode()).hexdigest(),
        )

    def _bearer_token(self) -> str:
        credentials = self.config.credentials
        if credentials.get("token"):
            return credentials["token"]
        if not credentials.get("username") or not credentials.get("password"):
            raise RemoteAuthFailed(
                "Magento credentials need either 'token' (an integration token) or "
                "'username' and 'password' (an admin user)"
            )
        key = self._token_key()
        with _admin_tokens_lock:
            token = _admin_tokens.get(key)
        if token:
            return token
        token = self._fetch_admin_token()
        with _admin_tokens_lock:
            _admin_tokens[key] = token
        return token

    def _forget_admin_token(self, token: str) -> None:
        key = self._token_key()
        with _admin_tokens_lock:
            if _admin_tokens.get(key) == token:
                del _admin_tokens[key]

    def _fetch_admin_token(self) -> str:
        url = f"{self._root}/rest/{self.options.store_code}/V1/integration/admin/token"
        credentials = self.config.credentials
        response = self._send(
            "POST",
            url,
            json_body={"username": credentials["username"], "password": credentials["password"]},
            headers={"Accept": "application/json"},
        )
        if response.status_code in (400, 401):
            body = _json_or_none(response)
            message = render_message(body) if body else ""
            if _TWO_FACTOR_HINT in message.lower():
                raise RemoteAuthFailed(
                    "Magento refuses admin tokens because two-factor authentication is on for "
                    "admin users. Use an integration token instead (credentials {'token': …}, "
                    "with 'Allow OAuth Access Tokens to be used as standalone Bearer tokens' "
                    f"enabled). Magento said: {message}",
                    status=response.status_code,
                    code="two_factor_required",
                )
            if response.status_code == 401:
                raise RemoteAuthFailed(
                    f"Magento refused the admin username and password: {message}",
                    status=401,
                )
        token = self._decode("POST", "integration/admin/token", response)
        if not isinstance(token, str) or not token:
            raise RemoteUnavailable("Magento answered the admin token request without a token")
        logger.info("Fetched a new Magento admin token for %s", self._root)
        return token


def render_message(body: object) -> str:
    """Magento's message with its %placeholders filled from `parameters` (and `errors`)."""
    if not isinstance(body, dict):
        return str(body)
    message = _fill(str(body.get("message") or ""), body.get("parameters"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        details = "; ".join(
            _fill(str(entry.get("message") or ""), entry.get("parameters"))
            for entry in errors
            if isinstance(entry, dict)
        )
        message = f"{message}: {details}" if message else details
    return message


def _fill(message: str, parameters: object) -> str:
    if isinstance(parameters, dict):
        for name in sorted(parameters, key=len, reverse=True):
            message = message.replace(f"%{name}", str(parameters[name]))
    elif isinstance(parameters, list):
        for position in range(len(parameters), 0, -1):
            message = message.replace(f"%{position}", str(parameters[position - 1]))
    return message


def magento_time(moment: datetime) -> str:
    """Magento compares its UTC "YYYY-MM-DD HH:MM:SS" timestamps as text."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_magento_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def criteria(
    *,
    filters: list[list[tuple[str, str, str]]] | None = None,
    sort: list[tuple[str, str]] | None = None,
    page_size: int | None = None,
    current_page: int | None = None,
) -> list[tuple[str, str]]:
    """searchCriteria as query parameters: each inner list is one OR group; groups AND."""
    params: list[tuple[str, str]] = []
    for group_number, group in enumerate(filters or []):
        for filter_number, (field, value, condition) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{group_number}][filters][{filter_number}]"
            params += [
                (f"{prefix}[field]", field),
                (f"{prefix}[value]", value),
                (f"{prefix}[condition_type]", condition),
            ]
    for number, (field, direction) in enumerate(sort or []):
        params += [
            (f"searchCriteria[sortOrders][{number}][field]", field),
            (f"searchCriteria[sortOrders][{number}][direction]", direction),
        ]
    if page_size is not None:
        params.append(("searchCriteria[pageSize]", str(page_size)))
    if current_page is not None:
        params.append(("searchCriteria[currentPage]", str(current_page)))
    return params or [("searchCriteria", "")]


def path_segment(value: str) -> str:
    return quote(value, safe="")


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
