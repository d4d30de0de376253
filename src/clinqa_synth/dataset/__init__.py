"""Writing generated QA records as a Hugging Face parquet dataset folder with a card, and publishing it."""
