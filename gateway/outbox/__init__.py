"""The transactional outbox: invitation emails and membership webhooks, written in the same transaction as the
change they announce and delivered by ``gateway worker``.

- ``writer``: the services listener that writes outbox rows inside each use case's transaction;
- ``worker``: claims due messages (row locks), sends them, retries with backoff, dead-letters;
- ``mailer`` / ``emails``: SMTP (or the development mailbox) and the invitation email;
- ``webhook_sender`` / ``signing``: Standard Webhooks signed POSTs (which URLs are allowed: ``gateway.services.outbound``).

This module stays import-light (storage maps the outbox tables while ``gateway.storage`` itself loads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from gateway.outbox.chores import Chore
    from gateway.outbox.worker import DeliveryWorker


def init_outbox(app: Flask) -> None:
    """Install the outbox writer as a services listener and the webhook service on ``services().webhooks``."""
    from gateway.outbox.sealing import Sealer
    from gateway.outbox.writer import OutboxWriter
    from gateway.services.webhooks import WebhookService

    settings = app.extensions["gateway.settings"]
    services = app.extensions["gateway.services"]
    sealer = Sealer(settings.secret_key)
    services.listeners.append(OutboxWriter(sealer, services.clock))
    services.webhooks = WebhookService(
        *services.deps,
        sealer=sealer,
        allow_private_targets=not settings.is_production,
    )
    app.extensions["gateway.outbox.sealer"] = sealer


def build_worker(app: Flask, **options: object) -> DeliveryWorker:
    """A delivery worker wired from the app's settings, services and ``gateway/config/email.toml``."""
    from gateway.outbox.expiry import InvitationExpiry
    from gateway.outbox.mailer import build_mailer, load_email_config
    from gateway.outbox.webhook_sender import WebhookSender
    from gateway.outbox.worker import DeliveryWorker

    settings = app.extensions["gateway.settings"]
    services = app.extensions["gateway.services"]
    options.setdefault("chores", periodic_chores(app))
    return DeliveryWorker(
        services.db,
        clock=services.clock,
        mailer=build_mailer(settings, load_email_config()),
        sender=WebhookSender(allow_private=not settings.is_production),
        sealer=app.extensions["gateway.outbox.sealer"],
        public_url=settings.public_url,
        expiry=InvitationExpiry(services.db, services.clock, services.orgs.tokens, services.listeners),
        **options,  # type: ignore[arg-type]
    )


def periodic_chores(app: Flask) -> list[Chore]:
    """The worker's periodic maintenance: refreshing SAML IdP metadata from its URL (every
    ``GATEWAY_SAML_METADATA_REFRESH_HOURS``; 0 turns it off) and purging SCIM request log rows older than
    ``GATEWAY_SCIM_LOG_RETENTION_DAYS``."""
    from datetime import timedelta

    from gateway.outbox.chores import Chore

    settings = app.extensions["gateway.settings"]
    services = app.extensions["gateway.services"]
    chores = []
    hours = settings.saml_metadata_refresh_hours
    if hours > 0:
        every = timedelta(hours=hours)
        # Checked every few minutes; each connection is refreshed once its last attempt is ``every`` old.
        chores.append(
            Chore(
                "saml-metadata-refresh",
                min(every, timedelta(minutes=5)),
                lambda: services.saml_metadata.refresh_due(every),
            )
        )
    days = settings.scim_log_retention_days
    if days > 0:
        chores.append(
            Chore("scim-log-purge", timedelta(hours=1), lambda: services.scim_log.purge(timedelta(days=days)))
        )
    return chores
