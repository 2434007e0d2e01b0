"""A folder ``sandbox.start()`` puts on PYTHONPATH: its ``sitecustomize`` guards the processes the kernel starts."""
