"""One router per file: predict (the public API), sagemaker (the container contract), ops."""
