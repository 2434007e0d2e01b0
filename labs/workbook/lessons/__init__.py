"""Per-lesson experiments: the plumbing behind a notebook section, so the cell shows only the idea."""
