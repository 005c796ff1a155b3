"""The policy document: scorer, checkpoints, BCI, failure mode, ordered rules, default action.

A policy file looks like this (see ``policies/default.yaml`` for a commented one)::

    # yaml-language-server: $schema=./policy.schema.json
    version: 1
    name: my-policy
    scorer: {model: "builtin:finece-smollm2", device: auto, latency_budget_s: 2.0}
    checkpoints: {strategies: [{type: paragraph}], min_gap: 8, max_per_answer: 16}
    bci: {alpha: 0.5, depth: 0, width: 0}
    on_error: fail_closed
    overload: skip_process
    rules:
      - name: weak-outcome
        when: {stage: outcome, confidence_below: 0.5}
        action: {type: human_review, queue: default, mode: provisional}
    default_action: continue

Rules are tried in order; the first whose ``when:`` holds decides. ``checkpoints`` and ``bci``
are :class:`~guardrail.triggers.config.CheckpointSettings` and
:class:`~guardrail.triggers.config.BCISettings`, the same models the triggers use.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from guardrail.errors import GuardrailConfigError
from guardrail.policy import diagnostics, loader
from guardrail.policy.actions import ActionField, ContinueAction
from guardrail.policy.conditions import Condition
from guardrail.policy.fields import NonEmptyStr, PolicyModel, policy_error
from guardrail.triggers.config import BCISettings, CheckpointSettings

__all__ = ["AuditSettings", "Policy", "Rule", "ScorerSettings", "schema_json"]

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")


class ScorerSettings(PolicyModel):
    """Which confidence scorer to run, where, and how long one estimate may take.

    ``model`` is a model reference (``builtin:finece-smollm2``, a local path or a hub id), a
    training-free ``logprob:SIGNAL`` scorer or a ``hybrid:REF`` scorer (FineCE and logprob
    signals combined, per generator);
    ``device`` is ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``. ``latency_budget_s`` is
    a deadline: a question or outcome estimate not in by then is a scorer failure
    (``Policy.on_error``); a process estimate not in by then is an overload
    (``Policy.overload``). The late result is discarded.
    ``max_input_tokens`` bounds what the scorer reads per estimate (prompt, question, answer
    and readout): a question is cut to half of it, and of a longer answer only the most recent
    tokens that fit are read; each checkpoint event records the tokens left out
    (``truncated_tokens``).

    With ``url`` the scorer is a shared service instead (``guardrail serve``, SGLang or vLLM,
    named by ``engine``; ``adapter`` is the LoRA adapter's name there): ``model`` then only
    supplies the tokenizer and calibration map, and the budget is one deadline over the whole
    HTTP call. Credentials for the service never go in ``url`` (user information there is
    refused): ``api_key_env`` names an environment variable whose value is sent as
    ``Authorization: Bearer`` (``guardrail serve --token-env``), ``headers`` are sent with
    every call (their values are never shown by ``repr``).
    """

    model: NonEmptyStr = "builtin:finece-smollm2"
    device: str = Field(default="auto", pattern=r"^(auto|cpu|mps|cuda(:[0-9]{1,2})?)$")
    latency_budget_s: float = Field(default=2.0, gt=0.0, le=600.0, allow_inf_nan=False)
    max_input_tokens: int = Field(default=4096, ge=256, le=131_072)
    url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$", max_length=2000)
    engine: Literal["ray", "sglang", "vllm"] = "ray"
    adapter: str = Field(default="finece", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    headers: dict[str, str] = Field(default_factory=dict, max_length=32, repr=False)

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, url: str | None) -> str | None:
        if url is not None and "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise policy_error(
                "credentials in the scorer url are not accepted: they would be shown "
                "wherever the url is",
                expected="scorer.api_key_env (an environment variable) or scorer.headers",
            )
        return url

    @field_validator("headers")
    @classmethod
    def _header_fields(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise policy_error(
                    f"header name {name[:64]!r} is not an HTTP token",
                    expected="letters, digits and !#$%&'*+-.^_`|~",
                )
            if len(value) > 8192 or any(c in value for c in "\r\n\0"):
                raise policy_error(
                    f"the value of header {name!r} is over 8192 characters or has a line break"
                )
        return headers


class AuditSettings(PolicyModel):
    """What a guarded call does when its audit log cannot keep a record.

    ``fail_closed`` fails the call with the write error (nothing runs unrecorded);
    ``fail_open`` goes on without the record. Both log the failure to the ``guardrail.audit``
    logger at ERROR.
    """

    on_error: Literal["fail_closed", "fail_open"] = "fail_closed"


class Rule(PolicyModel):
    """One named rule: when ``when`` holds, the engine decides ``action``."""

    name: str = Field(pattern=_NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    when: Condition
    action: ActionField


class Policy(PolicyModel):
    """A complete, validated guardrail policy. Build it with the ``from_*`` constructors.

    ``on_error`` is what a scorer failure (or a missed deadline) does; ``overload`` what gives
    when the scorer falls behind the stream: ``skip_process`` drops process checkpoints and
    keeps the question and outcome estimates, ``fail_open`` stops checking the answer,
    ``fail_closed`` aborts it.
    """

    version: Literal[1] = 1
    name: str = Field(default="unnamed", pattern=_NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    scorer: ScorerSettings = Field(default_factory=ScorerSettings)
    checkpoints: CheckpointSettings = Field(default_factory=CheckpointSettings)
    bci: BCISettings = Field(default_factory=BCISettings)
    on_error: Literal["fail_closed", "fail_open"] = "fail_closed"
    overload: Literal["skip_process", "fail_closed", "fail_open"] = "skip_process"
    audit: AuditSettings = Field(default_factory=AuditSettings)
    rules: list[Rule] = Field(default_factory=list, max_length=256)
    default_action: ActionField = Field(default_factory=ContinueAction)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_int(cls, value: object) -> object:
        if isinstance(value, bool):
            raise policy_error(f"version must be the number 1, got {value!r}", expected="1")
        return value

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        seen: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if rule.name in seen:
                raise policy_error(
                    f"rule name {rule.name!r} is already used by rules[{seen[rule.name]}]",
                    expected="unique rule names",
                    at=(index, "name"),
                )
            seen[rule.name] = index
        return rules

    # ---------------------------------------------------------------- constructors
    @classmethod
    def _from_document(cls, document: loader.LocatedDocument) -> Policy:
        try:
            return cls.model_validate(document.data)
        except ValidationError as exc:
            issues = diagnostics.issues_from_validation(exc, document, cls)
            raise GuardrailConfigError(issues) from None

    @classmethod
    def from_text(cls, text: str | bytes, source: str | None = None) -> Policy:
        """Parse and validate a YAML (or JSON) policy; ``source`` names it in error messages."""
        return cls._from_document(loader.read_text(text, source))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Policy:
        """Read, parse and validate a policy file (at most 1 MB)."""
        return cls._from_document(loader.read_file(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> Policy:
        """Validate a policy given as Python data (as parsed from YAML or JSON)."""
        return cls._from_document(loader.read_mapping(data, source))

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of policy documents, for editors and CI."""
        schema = cls.model_json_schema(mode="validation")
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **schema,
            "title": "FineCE Guardrail policy",
        }

    def rule(self, name: str) -> Rule:
        """The rule called ``name``; ``KeyError`` when there is none."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def schema_json() -> str:
    """The policy JSON Schema as the text shipped in ``policies/policy.schema.json``."""
    return json.dumps(Policy.json_schema(), indent=2, ensure_ascii=False) + "\n"
