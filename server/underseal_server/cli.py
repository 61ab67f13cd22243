"""``underseal-server``: run and operate the records server, the custodians and the ceremony.

Settings come from the environment (``UNDERSEAL_RECORDS_*``,
``UNDERSEAL_CUSTODIAN_*``; see ``docs/server.md``), so secrets never appear
on a command line or in ``ps``. Every command exits non-zero with a one-line
reason on bad input.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Annotated, NoReturn

import httpx2 as httpx
import typer
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from underseal.encoding import b64d, b64e
from underseal.epochs import epoch_of
from underseal.errors import UndersealError
from underseal_server import auditlog
from underseal_server.auditor import AuditFailure, audit
from underseal_server.ceremony import CeremonyError, CustodianEndpoint, prepare_epochs
from underseal_server.clock import OffsetFileClock, system_clock
from underseal_server.custodian.settings import CustodianSettings
from underseal_server.db import make_engine, session_scope
from underseal_server.identity import Role, issue_token
from underseal_server.investigator import ANSWER_DEADLINE, InvestigationError, investigate
from underseal_server.records.settings import RecordsSettings
from underseal_server.retention import PRESETS

app = typer.Typer(
    help="Run and operate the underseal records server, key custodians, key ceremony, "
    "investigations and audits. Settings come from UNDERSEAL_* environment variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
records_app = typer.Typer(help="The records server.", no_args_is_help=True)
custodian_app = typer.Typer(help="A key custodian.", no_args_is_help=True)
app.add_typer(records_app, name="records")
app.add_typer(custodian_app, name="custodian")
out = Console(soft_wrap=True)
err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print a reason and exit 1 (never a traceback for bad input)."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _records_settings() -> RecordsSettings:
    try:
        return RecordsSettings()  # fields come from the environment
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
        fail(f"records server settings are missing or invalid: {fields} (UNDERSEAL_RECORDS_*)")


def _custodian_settings() -> CustodianSettings:
    try:
        return CustodianSettings()  # fields come from the environment
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
        fail(f"custodian settings are missing or invalid: {fields} (UNDERSEAL_CUSTODIAN_*)")


# --- keys ------------------------------------------------------------------------------


@app.command()
def keygen(
    kind: Annotated[str, typer.Argument(help="records, custodian, dealer, court or camera")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write here (mode 0600) instead of stdout")
    ] = None,
) -> None:
    """Generate fresh keys as environment lines (secrets) plus the public halves to enrol."""
    lines: list[str] = []
    if kind == "records":
        authority, log = SigningKey.generate(), SigningKey.generate()
        lines += [
            f"UNDERSEAL_RECORDS_AUTHORITY_KEY={b64e(bytes(authority))}",
            f"UNDERSEAL_RECORDS_LOG_KEY={b64e(bytes(log))}",
            f"# public: authority {b64e(bytes(authority.verify_key))}",
            f"# public: log {b64e(bytes(log.verify_key))}",
        ]
    elif kind == "custodian":
        signing, box = SigningKey.generate(), PrivateKey.generate()
        lines += [
            f"UNDERSEAL_CUSTODIAN_SIGNING_KEY={b64e(bytes(signing))}",
            f"UNDERSEAL_CUSTODIAN_BOX_KEY={b64e(bytes(box))}",
            f"# public: verify_key {b64e(bytes(signing.verify_key))}",
            f"# public: box_key {b64e(bytes(box.public_key))}",
        ]
    elif kind in {"dealer", "court", "camera"}:
        key = SigningKey.generate()
        lines += [
            f"UNDERSEAL_{kind.upper()}_KEY={b64e(bytes(key))}",
            f"# public: verify_key {b64e(bytes(key.verify_key))}",
        ]
        if kind == "camera":
            box = PrivateKey.generate()
            lines += [
                f"UNDERSEAL_CAMERA_BOX_KEY={b64e(bytes(box))}",
                f"# public: box_key {b64e(bytes(box.public_key))}",
            ]
    else:
        fail("kind must be one of records, custodian, dealer, court, camera")
    text = "\n".join(lines) + "\n"
    if out_file is None:
        out.print(text, end="", markup=False, highlight=False)
        return
    try:
        fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{out_file} exists: a key file is never overwritten")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    err.print(f"wrote {out_file} (mode 0600)")


@app.command()
def presets() -> None:
    """Retention presets and the laws they are named for."""
    table = Table("preset", "days")
    for name, days in PRESETS.items():
        table.add_row(name, str(days))
    out.print(table)


# --- services ----------------------------------------------------------------------------


def _serve(factory: str, host: str, port: int, workers: int = 1) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers == 1:
        uvicorn.run(factory, factory=True, host=host, port=port, log_level="info")
        return
    # An import string and factory=True: each worker process builds its own app.
    config = uvicorn.Config(
        factory, factory=True, host=host, port=port, workers=workers, log_level="info"
    )
    try:
        sock = _tcp_listener(host, port)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror}")
    Multiprocess(config, sockets=[sock]).run()


def _tcp_listener(host: str, port: int) -> socket.socket:
    """A listening socket shared by the workers, made with ``IPPROTO_TCP``.

    uvicorn 0.54 binds the workers' shared socket with protocol 0, so asyncio
    never sets ``TCP_NODELAY`` on the connections it accepts (it checks the
    protocol), and Nagle's algorithm holds small replies for the peer's
    delayed ACK: about 40 ms a request (Kludex/uvicorn#3149). One process
    binds its own socket and is not affected.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@records_app.command("serve")
def records_serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8400,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="processes (more than 1 needs PostgreSQL)")
    ] = 1,
) -> None:
    """Run the records server (settings from UNDERSEAL_RECORDS_*)."""
    settings = _records_settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        fail("several workers need PostgreSQL: SQLite admits one writing process")
    _serve("underseal_server.records.app:app_from_environment", host, port, workers)


