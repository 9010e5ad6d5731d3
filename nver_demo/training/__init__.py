"""What makes checkpoints: dataset readers, the embedding and log-mel caches, training and
cross-validation, and the fine-tuning of Whisper-base's lower encoder (:mod:`.finetune`). The app
never imports this package."""
