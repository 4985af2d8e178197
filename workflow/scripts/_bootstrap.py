"""Make the ``smlmlp`` package next to this workflow importable when it is not installed.

Imported first by every script: in a job's own conda environment only the
dependencies are installed, and the package is used from this checkout.
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("smlmlp") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
