"""``python -m coffer`` runs the CLI."""

from coffer.cli.main import entry

entry()
