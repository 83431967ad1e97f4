"""Where results go: the terminal, CSV, JSON (and later JUnit, Markdown, W&B, HTML)."""
