"""``sceau audit …``: check the trail, export a period, anchor the head, and
hand out an anchor's proofs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, time
from pathlib import Path

import click

from sceau.cli import _emit, _runtime, json_option, main

# Exit status of `verify` when the trail is not intact.
EXIT_BROKEN = 3


@main.group()
def audit() -> None:
    """The audit trail: chained, anchored, append-only."""


@audit.command("verify")
@json_option
def verify_command(as_json: bool) -> None:
    """Check every entry, every link, the head and every anchor; say where
    the trail was changed, emptied, added to or reordered (exit status 3)."""
    from sceau.audit.verify import verify_trail

    with _runtime() as runtime:
        report = verify_trail(runtime.db)

    def text() -> str:
        lines = [
            f"entries  {report.chain.entries}",
            f"head     {report.chain.last_seq} {report.chain.last_hash}",
            f"anchors  {len(report.anchors)}",
        ]
        for anchor in report.anchors:
            block = f", block {anchor.block_height}" if anchor.block_height else ""
            lines.append(
                f"  entry {anchor.seq}: TSA {anchor.tsa_time:%Y-%m-%d %H:%M:%S} UTC,"
                f" {anchor.anchor_ref} {anchor.status}{block}"
            )
        if report.intact:
            lines.append("intact: every entry, link and anchor holds")
        else:
            lines.append(f"NOT INTACT: {len(report.findings)} finding(s)")
            lines.extend(f"  [{f.kind}] {f.message}" for f in report.findings)
        return "\n".join(lines)

    _emit(as_json, report.as_json(), text)
    if not report.intact:
        sys.exit(EXIT_BROKEN)


@audit.command("export")
@click.option("--from", "start", required=True, help="First day (YYYY-MM-DD, UTC).")
@click.option("--to", "end", required=True, help="Last day, included (YYYY-MM-DD).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file rather than to the standard output.",
)
def export_command(start: str, end: str, out: Path | None) -> None:
    """The entries of a period as JSON lines: place, hash, and the exact text
    the hash is over (each names the previous entry's hash)."""
    from datetime import timedelta

    from sceau.audit.verify import export_lines

    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    with _runtime() as runtime:
        lines = export_lines(runtime.db, first, last + timedelta(days=1))
        if out is None:
            for line in lines:
                click.echo(line)
            return
        count = 0
        with out.open("w", encoding="utf-8") as stream:
            for line in lines:
                stream.write(line + "\n")
                count += 1
        click.echo(f"{count} entries written to {out}", err=True)


@audit.command("anchor")
@json_option
def anchor_command(as_json: bool) -> None:
    """Timestamp the head now and queue it for anchoring in Bitcoin."""
    from sceau.audit.anchors import anchor_head

    with _runtime() as runtime:
        state = anchor_head(runtime)
    if state is None:
        _emit(as_json, {"anchored": None}, lambda: "nothing new to anchor")
        return
    _emit(
        as_json,
        {"anchored": state.as_json()},
        lambda: (
            f"entry {state.seq} anchored: TSA {state.tsa_time:%Y-%m-%d %H:%M:%S}"
            f" UTC, {state.anchor_ref} queued for Bitcoin"
        ),
    )


@audit.command("proof")
@click.argument("seq", type=int)
@click.option(
    "--ots",
    "ots_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the OpenTimestamps proof (.ots) here.",
)
@click.option(
    "--tsr",
    "tsr_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the RFC 3161 token here (for openssl ts -verify).",
)
def proof_command(seq: int, ots_path: Path | None, tsr_path: Path | None) -> None:
    """The proofs of the anchor of entry SEQ, over that entry's hash."""
    from sceau.audit.anchors import anchor_proof

    if ots_path is None and tsr_path is None:
        raise click.UsageError("give --ots, --tsr or both")
    with _runtime() as runtime, runtime.db.sessions() as session:
        try:
            token, ots = anchor_proof(session, seq)
        except LookupError:
            raise click.ClickException(f"entry {seq} was never anchored") from None
    if tsr_path is not None:
        tsr_path.write_bytes(token)
        click.echo(f"RFC 3161 token written to {tsr_path}")
    if ots_path is not None:
        if ots is None:
            raise click.ClickException(
                f"the anchor of entry {seq} has no OpenTimestamps proof yet: no "
                "calendar has answered; try again after the anchoring worker ran"
            )
        ots_path.write_bytes(ots)
        click.echo(f"OpenTimestamps proof written to {ots_path}")


def _day(value: str, hint: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD", param_hint=hint) from None
    return datetime.combine(day, time(), tzinfo=UTC)
