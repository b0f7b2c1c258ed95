"""The TFE client against the fake TFE: errors, retries, rate limits, pagination."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from bot.clients.http import RateLimiter, RetryPolicy, retry_after
from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from tests.fakes.base import Reply
from tests.fakes.tfe import TOKEN, FakeTFE, error_body

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=2)


@pytest.fixture
def tfe() -> Iterator[FakeTFE]:
    fake = FakeTFE().start()
    fake.add_organization("acme-infra")
    yield fake
    fake.stop()


def client(fake: FakeTFE, token: str = TOKEN, **kwargs) -> TFEClient:  # type: ignore[no-untyped-def]
    return TFEClient(fake.url, token, policy=kwargs.pop("policy", FAST), **kwargs)


def create(c: TFEClient, org: str = "acme-infra", name: str = "n"):  # type: ignore[no-untyped-def]
    return c.create_oauth_client(
        org,
        name=name,
        key="fake-key",
        secret="fake-secret-value-0001",
        http_url="https://bitbucket.org",
        api_url="https://api.bitbucket.org/2.0",
    )


def test_organization_and_permission(tfe: FakeTFE) -> None:
    org = client(tfe).get_organization("acme-infra")
    assert org.name == "acme-infra" and org.can_update_oauth is True
    tfe.add_organization("old", can_update_oauth=None)
    assert client(tfe).get_organization("old").can_update_oauth is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, TFEErrorKind.UNAUTHORIZED),
        (403, TFEErrorKind.FORBIDDEN),
        (404, TFEErrorKind.NOT_FOUND),
        (422, TFEErrorKind.INVALID),
        (418, TFEErrorKind.UNEXPECTED),
    ],
)
def test_statuses_become_kinds(tfe: FakeTFE, status: int, kind: TFEErrorKind) -> None:
    tfe.fail(
        "GET",
        r"/api/v2/organizations/acme-infra",
        status=status,
        body={"errors": [{"status": str(status), "title": "t", "detail": "d"}]},
    )
    with pytest.raises(TFEError) as raised:
        client(tfe).get_organization("acme-infra")
    assert raised.value.kind == kind and raised.value.status == status


def test_wrong_token_is_unauthorized(tfe: FakeTFE) -> None:
    with pytest.raises(TFEError) as raised:
        client(tfe, token="wrong").get_organization("acme-infra")
    assert raised.value.kind == TFEErrorKind.UNAUTHORIZED
    assert "TFE_TOKEN" in raised.value.user_message


def test_plain_string_errors_are_read(tfe: FakeTFE) -> None:
    tfe.fail("GET", r"/api/v2/organizations/x", status=404, body={"errors": ["not found"]})
    with pytest.raises(TFEError) as raised:
        client(tfe).get_organization("x")
    assert raised.value.details == ("not found",)


def test_422_pointer_maps_to_attribute(tfe: FakeTFE) -> None:
    tfe.fail(
        "POST",
        r"/api/v2/organizations/acme-infra/oauth-clients",
        status=422,
        body=error_body(422, "invalid attribute", "Key is bad", "key"),
    )
    with pytest.raises(TFEError) as raised:
        create(client(tfe))
    assert raised.value.fields == {"key": "Key is bad"}


def test_5xx_on_reads_is_retried(tfe: FakeTFE) -> None:
    tfe.fail("GET", r"/api/v2/organizations/acme-infra", status=502, times=2)
    assert client(tfe).get_organization("acme-infra").name == "acme-infra"
    assert len(tfe.requests_to("GET", r"/api/v2/organizations/acme-infra")) == 3


def test_5xx_on_create_is_not_retried_blindly(tfe: FakeTFE) -> None:
    tfe.fail("POST", r"/api/v2/organizations/acme-infra/oauth-clients", status=500)
    with pytest.raises(TFEError) as raised:
        create(client(tfe))
    assert raised.value.outcome_unknown
    assert len(tfe.requests_to("POST", r"/api/v2/organizations/acme-infra/oauth-clients")) == 1


def test_timeout_is_unavailable(tfe: FakeTFE) -> None:
    tfe.fail("GET", r"/api/v2/organizations/acme-infra", delay=1.0, times=5)
    slow = client(tfe, timeout=httpx.Timeout(0.2))
    with pytest.raises(TFEError) as raised:
        slow.get_organization("acme-infra")
    assert raised.value.kind == TFEErrorKind.UNAVAILABLE


@pytest.mark.parametrize("header", ["Retry-After", "X-RateLimit-Reset"])
def test_429_waits_as_told(tfe: FakeTFE, header: str) -> None:
    tfe.fail("GET", r"/api/v2/organizations/acme-infra", status=429, headers={header: "0.5"})
    started = time.monotonic()
    client(tfe).get_organization("acme-infra")
    assert time.monotonic() - started >= 0.5


def test_retry_after_forms() -> None:
    def response(**headers: str) -> httpx.Response:
        return httpx.Response(429, headers=headers)

    assert retry_after(response(**{"Retry-After": "3"})) == 3
    assert retry_after(response(**{"X-RateLimit-Reset": "0.25"})) == 0.25
    assert retry_after(response(**{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after(response()) is None


def test_shared_limiter_keeps_all_callers_under_the_rate(tfe: FakeTFE) -> None:
    tfe.rate_limit = 10
    limiter = RateLimiter(8)  # at most 9 in any second; the fake refuses an 11th
    clients = [client(tfe, limiter=limiter) for _ in range(3)]
    for i in range(24):
        clients[i % 3].get_organization("acme-infra")
    # 24 calls at 8/s from three clients sharing one limiter: TFE never said 429.
    assert not [r for r in tfe.requests if r.path.endswith("acme-infra")][24:]


def test_lists_follow_pages(tfe: FakeTFE) -> None:
    c = client(tfe)
    for i in range(5):
        create(c, name=f"c{i}")
    original = tfe._list

    def paginated(request, match):  # type: ignore[no-untyped-def]
        request.query["page[size]"] = ["2"]  # this TFE serves at most 2 a page
        return original(request, match)

    tfe.routes = [(m, p, paginated if h == original else h) for m, p, h in tfe.routes]
    assert sorted(x.name for x in c.list_oauth_clients("acme-infra")) == [f"c{i}" for i in range(5)]


def test_non_json_answer_is_explained(tfe: FakeTFE) -> None:
    tfe.route(
        "GET",
        r"/api/v2/organizations/html",
        lambda r, m: Reply(200, "<html>", content_type="text/html"),
    )
    tfe.routes.insert(0, tfe.routes.pop())
    with pytest.raises(TFEError) as raised:
        client(tfe).get_organization("html")
    assert "TFE_URL" in raised.value.user_message
