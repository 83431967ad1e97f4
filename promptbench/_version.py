"""The package version.

In a module of its own so that any layer can read it without importing the package root
(which imports the Python API, which imports the runner).
"""

__version__ = "0.1.0"
