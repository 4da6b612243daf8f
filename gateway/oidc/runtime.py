"""What the OIDC adapter keeps per application: its services, the JWKS cache and the platform provider."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.oidc.jwks import JwksCache
from gateway.oidc.platform import PlatformDirectory
from gateway.services.base import Clock
from gateway.services.oidc_connections import OidcConnectionService, OidcLoginService
from gateway.services.outbound import OutboundPolicy


@dataclass
class OidcRuntime:
    connections: OidcConnectionService
    logins: OidcLoginService
    jwks: JwksCache
    platform: PlatformDirectory
    clock: Clock
    outbound: OutboundPolicy
    """Which provider URLs may be called (shared with the connection service, JWKS cache and platform)."""
