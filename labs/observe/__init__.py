"""Seeing what happened: the recorder, tables, timelines, the ledger, peeking into queues."""
from labs.observe.recording import Record, Recorder, attach, recorder
from labs.observe.tables import Table, table

__all__ = ["Record", "Recorder", "attach", "recorder", "Table", "table"]
