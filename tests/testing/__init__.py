"""Tests of promptbench.testing (the fake OpenAI server)."""
