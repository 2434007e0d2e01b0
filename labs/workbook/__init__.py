"""The workbook: exercise checks, the quiz, and learner notebooks generated from solutions."""
from labs.workbook.checks import CheckFailed, check, exercise

__all__ = ["check", "exercise", "CheckFailed"]
