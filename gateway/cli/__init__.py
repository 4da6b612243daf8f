"""The ``gateway`` console script: a Flask CLI group whose commands live in this package's modules.

Every module here registers its commands on ``cli`` (or on a group defined in another module of the package);
all of them are imported when the script starts, so adding a command is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask.cli import FlaskGroup

from gateway.app import create_app


def _create_app():  # type: ignore[no-untyped-def]
    return create_app()


cli = FlaskGroup(
    name="gateway",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    help="Identity gateway: organizations, membership mode, SSO connections, SCIM tokens and keys.",
)


def _load_commands() -> None:
    for info in sorted(
        pkgutil.iter_modules(__path__), key=lambda i: (i.name != "output", i.name != "core", i.name)
    ):
        importlib.import_module(f"{__name__}.{info.name}")


def main() -> None:
    _load_commands()
    cli.main(prog_name="gateway")
