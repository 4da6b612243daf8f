"""``/login``: email first, home-realm discovery by verified domain, then the organization's way in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services

CLI = m.Actor.cli()


def sso_org(services: Services, slug: str = "acme", domain: str = "acme.test") -> m.Organization:
    return services.orgs.create(slug.title(), m.MembershipMode.SSO, CLI, slug=slug, domains=[domain]).org


def connect(
    services: Services, org: m.Organization, protocol: m.ConnectionProtocol, name: str
) -> m.SsoConnection:
    return services.connections.add(org.id, protocol, name, CLI)


def post_login(client: FlaskClient, email: str, next_url: str | None = None):  # type: ignore[no-untyped-def]
    data = {"email": email}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


def test_login_page_asks_for_an_email(client: FlaskClient) -> None:
    response = client.get("/login?next=/me")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="email"' in html and 'value="/me"' in html


def test_login_page_drops_an_unsafe_next(client: FlaskClient) -> None:
    assert "evil" not in client.get("/login?next=//evil.example").get_data(as_text=True)


def test_invalid_email_is_explained(client: FlaskClient) -> None:
    response = post_login(client, "not-an-email")
    assert response.status_code == 400
    assert "Enter a valid email address." in response.get_data(as_text=True)


def test_email_of_an_oidc_organization_goes_to_its_connection(
    client: FlaskClient, app_services: Services
) -> None:
    org = sso_org(app_services)
    connection = connect(app_services, org, m.ConnectionProtocol.OIDC, "okta")

    response = post_login(client, "Alice@ACME.test", next_url="/me")

    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/oidc/{connection.slug}/login"
    assert parse_qs(target.query) == {"next": ["/me"], "login_hint": ["alice@acme.test"]}


def test_email_of_a_saml_organization_goes_to_its_saml_connection(
    client: FlaskClient, app_services: Services
) -> None:
    org = sso_org(app_services)
    connection = connect(app_services, org, m.ConnectionProtocol.SAML, "entra")
    response = post_login(client, "bob@acme.test")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == f"/saml/{connection.slug}/login"


def test_unsafe_next_is_not_forwarded_to_the_connection(client: FlaskClient, app_services: Services) -> None:
    connect(app_services, sso_org(app_services), m.ConnectionProtocol.OIDC, "okta")
    for target in ("//evil.example", "https://evil.example", "/\\evil.example", "%2F%2Fevil.example"):
        response = post_login(client, "bob@acme.test", next_url=target)
        assert "next" not in parse_qs(urlsplit(response.headers["Location"]).query), target


def test_several_connections_let_the_person_choose(client: FlaskClient, app_services: Services) -> None:
    org = sso_org(app_services)
    first = connect(app_services, org, m.ConnectionProtocol.OIDC, "okta")
    second = connect(app_services, org, m.ConnectionProtocol.SAML, "entra")
    response = post_login(client, "bob@acme.test")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"/oidc/{first.slug}/login" in html and f"/saml/{second.slug}/login" in html


def test_disabled_connection_is_not_used_and_the_page_says_what_to_do(
    client: FlaskClient, app_services: Services
) -> None:
    org = sso_org(app_services)
    connection = connect(app_services, org, m.ConnectionProtocol.OIDC, "okta")
    app_services.connections.set_enabled(org.id, connection.id, False, CLI, override=True)
    response = post_login(client, "bob@acme.test")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "no active single sign-on connection" in html and "Admin" in html


def test_invitation_mode_organization_is_told_to_use_the_platform_provider(
    client: FlaskClient, app_services: Services
) -> None:
    app_services.orgs.create(
        "Initech", m.MembershipMode.INVITATION, CLI, slug="initech", domains=["initech.test"]
    )
    response = post_login(client, "ivy@initech.test", next_url="/me")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Initech signs in with" in html
    assert "/login/platform?next=%2Fme&amp;login_hint=ivy%40initech.test" in html


def test_unknown_domain_explains_what_to_do(client: FlaskClient) -> None:
    response = post_login(client, "someone@nowhere.test")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No organization uses nowhere.test" in html and "invitation" in html


def test_unverified_domain_does_not_route_to_the_organization(
    client: FlaskClient, app_services: Services
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, slug="acme").org
    app_services.orgs.add_domain(org.id, "acme.test", CLI, verified=False)
    connect(app_services, org, m.ConnectionProtocol.OIDC, "okta")
    response = post_login(client, "bob@acme.test")
    assert response.status_code == 200
    assert "No organization uses acme.test" in response.get_data(as_text=True)


def test_invitation_link_without_a_valid_token_gets_a_clear_page(client: FlaskClient) -> None:
    for path in ("/invitations/accept", "/invitations/accept?token=inv_unknown"):
        response = client.get(path)
        assert response.status_code == 404
        assert "This invitation link is not valid" in response.get_data(as_text=True)
        assert client.get("/me").status_code == 401


def test_platform_sign_in_explains_when_it_is_not_configured(client: FlaskClient) -> None:
    response = client.get("/login/platform?next=/me")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Platform sign-in is not available" in html and "GATEWAY_PLATFORM_CLIENT_ID" in html
