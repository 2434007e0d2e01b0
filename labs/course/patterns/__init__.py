"""Event-driven patterns (lesson 05): choreography, saga and CQRS.

Each module is the production code of one pattern: plain boto3, handlers a Lambda would
run unchanged (and, for the saga, the state machine's definition). Creating the tables,
wiring the handlers to the local runtime, running and plotting live in the lesson's
workbook helpers, ``labs.workbook.lessons.lesson05``.
"""
