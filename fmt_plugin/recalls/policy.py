"""The planner's recall policy (`[recalls]` in the configuration), free of any other import.

Kept apart from `recalls.model` so that the configuration can build it without importing
the rules engine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecallPolicy:
    """When the planner asks for a recall (`[recalls]` in the configuration)."""

    #: `fait`/`a_venir` indicators due within this many days are recalled ("à prévoir").
    lead_days: int = 30
    #: A reminder (next step) follows a sent recall after this many days if still not done.
    reminder_after_days: int = 30
    #: At most this many steps per cycle.
    max_steps: int = 2
    #: A patient gets no message within this many days of the last one (about anything):
    #: what falls due meanwhile waits and travels in the next one (0: no such wait).
    min_days_between_messages: int = 7
    #: Patients younger than this are written to as their parents.
    adult_age: int = 18
    #: Recall catch-ups too (a child's age window closed: the act no longer counts for
    #: the FMT); off by default, the practice decides whether to chase them.
    catch_up: bool = False