@custodian_app.command("serve")
def custodian_serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8401,
) -> None:
    """Run a key custodian (settings from UNDERSEAL_CUSTODIAN_*)."""
    _custodian_settings()  # fail here, with a clear message, on bad settings
    _serve("underseal_server.custodian.app:app_from_environment", host, port)


def _add_principal(url: str, principal: str, role: Role, agency: str) -> None:
    engine = make_engine(url)
    try:
        from underseal_server.records.models import TABLES  # noqa: F401 - registers tables

        with session_scope(engine) as session:
            now = system_clock()
            token = issue_token(session, principal_id=principal, role=role, agency=agency, now=now)
            auditlog.append(
                session,
                kind="enrol.principal",
                actor="cli",
                now=now,
                details={"id": principal, "role": role.value, "agency": agency},
            )
    except UndersealError as error:
        fail(error.message)
    except Exception as error:
        fail(str(error))
    finally:
        engine.dispose()
    err.print(f"created {role.value} {principal!r}; its token (shown once):")
    out.print(token, markup=False, highlight=False)


@records_app.command("add-principal")
def records_add_principal(
    principal: Annotated[str, typer.Argument(help="account id")],
    role: Annotated[Role, typer.Option(help="its one role")] = Role.ADMINISTRATOR,
    agency: Annotated[str, typer.Option(help="its organisation")] = "",
) -> None:
    """Create an account directly in the database (the first administrator, or recovery)."""
    from underseal_server.migrations import migrate

    settings = _records_settings()
    engine = make_engine(settings.database_url)
    migrate(engine, "records")
    engine.dispose()
    _add_principal(settings.database_url, principal, role, agency)


@custodian_app.command("add-principal")
def custodian_add_principal(
    principal: Annotated[str, typer.Argument(help="account id")],
    role: Annotated[Role, typer.Option(help="administrator or investigator")] = Role.ADMINISTRATOR,
    agency: Annotated[str, typer.Option(help="its organisation")] = "",
) -> None:
    """Create an account directly in the custodian's database."""
    from underseal_server.migrations import migrate

    if role not in {Role.ADMINISTRATOR, Role.INVESTIGATOR}:
        fail("a custodian has administrators and investigators only")
    settings = _custodian_settings()
    engine = make_engine(settings.database_url)
    migrate(engine, "custodian")
    engine.dispose()
    _add_principal(settings.database_url, principal, role, agency)


@records_app.command("retention")
def records_retention() -> None:
    """Destroy what is past retention now (for cron or a systemd timer)."""
    from underseal_server.migrations import migrate
    from underseal_server.records.purge import purge
    from underseal_server.records.state import ServerState

    settings = _records_settings()
    engine = make_engine(settings.database_url)
    migrate(engine, "records")
    offset = settings.unsafe_clock_offset_file
    clock = system_clock if offset is None else OffsetFileClock(offset)
    report = purge(ServerState.build(settings, engine, clock))
    engine.dispose()
    out.print(
        f"destroyed epochs {list(report.epochs)}; {report.records} records and "
        f"{report.alerts} expired alerts deleted (retention {settings.retention} days)"
    )


@custodian_app.command("retention")
def custodian_retention() -> None:
    """Destroy every share past retention now (for cron or a systemd timer)."""
    from underseal_server.custodian.app import create_app, destroy_expired

    settings = _custodian_settings()
    application = create_app(settings)
    destroyed = destroy_expired(application.state.custodian)
    application.state.engine.dispose()
    out.print(f"destroyed shares of epochs {destroyed} (retention {settings.retention} days)")


# --- ceremony, investigation, audit ------------------------------------------------------


def _client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30.0)


