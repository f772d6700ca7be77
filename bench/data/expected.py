"""The expected view of a data set, folded in-process with the projector's own pure code.

Both stores of the read benchmark are loaded from it (PostgreSQL directly, Redis through the
real projector), and both APIs' answers are checked against ``render`` of these states.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bench.data.dataset import Record
from events.codec import decode
from events.models import DeploymentStatusChanged
from events.times import format_time
from projector.core.document import render
from projector.core.fold import apply
from projector.core.state import DeploymentState


@dataclass(frozen=True, slots=True)
class HistoryRow:
    old_status: str | None
    new_status: str
    changed_at: str
    reason: str | None


@dataclass
class Folded:
    states: dict[str, DeploymentState] = field(default_factory=dict)
    # Every status change in log order: the seed's table keeps them all, the view only 10.
    history: dict[str, list[HistoryRow]] = field(default_factory=dict)

    def document(self, deployment_id: str) -> bytes | None:
        return render(self.states[deployment_id])


def fold_log(records: Iterable[Record]) -> Folded:
    folded = Folded()
    for key, value in records:
        event = decode(key, value)
        dep = event.deployment_id
        folded.states[dep] = apply(folded.states.get(dep), event)
        if isinstance(event, DeploymentStatusChanged):
            folded.history.setdefault(dep, []).append(
                HistoryRow(
                    event.data.old_status,
                    event.data.new_status,
                    format_time(event.time),
                    event.data.reason,
                )
            )
    return folded
