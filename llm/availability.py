"""Whether the LLM tier can run with the given settings, decided without loading the HTTP client.

`runtime.assemble` asks this first and imports the tier (and `huggingface_hub` with it) only when the
answer is yes, so `decide` and the scheduler start fast when no LLM is configured.
"""

from cluster.config import Settings


def unavailable_reason(settings: Settings) -> str | None:
    """Why the LLM tier cannot run with these settings, or None when it can."""
    if not settings.llm.enabled:
        return "the llm tier is disabled (llm.enabled: false)"
    token = settings.huggingface_token
    if token is None and not settings.llm.endpoint:
        return (
            "the llm tier needs HUGGINGFACE_TOKEN (for the Hugging Face router) or LLM_ENDPOINT / llm.endpoint "
            "(a self-hosted OpenAI-compatible server); neither is set"
        )
    uses_router = not settings.llm.endpoint and settings.llm.provider == "auto"
    if uses_router and token is not None and not token.get_secret_value().startswith("hf_"):
        return (
            "the Hugging Face router (llm.provider: auto) needs a Hugging Face token (hf_...) in "
            "HUGGINGFACE_TOKEN; for another server set LLM_ENDPOINT"
        )
    return None
