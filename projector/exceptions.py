"""Errors of the projector. ``retriable`` says whether waiting and trying again can help."""

from __future__ import annotations

from deploystatus.view.fence import ServerChanged


class ProjectorError(Exception):
    retriable: bool = False


class StoreUnavailable(ProjectorError):
    """Redis did not answer or refused the write; nothing was applied by the failed call."""

    retriable = True


class StoreChanged(ProjectorError):
    """Redis is now another server process (a restart, a failover), which may hold an older
    copy of the view; the projector re-reads its partitions from what that copy holds."""

    def __init__(self, changed: ServerChanged) -> None:
        super().__init__(str(changed))
        self.changed = changed


class ConflictNotResolved(ProjectorError):
    """Another writer kept changing the same documents; the batch is retried as a whole."""

    retriable = True


class ViewLost(ProjectorError):
    """Documents of the generation being fed have vanished: Redis lost data (restart without
    persistence, flush, failover to an empty replica). The projector chooses its generation
    again, which rebuilds the view from the log."""


class IncompatibleState(ProjectorError):
    """A stored fold state is not in the format this version reads (it was written by an
    older one). Build a new generation with this version: `deploystatus rebuild`."""


class RebuildRefused(ProjectorError):
    """The rebuild cannot start; the message says why and what to run instead."""


class RebuildInterrupted(ProjectorError):
    """The rebuild lost its lease (it stalled, or Redis lost its data) or one of its
    processes, and stopped; ``deploystatus rebuild --resume`` continues it."""
