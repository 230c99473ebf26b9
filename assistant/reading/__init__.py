"""Reading text and questions: what every stage shares (sentences, list items, French analysis, the guard)."""
