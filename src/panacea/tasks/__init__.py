"""The tasks models are calibrated on and scored by: offline data (:mod:`panacea.tasks.data`), the
metrics (:mod:`panacea.tasks.metrics`) and each model kind's task (:func:`make_task`)."""

from panacea.tasks.task import Task, make_task

__all__ = ["Task", "make_task"]
