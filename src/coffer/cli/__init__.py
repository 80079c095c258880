"""The ``coffer`` command: one module per command, shared plumbing in ``context``/``output``."""
