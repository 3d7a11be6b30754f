"""`tracemark match`: the matching engine from the command line.

- `tracemark match add --index DIR [--id ID] FILE...`
- `tracemark match remove --index DIR ID...`
- `tracemark match list --index DIR`
- `tracemark match search --index DIR --json FILE...`

A file that cannot be read is reported (on stderr for `add`, as `{"query", "error"}` for `search`) and the
batch goes on; the exit status is 1 when any file failed. Long runs report progress on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from tracemark.matching import MatchIndex, MatchingError, QueryResult


class _Progress:
    """Progress on stderr for runs with more than a few files (never on stdout)."""

    def __init__(self, total: int, verb: str) -> None:
        self.total = total
        self.verb = verb
        self.done = 0
        self.start = time.monotonic()
        self.last = self.start
        self.enabled = total > 3

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and (now - self.last >= 2.0 or self.done == self.total):
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            click.echo(f"{self.verb} {self.done}/{self.total} ({rate:.1f}/s)", err=True)


def _open(index: Path, create: bool) -> MatchIndex:
    try:
        return MatchIndex.open(index, create=create)
    except MatchingError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("match")
def match() -> None:
    """Find copies of registered images and explain the edits."""


@match.command("add")
@click.option("--index", "index_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--id", "ref_id", default=None, help="Id of the reference (only with one FILE; default: file name).")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def add(index_dir: Path, ref_id: str | None, files: tuple[Path, ...]) -> None:
    """Add (or replace) reference images."""
    if ref_id is not None and len(files) != 1:
        raise click.UsageError("--id needs exactly one FILE")
    failed = 0
    progress = _Progress(len(files), "added")
    with _open(index_dir, create=True) as index:
        for path in files:
            rid = ref_id or path.stem
            try:
                index.add(rid, path)
                click.echo(f"added {rid}")
            except (MatchingError, ValueError) as exc:
                failed += 1
                click.echo(f"error: {path}: {exc}", err=True)
            progress.step()
    if failed:
        sys.exit(1)


@match.command("remove")
@click.option("--index", "index_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.argument("ids", nargs=-1, required=True)
def remove(index_dir: Path, ids: tuple[str, ...]) -> None:
    """Remove references by id."""
    failed = 0
    with _open(index_dir, create=False) as index:
        for rid in ids:
            try:
                index.remove(rid)
                click.echo(f"removed {rid}")
            except MatchingError as exc:
                failed += 1
                click.echo(f"error: {exc}", err=True)
    if failed:
        sys.exit(1)


@match.command("list")
@click.option("--index", "index_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per reference.")
def list_(index_dir: Path, as_json: bool) -> None:
    """List the references (id, size, fingerprint version, when added)."""
    with _open(index_dir, create=False) as index:
        refs = index.list()
        for ref in refs:
            if as_json:
                click.echo(ref.model_dump_json())
            else:
                click.echo(f"{ref.id}\t{ref.width}x{ref.height}\tv{ref.fingerprint_version}\t{ref.added_at}")
        if index.stale:
            click.echo(f"{len(index.stale)} reference(s) have an old fingerprint version; add them again", err=True)


@match.command("search")
@click.option("--index", "index_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per query and line (the stable format).")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def search(index_dir: Path, as_json: bool, files: tuple[Path, ...]) -> None:
    """Search for copies of the reference images among FILES."""
    failed = 0
    progress = _Progress(len(files), "searched")
    with _open(index_dir, create=False) as index:
        for path in files:
            try:
                result = QueryResult(query=str(path), matches=index.search(path))
            except MatchingError as exc:
                failed += 1
                result = QueryResult(query=str(path), error=str(exc))
            if as_json:
                click.echo(result.to_json_line())
            elif result.error is not None:
                click.echo(f"{path}: error: {result.error}")
            else:
                found = ", ".join(f"{m.id} ({m.score:.2f})" for m in result.matches or []) or "no match"
                click.echo(f"{path}: {found}")
            sys.stdout.flush()
            progress.step()
    if failed:
        sys.exit(1)


__all__ = ["match"]
