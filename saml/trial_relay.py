"""The RelayState that marks an IdP response as the answer to a test sign-in (``saml.trial``).

The marker only routes the response; the test flow then requires ``InResponseTo`` to name a remembered *test*
AuthnRequest, so a forged marker gets nothing a real response would not."""

from __future__ import annotations

PREFIX = "gw-test:"


def trial_relay(next_url: str) -> str:
    return PREFIX + next_url


def is_test_relay(relay_state: str | None) -> bool:
    return bool(relay_state) and str(relay_state).startswith(PREFIX)


def next_of(relay_state: str | None) -> str:
    return str(relay_state or "").removeprefix(PREFIX)
