from guardrail import CheckpointEvent, Policy, PolicyEngine, RunContext, Stage

policy = Policy.from_file("support-policy.yaml")  # GuardrailConfigError names file:line:key
engine = PolicyEngine(policy)

# What would the policy decide for a finished billing answer scored 0.45?
event = CheckpointEvent(
    index=4, stage=Stage.OUTCOME, reason="outcome", token_index=120,
    char_start=310, char_end=402, confidence=0.45, revised=0.45,
)  # fmt: skip
decision = engine.decide(event, RunContext(model="openai/gpt-4o-mini", tags={"billing"}))
print(decision.rule, decision.action.type)  # weak-billing-answer human_review
for reason in decision.reasons:
    print("  because", reason)
