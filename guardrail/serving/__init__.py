"""Serving the scorer: one scorer service for many guarded processes.

:mod:`guardrail.serving.service` is the engine-independent core (a scorer, per-stream KV
sessions, batched requests), :mod:`guardrail.serving.ray_app` runs it as a Ray Serve
application (``guardrail serve``), :mod:`guardrail.serving.engines` prints the launch lines of
SGLang and vLLM for GPU operators. Clients use :class:`guardrail.scorers.remote.RemoteScorer`.
"""
