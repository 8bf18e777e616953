"""The LLM tier: Llama-3.3-70B through huggingface_hub, cached, retried and guarded."""
