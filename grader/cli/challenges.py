"""`grader challenge`: list the shipped challenges, and make, validate and export a bundle (see
`grader.authoring`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from grader.challenge import list_shipped_challenges, load_challenge
from grader.cli.base import complete_challenge, main, make_sandbox, service_url_option
from grader.cli.console import EXIT_SOME_ERRORED, escape, fail, friendly_errors, out, progress
from grader.outdir import check_output_dir
from grader.sandbox.base import Sandbox


@main.group()
def challenge() -> None:
    """Challenge bundles."""


@challenge.command("list")
def challenge_list() -> None:
    """List the challenges shipped with the grader."""
    for challenge_id in list_shipped_challenges():
        bundle = load_challenge(challenge_id)
        click.echo(f"{bundle.id}\t{bundle.title}")


@challenge.command("new")
@click.argument("challenge_id", metavar="ID")
@click.option(
    "--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Create the bundle in DIR/ID.",
)
@click.option("--title", default=None, help="The challenge's title (default: from the id).")
@friendly_errors
def challenge_new(challenge_id: str, parent: Path, title: str | None) -> None:
    """Create a working skeleton bundle: manifest, README, public and hidden tests, reference, starter."""
    from grader.authoring import new_challenge

    target = new_challenge(challenge_id, parent, title)
    out.print(escape(f"created {target}"), soft_wrap=True)
    out.print(escape(f"next: edit it, then `grader challenge validate {target}` and "
                     f"`grader challenge export {target} --out {challenge_id}-kit.zip`"), soft_wrap=True)


@challenge.command("validate")
@click.argument("ref", metavar="ID_OR_PATH", shell_complete=complete_challenge)
@click.option(
    "--sandbox", "sandbox_kind", type=click.Choice(["auto", "docker", "local"]), default="auto",
    show_default=True, help="Where the solutions and the starter are graded.",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Keep the gradings' results here (default: a temporary directory).",
)
@click.option("--no-grade", is_flag=True, help="Check the schema, layout and imports only; grade nothing.")
@service_url_option
@friendly_errors
def challenge_validate(ref: str, sandbox_kind: str, out_dir: Path | None, no_grade: bool,
                       service_urls: dict[str, str]) -> None:
    """Prove a bundle: schema, layout, suites importing nothing from the candidate, every solution landing
    in its expected outcome, and the starter failing the hidden suite. Exits 1 on any failure."""
    import tempfile

    from grader.authoring import Verdict, validate_challenge

    def show(verdict: Verdict) -> None:
        mark = "[green]ok[/]  " if verdict.ok else "[red]FAIL[/]"
        out.print(f"{mark} {escape(verdict.subject)}: {escape(verdict.detail)}", markup=True, soft_wrap=True)

    def sandbox_for(bundle: Any) -> Sandbox:
        return make_sandbox(sandbox_kind, bundle.python, service_urls)

    if out_dir is not None:
        check_output_dir(out_dir)
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as scratch:
        report = validate_challenge(ref, None if no_grade else sandbox_for, out_dir or Path(scratch),
                                    log=progress, on_verdict=show)
    failures = sum(not v.ok for v in report.verdicts)
    if failures:
        fail(f"{ref}: {failures} of {len(report.verdicts)} check(s) failed", EXIT_SOME_ERRORED)
    out.print(escape(f"{ref}: valid ({len(report.verdicts)} checks)"), soft_wrap=True)


@challenge.command("export")
@click.argument("ref", metavar="ID_OR_PATH", shell_complete=complete_challenge)
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              callback=lambda _ctx, _param, value: zip_path(value), help="The kit's .zip file.")
@friendly_errors
def challenge_export(ref: str, out_file: Path) -> None:
    """Write the candidate kit: README, public tests, starter, public challenge.toml, pinned grader.

    Never hidden/ or solutions/; refuses when a kit file would name a hidden test.
    """
    from grader.authoring import export_kit

    kit = export_kit(ref, out_file)
    out.print(escape(f"wrote {kit.path}: {len(kit.files)} files under {kit.top}/"), soft_wrap=True)


def zip_path(value: Path) -> Path:
    """`--out` of `challenge export`: the kit is a zip file."""
    if value.suffix.lower() != ".zip":
        raise click.BadParameter("the kit is a zip file: give a path ending in .zip", param_hint="'--out'")
    return value
