"""Property tests of the pure core (hypothesis): invariants over many generated values."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import model as m
from gateway.domain.errors import InvalidInput
from gateway.domain.policy import normalize_email, slugify

from .factories import invitation

_ATOM = st.text(alphabet=string.ascii_letters + string.digits + "._+-", min_size=1, max_size=20)
_LABEL = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=15)
_SPACE = st.text(alphabet=" \t\n", max_size=3)


@st.composite
def emails(draw: st.DrawFn) -> str:
    labels = draw(st.lists(_LABEL, min_size=2, max_size=4))
    return draw(_SPACE) + draw(_ATOM) + "@" + ".".join(labels) + draw(_SPACE)


@given(emails())
def test_normalize_email_is_idempotent_on_addresses(raw: str) -> None:
    once = normalize_email(raw)
    assert normalize_email(once) == once
    assert once == raw.strip().lower()


@given(st.text(max_size=60))
def test_normalize_email_either_refuses_or_gives_a_trimmed_lowercase_fixpoint(raw: str) -> None:
    try:
        once = normalize_email(raw)
    except InvalidInput:
        return
    assert once == once.strip() == once.lower()
    assert once.count("@") == 1
    assert once.isprintable()
    once.encode("utf-8")  # storable: no unpaired surrogates
    assert normalize_email(once) == once


_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@given(st.text(max_size=120))
def test_slugify_output_is_a_clean_label_or_refused(name: str) -> None:
    try:
        slug = slugify(name)
    except InvalidInput:
        assert not re.search(r"[a-z0-9]", name.lower())
        return
    assert _SLUG.match(slug), slug
    assert "--" not in slug
    assert slugify(slug) == slug


_OFFSETS = st.integers(min_value=-10 * 24 * 3600, max_value=20 * 24 * 3600)


@given(st.sampled_from(list(m.InvitationStatus)), _OFFSETS, _OFFSETS)
def test_invitation_status_is_monotonic_in_time(status: m.InvitationStatus, a: int, b: int) -> None:
    sent = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    stored = invitation(sent_at=sent, status=status)
    early, late = sorted((sent + timedelta(seconds=a), sent + timedelta(seconds=b)))
    before, after = stored.status_at(early), stored.status_at(late)
    if before is m.InvitationStatus.EXPIRED:
        assert after is m.InvitationStatus.EXPIRED
    if after is m.InvitationStatus.PENDING:
        assert before is m.InvitationStatus.PENDING
    if status is not m.InvitationStatus.PENDING:
        assert before is after is status
