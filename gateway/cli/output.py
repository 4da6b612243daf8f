"""Printing command results: a short human line, or the whole result as JSON with ``--json``;
domain errors become a clear message (or a JSON error object) and exit status 1."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from gateway.domain.errors import DomainError, Unavailable


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(fn)


def emit(as_json: bool, data: Any, human: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(human)


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a DomainError into a readable message on stderr (or JSON on stdout) and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (SQLAlchemyError, Unavailable) as error:
            cause = getattr(error, "orig", None) or error.__cause__ or error
            detail = (
                "The database is unreachable or not migrated "
                f"({type(cause).__name__}). Run `gateway db upgrade` and check GATEWAY_DATABASE_URL."
            )
            if kwargs.get("as_json"):
                click.echo(json.dumps({"error": "database_unavailable", "detail": detail}, indent=2))
            else:
                click.echo(f"Error: {detail}", err=True)
            sys.exit(1)
        except DomainError as error:
            if kwargs.get("as_json"):
                click.echo(
                    json.dumps(
                        {"error": error.code, "detail": error.message, **error.details}, indent=2, default=str
                    )
                )
            else:
                click.echo(f"Error: {error.message}", err=True)
            sys.exit(1)

    return wrapper
