"""Progress callbacks, as every long stage reports it: ``progress(stage, done, total)``; a stage's
own loop takes it bound to its stage name (:func:`stage_progress`)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
StepProgress = Callable[[int, int], None]


def stage_progress(progress: Progress | None, stage: str) -> StepProgress | None:
    """``progress`` bound to one stage, as the evaluation functions take it."""
    return (lambda done, total: progress(stage, done, total)) if progress else None
