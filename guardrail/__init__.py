"""FineCE Guardrail: know when an LLM is about to be wrong while it is still writing."""

__version__ = "0.1.0"
