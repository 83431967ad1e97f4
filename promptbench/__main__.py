"""``python -m promptbench``."""

from promptbench.cli import main

# Guarded: a spawned worker process (the viewer's) imports this module as __mp_main__.
if __name__ == "__main__":
    main()
