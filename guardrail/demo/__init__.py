"""``guardrail demo``: a guarded LangChain agent on the embedded model, live in the terminal."""

from guardrail.demo.run import DEMO_QUESTIONS, DemoQuestion, DemoRow, run_demo

__all__ = ["DEMO_QUESTIONS", "DemoQuestion", "DemoRow", "run_demo"]
