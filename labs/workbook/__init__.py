"""The workbook: exercise checks, the quiz, and learner notebooks generated from solutions."""
from labs.workbook.checks import CheckFailed, check, exercise, hint
from labs.workbook.display import show_logs_calmly

show_logs_calmly()  # the course's expected warnings print as calm log lines, not red stderr

__all__ = ["check", "hint", "exercise", "CheckFailed"]
