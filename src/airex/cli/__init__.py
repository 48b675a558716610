"""The ``airex`` command line: ``airex validate``, ``airex show``, ``airex --version``.

``main`` is the console script's entry point; ``app`` is the Typer application (for tests and
for embedding, e.g. ``typer.testing.CliRunner().invoke(app, ["validate", "msg.xml"])``).
"""

from airex.cli._app import app, main

__all__ = ["app", "main"]
