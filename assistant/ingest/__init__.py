"""Reading the corpus, cutting it into passages and sentences, embedding and storing them."""