@app.command()
def ceremony(
    records: Annotated[str, typer.Option(help="records server URL")],
    custodian: Annotated[
        list[str],
        typer.Option(help="ID,INDEX,URL,BOX_KEY for each custodian (repeat); tokens from env"),
    ],
    days: Annotated[int, typer.Option(min=1, max=31, help="epochs to prepare from today")] = 7,
    threshold: Annotated[int, typer.Option(min=2, help="custodians needed to decrypt")] = 2,
) -> None:
    """Deal epoch keys to the custodians and publish them (dealer key: UNDERSEAL_DEALER_KEY).

    Tokens: UNDERSEAL_RECORDS_TOKEN (records administrator) and
    UNDERSEAL_CUSTODIAN_TOKEN_<ID> (each custodian's administrator; ID
    upper-cased, dashes as underscores).
    """
    try:
        dealer = SigningKey(b64d(os.environ["UNDERSEAL_DEALER_KEY"], size=32, field="dealer key"))
        records_token = os.environ["UNDERSEAL_RECORDS_TOKEN"]
        endpoints = []
        for spec in custodian:
            cid, index, url, box = spec.split(",")
            token = os.environ["UNDERSEAL_CUSTODIAN_TOKEN_" + cid.upper().replace("-", "_")]
            endpoints.append(
                CustodianEndpoint(
                    cid, int(index), PublicKey(b64d(box, size=32)), _client(url, token)
                )
            )
    except KeyError as missing:
        fail(f"environment variable {missing} is not set")
    except (ValueError, UndersealError):
        fail("each --custodian must be ID,INDEX,URL,BOX_KEY with a 32-byte base64url box key")
    today = epoch_of(system_clock())
    try:
        done = prepare_epochs(
            range(today, today + days),
            dealer=dealer,
            custodians=endpoints,
            records=_client(records, records_token),
            threshold=threshold,
        )
    except (CeremonyError, httpx.HTTPError) as error:
        fail(str(error))
    out.print(f"published epochs {done[0]}..{done[-1]} ({threshold} of {len(endpoints)})")


@app.command("investigate")
def investigate_command(
    warrant: Annotated[str, typer.Argument(help="warrant (request) id")],
    records: Annotated[str, typer.Option(help="records server URL")],
    custodian: Annotated[list[str], typer.Option(help="ID,URL for each custodian (repeat)")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the opened evidence")],
    deadline: Annotated[
        float, typer.Option(min=1.0, help="seconds each custodian has for its whole answer")
    ] = ANSWER_DEADLINE,
) -> None:
    """Open the records a warrant covers, with t custodians' partials, on this machine.

    Tokens: UNDERSEAL_INVESTIGATOR_TOKEN (records server) and
    UNDERSEAL_CUSTODIAN_TOKEN_<ID> (this investigator's account at each custodian).
    """
    try:
        records_client = _client(records, os.environ["UNDERSEAL_INVESTIGATOR_TOKEN"])
        clients = []
        for spec in custodian:
            cid, url = spec.split(",")
            token = os.environ["UNDERSEAL_CUSTODIAN_TOKEN_" + cid.upper().replace("-", "_")]
            clients.append((cid, _client(url, token)))
    except KeyError as missing:
        fail(f"environment variable {missing} is not set")
    except ValueError:
        fail("each --custodian must be ID,URL")
    try:
        outcome = investigate(
            warrant, records=records_client, custodians=clients, deadline=deadline
        )
    except (InvestigationError, httpx.HTTPError) as error:
        fail(str(error))
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for number, evidence in enumerate(outcome.opened):
        path = out_dir / f"{warrant}-{number:04d}.json"
        path.write_bytes(evidence.to_bytes())
        path.chmod(0o600)
    out.print(
        f"opened {len(outcome.opened)} records into {out_dir}; discarded {outcome.out_of_scope} "
        f"outside the exact scope; {outcome.unopened} could not be opened"
    )
    if outcome.inconsistent:
        err.print(
            f"{outcome.inconsistent} records discarded: their sealed evidence names another "
            "camera than the signed record (forged with a stolen camera's keys?)"
        )
    for name, reason in outcome.custodians_failed.items():
        err.print(f"custodian {name} did not answer: {reason}")
    shortfall = outcome.shortfall()
    if shortfall is not None:  # a failed try uses up none of the warrant: run it again
        fail(f"{shortfall}; run this again once they are back")


@app.command("audit")
def audit_command(
    url: Annotated[str, typer.Argument(help="base URL of a records server or custodian")],
    log_key: Annotated[str, typer.Option(help="the log's public key (base64url), pinned")],
    state: Annotated[
        Path, typer.Option(help="file with the last checkpoint you verified (created if absent)")
    ],
) -> None:
    """Verify a log as an outside auditor: signature, append-only since last time, every entry."""
    try:
        key = VerifyKey(b64d(log_key, size=32, field="log key"))
    except UndersealError as error:
        fail(error.message)
    previous = state.read_bytes() if state.exists() else None
    try:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            report = audit(client, key, previous)
    except AuditFailure as error:
        err.print(f"[red]AUDIT FAILED:[/red] {error}")
        raise typer.Exit(2) from None
    except httpx.HTTPError as error:
        fail(f"cannot reach the log ({type(error).__name__})")
    state.write_bytes(report.checkpoint)
    out.print(
        f"log {report.log_id}: {report.size} entries verified; "
        + (
            f"consistent with the previous checkpoint of {report.previous_size}"
            if previous
            else "first checkpoint saved"
        )
    )
    out.print(json.dumps(report.kinds, sort_keys=True))


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
