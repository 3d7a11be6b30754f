"""The `tracemark` command."""

from __future__ import annotations

import click

from tracemark import __version__
from tracemark.cli.cases import cases
from tracemark.cli.crawl import crawl
from tracemark.cli.evidence import evidence
from tracemark.cli.index import index
from tracemark.cli.match import match
from tracemark.cli.register import register
from tracemark.cli.serve import run, serve
from tracemark.cli.verify import verify


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracemark")
def main() -> None:
    """Tracemark: an open register of image ownership, copy detection and fair settlement."""


main.add_command(serve)
main.add_command(run)
main.add_command(index)
main.add_command(match)
main.add_command(verify)
main.add_command(register)
main.add_command(crawl)
main.add_command(evidence)
main.add_command(cases)
