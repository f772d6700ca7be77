"""The consumer group of a generation: each generation of the view is built (and then kept
up) by a group of its own, so a new one starts from the beginning of the log. The generations
themselves live in Redis (``deploystatus.view.generations``)."""

from __future__ import annotations


def group_of(consumer_group: str, generation: str) -> str:
    """The consumer group that builds (and then keeps up) a generation."""
    return f"{consumer_group}.{generation}"
