"""Use cases of the organization core. Each public method is one transaction; adapters call only these."""

from __future__ import annotations

from datetime import timedelta

from gateway.services.account_migration import AccountMigrationService
from gateway.services.audit import AuditService
from gateway.services.base import Clock, Listener, TokenFactory, utcnow
from gateway.services.billing import BillingService
from gateway.services.break_glass import BreakGlassService
from gateway.services.connection_lifecycle import ConnectionLifecycleService
from gateway.services.connections import ConnectionService
from gateway.services.credentials import CredentialService
from gateway.services.domains import DnsTxtLookup, DomainService, TxtLookup
from gateway.services.invitations import InvitationService
from gateway.services.members import MemberService
from gateway.services.mode import ModeService
from gateway.services.oidc_connections import SecretBox
from gateway.services.orgs import OrgService
from gateway.services.projects import ProjectService
from gateway.services.provisioning import ProvisioningService
from gateway.services.saml_connections import SP_KEY_PURPOSE, SamlConnectionService
from gateway.services.saml_metadata_refresh import SamlMetadataRefresher
from gateway.services.scim_log import ScimLogService
from gateway.services.sessions import SessionService
from gateway.services.sso_logout import SsoLogoutService
from gateway.services.test_sign_in import SignInTestService
from gateway.storage.db import Database


class Services:
    """Every service over one database, one clock and one token source (all injectable in tests)."""

    def __init__(
        self,
        db: Database,
        clock: Clock = utcnow,
        tokens: TokenFactory | None = None,
        *,
        allow_private_targets: bool = False,
        secret_key: str | None = None,
        txt_lookup: TxtLookup | None = None,
        domain_claim_lifetime: timedelta | None = None,
    ) -> None:
        """``allow_private_targets`` (development only) lets Admin-chosen URLs the gateway fetches, like IdP
        metadata, point at loopback or private addresses; see ``gateway.services.outbound``. ``secret_key``
        (the gateway's) seals SAML SP private keys at rest; without it no SAML connection can be created.
        ``txt_lookup`` answers the DNS TXT lookups that prove domain claims (a real resolver by default), and
        ``domain_claim_lifetime`` is how long a claim may stay pending."""
        self.db = db
        self.clock = clock
        tokens = tokens or TokenFactory()
        self.tokens = tokens
        self.listeners: list[Listener] = []
        # What any further service needs, ``SomeService(*services.deps)``, so it shares clock and listeners.
        deps = self.deps = (db, clock, tokens, self.listeners)
        self.domains = DomainService(*deps)
        self.domains.txt_lookup = txt_lookup or DnsTxtLookup()
        if domain_claim_lifetime is not None:
            self.domains.claim_lifetime = domain_claim_lifetime
        self.orgs = OrgService(*deps)
        self.orgs.domains = self.domains
        self.members = MemberService(*deps)
        self.invitations = InvitationService(*deps, members=self.members)
        self.mode = ModeService(*deps)
        self.projects = ProjectService(*deps)
        self.credentials = CredentialService(*deps)
        self.sessions = SessionService(*deps)
        self.connections = ConnectionService(*deps)
        self.audit = AuditService(*deps)
        self.billing = BillingService(*deps)
        self.migrations = AccountMigrationService(*deps)
        sp_key_box = SecretBox(secret_key, SP_KEY_PURPOSE) if secret_key else None
        self.saml_connections = SamlConnectionService(
            *deps, allow_private_targets=allow_private_targets, box=sp_key_box
        )
        self.saml_connections.domains = self.domains
        self.provisioning = ProvisioningService(*deps)
        self.connection_lifecycle = ConnectionLifecycleService(*deps)
        self.break_glass = BreakGlassService(*deps)
        self.sign_in_tests = SignInTestService(*deps)
        self.scim_log = ScimLogService(*deps)
        self.sso_logout = SsoLogoutService(*deps)
        self.saml_metadata = SamlMetadataRefresher(*deps, saml=self.saml_connections)
