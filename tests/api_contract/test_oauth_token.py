"""``POST /token`` with third-party OAuth2 clients (Authlib, requests-oauthlib) against a real
``quarkbot serve``, and its RFC 6749 section 5.2 error bodies (``detail`` kept)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from oauthlib.oauth2 import InvalidGrantError, LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from quarkbot.testing import bearer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(module_deployment: Any) -> Iterator[tuple[str, str, str]]:
    """(token URL, admin username, admin password) of a server shared by this module."""
    with module_deployment() as d:
        server = d.serve()
        username, password = d.admin_credentials()
        yield f"{server.base_url}/token", username, password


def _me(token_url: str, access_token: str) -> dict[str, Any]:
    response = httpx.get(
        token_url.replace("/token", "/api/v1/auth/me"), headers=bearer(access_token), timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_authlib_password_grant(live):
    token_url, username, password = live
    with OAuth2Client(timeout=30) as client:
        token = client.fetch_token(token_url, username=username, password=password)
        assert token["token_type"] == "bearer" and token["expires_in"] > 0
        assert _me(token_url, token["access_token"])["username"] == username

        with pytest.raises(OAuthError) as raised:
            client.fetch_token(token_url, username=username, password="not-the-password")
    assert raised.value.error == "invalid_grant"
    assert raised.value.description == "Incorrect username or password"


def test_requests_oauthlib_password_grant(live, monkeypatch):
    token_url, username, password = live
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback
    # A client id goes as HTTP Basic with an empty secret (requests-oauthlib's default) or in the
    # body: a public client either way.
    session = OAuth2Session(client=LegacyApplicationClient(client_id="notebook"))
    token = session.fetch_token(token_url, username=username, password=password)
    assert _me(token_url, token["access_token"])["username"] == username
    token = session.fetch_token(
        token_url, username=username, password=password, include_client_id=True
    )
    assert _me(token_url, token["access_token"])["username"] == username

    with pytest.raises(InvalidGrantError) as raised:
        session.fetch_token(token_url, username=username, password="not-the-password")
    assert raised.value.description == "Incorrect username or password"


def _post(token_url: str, form: dict[str, str], **kwargs: Any) -> httpx.Response:
    response = httpx.post(token_url, data=form, timeout=30, **kwargs)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    return response


def test_error_bodies_follow_rfc_6749_and_keep_detail(live):
    token_url, username, password = live
    wrong = _post(token_url, {"grant_type": "password", "username": "nobody", "password": "x"})
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "Incorrect username or password",
        "detail": "Incorrect username or password",
    }

    missing = _post(token_url, {"grant_type": "password", "username": username})
    assert missing.status_code == 400
    body = missing.json()
    assert body["error"] == "invalid_request" and "password" in body["error_description"]
    assert [item["loc"] for item in body["detail"]] == [["body", "password"]]

    other = _post(token_url, {"grant_type": "client_credentials", "username": "a", "password": "b"})
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"

    secret = {"username": username, "password": password, "client_secret": "s3cret"}
    refused = _post(token_url, {**secret, "client_id": "app"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    basic = base64.b64encode(b"app:s3cret").decode()
    form = {"username": username, "password": password}
    refused = _post(token_url, form, headers={"Authorization": f"Basic {basic}"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert refused.headers["WWW-Authenticate"].startswith("Basic")

    # What Swagger UI's Authorize sends with empty client fields: a public client, accepted.
    empty = base64.b64encode(b":").decode()
    ok = _post(token_url, form, headers={"Authorization": f"Basic {empty}"})
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"
