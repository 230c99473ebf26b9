"""From retrieved sentences to an answer: what is refused, what is quoted, fixed texts, llm mode."""
