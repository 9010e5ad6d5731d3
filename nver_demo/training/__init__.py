"""What makes checkpoints: dataset readers, the embedding cache, training and cross-validation,
and the cache of frozen Whisper blocks that fine-tuning starts from. The app never imports
this package."""
