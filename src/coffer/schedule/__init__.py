"""Unattended backups: a job (:mod:`~coffer.schedule.spec`), its scheduler files
(:mod:`~coffer.schedule.render`, pure text; :mod:`~coffer.schedule.install`, writing them),
the run a scheduler executes (:mod:`~coffer.schedule.run`) and what it records for
``coffer status`` (:mod:`~coffer.schedule.status`, :mod:`~coffer.schedule.report`).

Rules:

- A scheduled run never asks anyone and never sees a password from a command line, a unit file
  or the environment: it opens the repository with the key ``--remember`` kept (``schedule
  install`` remembers it), or with systemd credentials on a server.
- Everything a run does goes through the same library code as the commands (unlock, backup
  under the repository lock, forget), so the schedule cannot drift from ``coffer backup``.

Exception tree::

    coffer.errors.UsageError (2)
    └── install.SchedulerUnavailable   the scheduler cannot be used here (missing, not running)
    coffer.errors.BackupOverdue (19)   ``coffer status --max-age``: no recent successful backup
    run.AlreadyRunning (exit 0)        another run of the same job holds its lock: skipped
"""
