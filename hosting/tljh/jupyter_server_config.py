# The Littlest JupyterHub: copy to /opt/tljh/user/etc/jupyter/jupyter_server_config.py
# (see README, "Hosting a class"). It runs as the learner each time their JupyterLab starts
# and puts the learner notebooks into ~/notebooks; a notebook already there (the learner's
# work) is never overwritten.
from pathlib import Path

from labs.workbook.notebooks import copy_notebooks

copy_notebooks(Path.home() / "notebooks")
