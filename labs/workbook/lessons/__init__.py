"""Per-lesson helpers: what a lesson's notebook needs besides the course code itself.

Setting up tables and stock, wiring handlers to the local runtime, driving a run and
drawing it. One module per lesson (``lesson01`` ...); the production code they set up
stays in ``labs.course``, which knows nothing of them.
"""
