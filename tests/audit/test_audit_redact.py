from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.audit import REDACTED, is_secret_key, redact
from guardrail.events import CheckpointEvent, Stage


@pytest.mark.parametrize(
    "key",
    [
        "secret",
        "client_secret",
        "clientSecret",
        "SECRET_KEY",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "OPENAI_API_KEY",
        "apikey",
        "token",
        "access_token",
        "refreshToken",
        "x-auth-token",
        "Authorization",
        "proxy-authorization",
        "password",
        "db_password",
        "passwd",
        "private_key",
        "Cookie",
        "credentials",
        "auth",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["token_index", "max_tokens", "tokens", "confidence", "dedupe_key", "author", "keyword", 3],
)
def test_ordinary_keys(key: Any) -> None:
    assert not is_secret_key(key)


class Color(Enum):
    RED = "red"


@dataclass
class Box:
    password: str
    size: int


def test_redacts_anywhere_and_makes_json_ready() -> None:
    event = CheckpointEvent(
        index=1,
        stage=Stage.PROCESS,
        reason="r",
        token_index=3,
        char_start=0,
        char_end=1,
        confidence=0.5,
        revised=0.5,
    )
    payload = {
        "headers": {"Authorization": "Bearer abc", "Accept": "json"},
        "calls": [{"api_key": "sk-1", "n": 1}, ("x", {"token": "t"})],
        "event": event,
        "box": Box(password="pw", size=2),
        "when": datetime(2025, 1, 2, tzinfo=UTC),
        "color": Color.RED,
        "nan": float("nan"),
        "tags": {"a"},
        "odd": object,
        "secret": {"nested": "dict is masked whole"},
    }
    out = redact(payload)
    json.dumps(out, allow_nan=False)
    assert out["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert out["calls"] == [{"api_key": REDACTED, "n": 1}, ["x", {"token": REDACTED}]]
    assert out["event"]["token_index"] == 3
    assert out["box"] == {"password": REDACTED, "size": 2}
    assert out["when"] == "2025-01-02T00:00:00+00:00"
    assert out["color"] == "red"
    assert out["nan"] is None
    assert out["tags"] == ["a"]
    assert out["odd"] == repr(object)
    assert out["secret"] == REDACTED
    assert payload["headers"]["Authorization"] == "Bearer abc"  # the input is not modified


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "token", "api_key", "token_index", "Password", "x-y"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _secret_values(value: Any) -> list[Any]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if is_secret_key(key):
                found.append(item)
            found.extend(_secret_values(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_secret_values(item))
    return found


@given(json_values)
def test_redaction_property(value: Any) -> None:
    out = redact(value)
    json.dumps(out, allow_nan=False)  # always JSON-ready
    assert all(found == REDACTED for found in _secret_values(out))
    assert redact(out) == out  # idempotent
