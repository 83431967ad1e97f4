"""The ``azure`` provider: Azure OpenAI deployments through the openai SDK's Azure client.

``AsyncAzureOpenAI`` posts to ``{endpoint}/openai/deployments/{deployment}/
chat/completions?api-version=...``. It authenticates with a key (the
``api-key`` header; ``AZURE_OPENAI_API_KEY`` by default), or with a Microsoft
Entra token: one given in ``AZURE_OPENAI_AD_TOKEN``, or, with
``azure_identity: true``, fetched by azure-identity's DefaultAzureCredential
(the ``azure`` extra, imported only then). Its own retries are off: the runner
retries. Answers and errors are those of chat completions, parsed and
classified as for the ``openai`` provider; Azure's content filter (a 400 whose
code is ``content_filter``, or ``finish_reason: content_filter``) is a
``content_filter`` error.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from promptbench.config import ModelConfig, Price
from promptbench.errors import ErrorKind, MissingExtraError, ProviderConfigError, ProviderError
from promptbench.providers import pricing
from promptbench.providers.base import provider
from promptbench.providers.hosted import HostedConfig, http_url, keys_masked
from promptbench.providers.openai_http import completion_from_json
from promptbench.providers.openai_wire import wire_messages
from promptbench.types import Completion, Prompt

if TYPE_CHECKING:
    import openai

DEFAULT_API_VERSION = "2024-10-21"  # the latest GA version of the data-plane API
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


class AzureConfig(HostedConfig):
    """A deployment of an Azure OpenAI (or Azure AI Foundry) resource."""

    def takes_tools(self) -> bool:
        """The API takes tools; promptbench maps the suite's OpenAI schemas to it."""
        return True

    deployment: str = Field(description="the deployment name, as in the Azure portal")
    model: str | None = Field(
        default=None,
        description="the OpenAI model deployed (for its price); default: the deployment name",
    )
    endpoint: str | None = Field(
        default=None,
        description="https://RESOURCE.openai.azure.com (default: $AZURE_OPENAI_ENDPOINT)",
    )
    api_version: str = Field(default=DEFAULT_API_VERSION, description="the API version to call")
    ad_token_env: str = Field(
        default="AZURE_OPENAI_AD_TOKEN",
        description="environment variable holding a Microsoft Entra token, used without a key",
    )
    azure_identity: bool = Field(
        default=False,
        description="get Entra tokens from azure-identity's DefaultAzureCredential",
    )

    key_envs: ClassVar[tuple[str, ...]] = ("AZURE_OPENAI_API_KEY",)
    call_fields: ClassVar[tuple[str, ...]] = (
        *ModelConfig.call_fields,
        "ad_token_env",
        "azure_identity",
    )

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        return http_url(v)

    def url(self) -> str:
        """The resource's endpoint, from the suite or ``AZURE_OPENAI_ENDPOINT``."""
        endpoint = self.endpoint or http_url(os.environ.get("AZURE_OPENAI_ENDPOINT") or None)
        if not endpoint:
            raise ProviderConfigError(
                "provider azure: no endpoint; set endpoint: https://RESOURCE.openai.azure.com "
                "in the model entry or export AZURE_OPENAI_ENDPOINT=..."
            )
        return endpoint

    def cache_identity(self) -> dict[str, Any]:
        """The endpoint and deployment name the model; a missing endpoint is named as such."""
        ident = ModelConfig.cache_identity(self)
        try:
            ident["endpoint"] = self.url()
        except ProviderConfigError:
            ident["endpoint"] = None
        return ident

    def rate_key(self) -> tuple[str, ...] | None:
        """Azure limits per deployment."""
        try:
            endpoint = self.url()
        except ProviderConfigError:
            endpoint = ""
        return ("azure", endpoint, self.deployment)

    def credential(self) -> tuple[str, str]:
        """``("key", KEY)``, ``("token", TOKEN)`` or ``("identity", "")``: how calls sign in."""
        if self.azure_identity:
            return "identity", ""
        key = self.find_api_key()
        if key:
            return "key", key
        token = os.environ.get(self.ad_token_env, "").strip()
        if token:
            return "token", token
        names = " or ".join(self.key_variables())
        raise ProviderConfigError(
            f"provider azure: neither {names} nor {self.ad_token_env} is set; export the "
            "resource's key, an Entra token, or set azure_identity: true"
        )

    def preflight(self) -> None:
        """The endpoint, and a key, a token or azure-identity, must be there (no call)."""
        self.url()
        how, _ = self.credential()
        if how == "identity" and not _has_azure_identity():
            raise MissingExtraError("azure-identity", "azure", "azure_identity: true")

    def default_price(self) -> Price | None:
        """OpenAI's list price of the model deployed (Azure's global deployments charge it)."""
        return pricing.lookup(self.model or self.deployment)


def _has_azure_identity() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("azure.identity") is not None
    except ModuleNotFoundError:
        return False


def classify(exc: Exception) -> ProviderError:
    """As for OpenAI, plus Azure's content filter (a 400 with code ``content_filter``)."""
    import openai

    # The SDK's table imports the SDK: only when a call has failed, never to list providers.
    from promptbench.providers.openai_sdk import classify as classify_openai

    if isinstance(exc, openai.BadRequestError):
        body = exc.body if isinstance(exc.body, dict) else {}
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("code") == "content_filter":
            return ProviderError(
                "Azure's content filter rejected the prompt (HTTP 400 content_filter)",
                kind=ErrorKind.CONTENT_FILTER,
                retryable=False,
                status=400,
            )
    return classify_openai(exc)


def request_body(prompt: Prompt, config: AzureConfig) -> dict[str, Any]:
    """The chat completions request; ``model`` names the deployment, as Azure expects."""
    body: dict[str, Any] = {
        "model": config.deployment,
        "messages": wire_messages(prompt.messages),
    }
    for name, value in prompt.params.items():
        # "json_object" is the suite's shorthand for {"type": "json_object"}.
        body[name] = (
            {"type": value} if name == "response_format" and isinstance(value, str) else value
        )
    return body


def _token_provider() -> Any:
    """An async Entra token provider from azure-identity's DefaultAzureCredential."""
    try:
        from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise MissingExtraError("azure-identity", "azure", "azure_identity: true") from None
    return get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)


@provider("azure", config=AzureConfig, summary="a deployment of Azure OpenAI")
class AzureProvider:
    """Calls chat completions on the openai SDK's AsyncAzureOpenAI client."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, AzureConfig)
        import openai

        self.config = config
        how, secret = config.credential()
        self._secret = secret or None
        auth: dict[str, Any]
        if how == "key":
            auth = {"api_key": secret}
        elif how == "token":
            auth = {"azure_ad_token": secret}
        else:
            auth = {"azure_ad_token_provider": _token_provider()}
        self._client: openai.AsyncAzureOpenAI = openai.AsyncAzureOpenAI(
            azure_endpoint=config.url(),
            azure_deployment=config.deployment,
            api_version=config.api_version,
            max_retries=0,  # the runner retries, with back-off and Retry-After
            timeout=config.timeout,
            **auth,
        )

    async def complete(self, prompt: Prompt) -> Completion:
        """Send one chat completion to the deployment; an error never carries the key."""
        with keys_masked(self._secret):
            body = request_body(prompt, self.config)
            start = time.perf_counter()
            try:
                raw = await self._client.chat.completions.with_raw_response.create(**body)
                response = raw.parse()
            except Exception as exc:
                raise classify(exc) from exc
            latency_ms = (time.perf_counter() - start) * 1000
            return completion_from_json(response.model_dump(), latency_ms, raw.headers)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
