#!/usr/bin/env python3
"""Coverage-guided fuzzing of the policy reader: ``load_policy`` on any bytes as ``policy.toml`` and as the
``pyproject.toml`` of a project root (``[tool.conformance]``).

    python fuzz/policy_toml.py CORPUS fuzz/seeds/policy_toml -dict=fuzz/dicts/policy.dict -max_len=8192

``tomllib`` is instrumented too: coverage guides the input through TOML's grammar to the kit's checks.
Property: a Policy within the documented bounds, or the kit's error with a message.
"""

from __future__ import annotations

import _harness  # first: instruments the kit

from conformance.policy import Policy, load_policy

PROJECT = _harness.SCRATCH / "project"
PROJECT.mkdir()


def check(policy: Policy | None) -> None:
    if policy is None:
        return
    assert 0.5 <= policy.confidence < 1
    assert policy.min_subjects >= 1
    assert policy.bootstrap >= 100
    assert policy.invariance_photos >= 0
    assert policy.invariance_transforms >= 0
    assert all(0 <= t <= 1 for t in policy.tolerance.values())
    assert set(policy.identity.values()) <= {"woman", "man", "nonbinary"}


def TestOneInput(data: bytes) -> None:
    path = _harness.SCRATCH / "policy.toml"
    path.write_bytes(data)
    check(_harness.outcome(lambda: load_policy(path)))
    (PROJECT / "pyproject.toml").write_bytes(data)
    check(_harness.outcome(lambda: load_policy(project_root=PROJECT)))


if __name__ == "__main__":
    _harness.main(TestOneInput)
