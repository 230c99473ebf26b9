"""Offline evaluation of the assistant: retrieval, answers, citations, abstention, latency.

Run `python -m evals` (see `evals/__main__.py`); the question set is `evals/questions.jsonl`.
"""


class EvalError(Exception):
    """The eval cannot run as asked (bad question file, thresholds or options); the message says
    what to fix."""
