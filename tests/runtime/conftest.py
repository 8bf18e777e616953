"""The LLM tests' fake chat-completions server, for the loop tests that run the LLM tier."""

from tests.llm.conftest import fake_llm  # noqa: F401 - a fixture, found by pytest under its name
