"""What the suite's models can take: images and tools, checked before any call.

A variant that sends images to a model known to read text only, or tools to a
provider that cannot map them, is bad input: one line per model, naming it.
"""

from __future__ import annotations

from collections.abc import Mapping

from promptbench.config import ModelConfig
from promptbench.errors import Issue
from promptbench.suite.model import Variant
from promptbench.suite.yamlpos import Located


def check_capabilities(
    variants: Mapping[str, Variant],
    models: Mapping[str, ModelConfig],
    src: Located,
    issues: list[Issue],
) -> None:
    """Add an issue for each evaluated model that cannot take what a variant sends."""
    evaluated = {n: m for n, m in models.items() if not m.judge_only}
    with_images = [v.name for v in variants.values() if v.has_images]
    with_tools = [v.name for v in variants.values() if v.tools is not None]
    for name, config in evaluated.items():
        if with_images and config.takes_images() is False:
            issues.append(
                src.issue(
                    ("models", name),
                    f"model '{name}' does not take images, and variant '{with_images[0]}' "
                    "sends some; use a vision model, or set vision: true if it does",
                    prefer_key=True,
                )
            )
        if with_tools and not config.takes_tools():
            issues.append(
                src.issue(
                    ("models", name),
                    f"provider '{config.provider}' of model '{name}' cannot call tools, and "
                    f"variant '{with_tools[0]}' gives tools; use a provider that can "
                    "(openai, mock; local with chat_format: chatml-function-calling)",
                    prefer_key=True,
                )
            )
