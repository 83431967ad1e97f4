"""``python -m promptbench``."""

from promptbench.cli import main

main()
