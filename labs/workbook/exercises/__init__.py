"""One module per lesson; each registers its exercises' checks with ``@exercise``."""
