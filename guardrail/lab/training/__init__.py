"""Training FineCE scorers: instruction fine-tuning (default) and the value-head ablation.

Needs the ``train`` extra (peft). See :func:`guardrail.lab.training.trainer.train`.
"""
