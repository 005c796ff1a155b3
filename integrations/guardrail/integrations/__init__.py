"""Framework integrations (importable as ``guardrail.integrations``): LangChain, LangGraph."""
