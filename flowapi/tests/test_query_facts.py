"""The bounded memory of query specs and aggregation units."""

from __future__ import annotations

from flowapi.query_facts import QueryFacts


def test_facts_are_remembered_as_copies_and_evicted_least_recent_first():
    facts = QueryFacts(budget=64 * 100)
    spec = {"query_kind": "k", "n": 1}
    facts.remember_spec("a" * 32, spec)
    got = facts.spec("a" * 32)
    assert got == spec
    got["n"] = 2  # a caller changing its copy changes nothing remembered
    assert facts.spec("a" * 32) == spec
    assert facts.unit(spec) == (False, None)
    facts.remember_unit(spec, None)
    assert facts.unit({"n": 1, "query_kind": "k"}) == (True, None)  # key order does not matter
    facts.remember_unit(spec, "admin3")
    assert facts.unit(spec) == (True, "admin3")

    for i in range(200):  # far more than the budget holds
        facts.remember_spec(f"{i:032d}", {"query_kind": "k", "i": i})
    assert facts.spec("a" * 32) is None  # the least recently used went first
    assert facts.spec(f"{199:032d}") == {"query_kind": "k", "i": 199}
    assert facts._specs._used <= facts._specs.budget


def test_an_outsized_spec_is_not_remembered():
    facts = QueryFacts(budget=64 * 100)
    big = {"query_kind": "k", "pad": "x" * 200}
    facts.remember_spec("b" * 32, big)
    facts.remember_unit(big, "admin1")
    assert facts.spec("b" * 32) is None and facts.unit(big) == (False, None)
