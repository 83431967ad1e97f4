"""Importers: other tools' configs and results as promptbench suites and runs.

``promptfoo_config`` turns a promptfoo config into a suite (``promptbench import
promptfoo``); ``promptfoo_results`` turns promptfoo's results file into a stored run
(``promptbench import promptfoo-results``). Nothing here prints; the CLI does.
"""

from promptbench.importers.promptfoo_asserts import LeftOut
from promptbench.importers.promptfoo_config import Conversion, convert_config, read_config
from promptbench.importers.promptfoo_results import read_results, records_from_results

__all__ = [
    "Conversion",
    "LeftOut",
    "convert_config",
    "read_config",
    "read_results",
    "records_from_results",
]
