"""The cost governor: start no call that would take the run's spend past a limit.

Each call about to go out reserves its estimated cost (prompt characters / 4 at
the input price, plus ``max_tokens``, or the run's mean answer length so far, at
the output price); when that would pass the limit, no new call starts, the calls
in flight finish and are recorded, and the run ends saying so (exit code 3).
What was paid for is cached: a later run with a larger budget takes up from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from promptbench.config import Price
from promptbench.types import Prompt

DEFAULT_ANSWER_TOKENS = 256  # before any answer of the model has been seen


@dataclass
class Budget:
    """Spend so far, what calls in flight may still cost, and the limit."""

    limit: float
    spent: float = 0.0
    reserved: float = 0.0
    exhausted: bool = False
    _answers: dict[str, tuple[int, int]] = field(default_factory=dict)  # model: (n, tokens)

    def estimate(self, model: str, price: Price, prompt: Prompt) -> float:
        """What one call is expected to cost, in USD."""
        prompt_tokens = sum(len(m.content) for m in prompt.messages) / 4.0
        max_tokens = prompt.params.get("max_tokens")
        if isinstance(max_tokens, int):
            answer = float(max_tokens)
        else:
            n, total = self._answers.get(model, (0, 0))
            answer = total / n if n else DEFAULT_ANSWER_TOKENS
        return (prompt_tokens * price.input + answer * price.output) / 1_000_000

    def reserve(self, estimate: float) -> bool:
        """Hold ``estimate`` for a call; False (and exhausted) when it would pass the limit."""
        if self.exhausted or self.spent + self.reserved + estimate > self.limit:
            self.exhausted = True
            return False
        self.reserved += estimate
        return True

    def settle(
        self, model: str, estimate: float, cost: float | None, completion_tokens: int | None
    ) -> None:
        """A call ended: release its reservation and count what it cost."""
        self.reserved -= estimate
        self.spent += cost or 0.0
        if completion_tokens is not None:
            n, total = self._answers.get(model, (0, 0))
            self._answers[model] = (n + 1, total + completion_tokens)
