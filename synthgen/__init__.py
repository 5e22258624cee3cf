"""synthgen: fine-tuning datasets from open models on your own hardware."""

__version__ = "0.1.0"
