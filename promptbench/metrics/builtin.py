"""Every built-in metric; the module the ``promptbench.metrics`` entry point names.

Importing it imports each module of :data:`~promptbench.metrics.base.BUILTIN_METRICS`,
whose decorators register the metrics. The registry itself imports only the module of
a name a suite uses.
"""

from importlib import import_module

from promptbench.metrics.base import BUILTIN_METRICS

for _module in dict.fromkeys(BUILTIN_METRICS.values()):
    import_module(_module)
