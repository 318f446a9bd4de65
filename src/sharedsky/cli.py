"""The `sharedsky` command line: a click group whose subcommands load lazily.

Each subcommand lives in its own module under `sharedsky.commands`, so that
`sharedsky detect` does not import the web service and its dependencies.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "detect": "sharedsky.commands.detect:detect",
    "replay": "sharedsky.commands.replay:replay",
    "check": "sharedsky.commands.check:check",
    "convert": "sharedsky.commands.convert:convert",
    "serve": "sharedsky.commands.serve:serve",
    "keys": "sharedsky.commands.keys:keys",
    "verify": "sharedsky.commands.verify:verify",
    "witness": "sharedsky.commands.witness:witness",
    "prove": "sharedsky.commands.prove:prove",
    "report": "sharedsky.commands.report:report",
    "simulate": "sharedsky.commands.simulate:simulate",
    "demo": "sharedsky.commands.demo:demo",
    "daa": "sharedsky.commands.daa:daa",
    "notices": "sharedsky.commands.notices:notices",
    "partition": "sharedsky.commands.partition:partition",
    "mine": "sharedsky.commands.mine:mine",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        present = [
            name
            for name, target in COMMANDS.items()
            if importlib.util.find_spec(target.split(":")[0]) is not None
        ]
        return sorted(present)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        if importlib.util.find_spec(module_name) is None:
            return None
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="sharedsky")
def main() -> None:
    """sharedsky: separation, airspace watch and a shared line for parties sharing a sky."""
    from sharedsky.engine.heap import keep_freed_memory

    keep_freed_memory()  # the engine's arrays reused from step to step (engine/heap.py)


if __name__ == "__main__":
    main()
