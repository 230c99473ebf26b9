"""Text analysis, embeddings, the Chroma store, and retrieval of passages and sentences."""
