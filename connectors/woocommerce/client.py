"""HTTP to WooCommerce's REST API v3: authentication, paging and error mapping.

Errors become the `connectors.base` errors: timeouts, refused connections and 5xx are
`RemoteUnavailable`, 429 `RemoteThrottled`, 401/403 `RemoteAuthFailed`, any other answer
outside 2xx `RemoteRejected`. Credentials never appear in log lines or exception messages;
request URLs (which may carry query-string keys) are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Iterator, Mapping
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

logger = logging.getLogger(__name__)

API_PREFIX = "/wp-json/wc/v3"


class WooCommerceClient:
    """One store's REST API under `/wp-json/wc/v3/`."""

    def __init__(
        self,
        config: ConnectorConfig,
        session: requests.Session,
        *,
        base_url: str,
        auth_mode: str,
        page_size: int,
    ) -> None:
        self.config = config
        self.session = session
        self.base_url = base_url
        self.auth_mode = auth_mode
        self.page_size = page_size

    def pages(self, path: str, params: Mapping[str, str]) -> Iterator[dict]:
        page = 1
        while True:
            query = {
                **params,
                "per_page": self.page_size,
                "page": page,
                "orderby": "id",
                "order": "asc",
            }
            response = self.request("GET", path, params=query)
            items = self.json(response, f"GET {path_shape(path)}")
            if not isinstance(items, list):
                raise RemoteUnavailable(
                    f"WooCommerce answered GET {path_shape(path)} with something not a list"
                )
            yield from (item for item in items if isinstance(item, dict))
            total_pages = _int_header(response, "X-WP-TotalPages")
            if total_pages is None:
                if len(items) < self.page_size:
                    return
            elif page >= total_pages:
                return
            if not items:
                return
            page += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: JsonBody = None,
    ) -> requests.Response:
        url = f"{self.base_url}{API_PREFIX}{path}"
        shown = f"{method} {path_shape(path)}"
        query = {key: str(value) for key, value in (params or {}).items()}
        auth = None
        mode = self.auth_mode
        if mode == "auto":
            mode = "basic" if url.startswith("https://") else "oauth1"
        key, secret = self._credentials()
        if mode == "basic":
            auth = (key, secret)
        elif mode == "query":
            query |= {"consumer_key": key, "consumer_secret": secret}
        else:
            query |= _oauth_parameters(method, url, query, key, secret)
        started = time.monotonic()
        failure = ""
        response = None
        try:
            response = self.session.request(
                method,
                url,
                params=query,
                json=json,
                auth=auth,
                timeout=self.config.timeout_seconds,
                allow_redirects=False,
                headers={"Accept": "application/json"},
            )
        except requests.Timeout:
            failure = f"did not answer {shown} within {self.config.timeout_seconds:g} s"
        except requests.RequestException as error:
            # The exception's text holds the full URL, query-string keys included.
            failure = f"could not be reached for {shown} ({type(error).__name__})"
        # Raised outside the except blocks so no exception chain carries the URL along.
        if failure:
            raise RemoteUnavailable(f"WooCommerce {failure}")
        assert response is not None
        logger.debug(
            "WooCommerce %s -> %s in %.0f ms",
            shown,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        self._raise_for_status(
            response, shown, is_auto_oauth=self.auth_mode == "auto" and mode == "oauth1"
        )
        return response

    def _raise_for_status(
        self, response: requests.Response, shown: str, *, is_auto_oauth: bool = False
    ) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        code, message = _error_details(response)
        detail = self._redact(f"{code}: {message}" if code else message)
        text = f"WooCommerce answered {status} to {shown}" + (f" ({detail})" if detail else "")
        if is_auto_oauth and status in (401, 403):
            # A merchant who gave a working key sees 401 and suspects the key; say what
            # was actually sent, since a plain-http store cannot accept anything else.
            text += (
                '. Auth "auto" signed it with OAuth 1.0a because base_url is plain http: '
                "WooCommerce accepts HTTP Basic and query-string keys only over HTTPS. Check "
                "the consumer key and secret and the store's clock (signatures hold 15 "
                "minutes), or use an https:// base_url"
            )
        raise_for_store_independent_status(response, text, code=code)
        if 300 <= status < 400:
            raise RemoteRejected(
                f"{text}: the store redirects elsewhere; check base_url (http or https, www)",
                status=status,
                code=code,
            )
        raise RemoteRejected(text, status=status, code=code)

    def json(self, response: requests.Response, shown: str):
        try:
            return response.json()
        except ValueError:
            # A maintenance page or a proxy's error page: try again later.
            raise RemoteUnavailable(
                f"WooCommerce answered {shown} with something not JSON"
            ) from None

    def _credentials(self) -> tuple[str, str]:
        key = str(self.config.credentials.get("consumer_key") or "")
        secret = str(self.config.credentials.get("consumer_secret") or "")
        if not key or not secret:
            raise RemoteAuthFailed("credentials need both consumer_key and consumer_secret")
        return key, secret

    def _redact(self, text: str) -> str:
        for value in self.config.credentials.values():
            if value and len(str(value)) >= 4:
                text = text.replace(str(value), "***")
        return text[:300]


def path_shape(path: str) -> str:
    """The path with ids replaced, for messages that must not grow per product."""
    return re.sub(r"/\d+", "/<id>", path)


def _oauth_parameters(
    method: str, url: str, query: Mapping[str, str], key: str, secret: str
) -> dict[str, str]:
    """OAuth 1.0a one-legged, as WC_REST_Authentication::check_oauth_signature() checks it."""
    oauth = {
        "oauth_consumer_key": key,
        "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": str(int(time.time())),
    }
    params = {**query, **oauth}
    pairs = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items()))
    base_string = "&".join([method.upper(), _rfc3986(url), _rfc3986(pairs)])
    digest = hmac.new(f"{secret}&".encode(), base_string.encode(), hashlib.sha256).digest()
    return {**oauth, "oauth_signature": base64.b64encode(digest).decode()}


def _rfc3986(text: str) -> str:
    return quote(str(text), safe="~")


def _error_details(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("code") or ""), str(body.get("message") or "")


def _int_header(response: requests.Response, name: str) -> int | None:
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None
