"""Errors of the projector. ``retriable`` says whether waiting and trying again can help.
The view store's own (``StoreUnavailable``, ``StoreChanged``) are in
``deploystatus.view.errors``."""

from __future__ import annotations


class ProjectorError(Exception):
    retriable: bool = False


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
