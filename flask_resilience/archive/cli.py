"""``flask resilience partitions ...`` and ``flask resilience archive ...``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup

from .api import MetricsAPI
from .archival import ArchiveInterrupted, ArchiveReport
from .config import parse_duration
from .maintenance import MaintenanceBusy

partitions_group = AppGroup("partitions", help="Monthly partitions of the metric tables.")
archive_group = AppGroup("archive", help="Move old metric months to the archive; retention.")


class DurationType(click.ParamType):  # type: ignore[type-arg]
    """``30d``, ``12h``, ``2w`` or a bare number of days."""

    name = "duration"

    def convert(self, value: object, param: object, ctx: object) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc))


@partitions_group.command("ensure")
@click.option("--ahead", type=click.IntRange(0, 60), default=None, help="Months past this one.")
def partitions_ensure(ahead: int | None) -> None:
    """Create this month's and the next AHEAD months' partitions; move rows out of DEFAULT."""
    try:
        report = MetricsAPI().ensure_partitions(ahead)
    except MaintenanceBusy as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created: {', '.join(report.created) or 'nothing (all present)'}")
    for name, rows in report.moved_from_default.items():
        click.echo(f"moved {rows} row(s) from DEFAULT into {name}")
    click.echo(f"default partition rows: {report.default_rows}")


@partitions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def partitions_list(as_json: bool) -> None:
    """Every partition of the live and archive tables: rows, bounds and size."""
    found = MetricsAPI().partitions()
    if as_json:
        click.echo(json.dumps([info.as_json() for info in found], indent=2))
        return
    if not found:
        click.echo("no partitions (the metric tables are plain tables on this database)")
        return
    click.echo(f"{'partition':<40} {'from':<12} {'to':<12} {'rows':>10} {'size':>10}")
    for info in found:
        low = "DEFAULT" if info.is_default else _day(info.lower, "MINVALUE")
        high = "" if info.is_default else _day(info.upper, "MAXVALUE")
        size = f"{info.size_bytes // 1024} kB"
        click.echo(f"{info.name:<40} {low:<12} {high:<12} {info.rows:>10} {size:>10}")
        if info.is_default and info.rows:
            click.echo(
                f"  ! {info.rows} row(s) in DEFAULT: run `flask resilience partitions ensure`"
            )
        if info.kind == "other":
            click.echo("  ! not one UTC month: archival and `partitions ensure` leave it alone")


def _day(moment: datetime | None, open_end: str) -> str:
    return moment.date().isoformat() if moment is not None else open_end


@archive_group.command("run")
@click.option("--older-than", type=DurationType(), default=None, help="Default: config, 30d.")
@click.option(
    "--dry-run", is_flag=True, help="Report what would move or be dropped; change nothing."
)
def archive_run(older_than: timedelta | None, dry_run: bool) -> None:
    """Archive every month entirely older than --older-than (and apply retention if configured).

    A database error part-way (a lock still busy after every retry) prints what had moved and
    exits 1; the months not moved are untouched and the next run picks them up.
    """
    try:
        report = MetricsAPI().archive(older_than, dry_run=dry_run)
    except MaintenanceBusy as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except ArchiveInterrupted as exc:
        _print_report(exc.report)
        raise click.ClickException(f"archive run interrupted: {exc.report.error}") from exc
    _print_report(report)


def _print_report(report: ArchiveReport) -> None:
    dry_run = report.dry_run
    verb = "would archive" if dry_run else "archived"
    click.echo(f"cutoff {report.cutoff.isoformat()}: {verb} {len(report.moved)} month(s)")
    for month in report.moved:
        click.echo(f"  {month.partition}: {month.rows} row(s)")
    for month in report.dropped:
        click.echo(
            f"  {'would drop' if dry_run else 'dropped'} {month.partition}: {month.rows} row(s)"
        )
    for note in report.notes:
        click.echo(f"  note: {note}")
    if report.default_rows:
        click.echo(f"warning: {report.default_rows} row(s) in DEFAULT; run `partitions ensure`")


@archive_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def archive_status(as_json: bool) -> None:
    """Metric rows by age in the live and archive tables."""
    counts = MetricsAPI().get_metric_count_by_age()
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    click.echo(f"{'age':<14} {'live':>12} {'archive':>12}")
    for label in counts["live"]:
        click.echo(f"{label:<14} {counts['live'][label]:>12} {counts['archive'][label]:>12}")


__all__ = ["archive_group", "partitions_group"]
