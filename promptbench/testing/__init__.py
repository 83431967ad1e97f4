"""Test utilities shipped with promptbench (a scriptable fake OpenAI server)."""
