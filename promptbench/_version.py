"""The package version, in a module of its own that any layer can import.

The package root imports the Python API, which imports the runner: a layer that read
``__version__`` from the root would import everything above it.
"""

__version__ = "0.1.0"
