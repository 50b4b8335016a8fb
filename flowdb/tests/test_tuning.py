"""Configuration derived from memory and cores, and the environment overrides."""

import pytest

from flowdb.errors import FlowDBError
from flowdb.tuning import GB, compute_tuning


def test_two_cores_put_every_core_to_work():
    values = compute_tuning({}, memory=24 * GB, cores=2).values
    assert values["max_parallel_workers"] == "2"
    assert values["max_parallel_workers_per_gather"] == "2"
    # Background-worker slots must exceed the parallel pool (the replication launcher takes one).
    assert int(values["max_worker_processes"]) > int(values["max_parallel_workers"])
    assert values["max_parallel_maintenance_workers"] == "2"


def test_memory_formulas_on_24_gib():
    values = compute_tuning({}, memory=24 * GB, cores=2).values
    assert values["shared_buffers"] == "6144MB"
    assert values["effective_cache_size"] == "18432MB"
    assert values["work_mem"] == "256MB"
    assert values["maintenance_work_mem"] == "1536MB"
    assert values["max_locks_per_transaction"] == "36500"
    assert values["jit"] == "on"
    assert values["jit_inline_above_cost"] == values["jit_optimize_above_cost"] == "10000000"


def test_shared_buffers_capped_at_16gb_and_work_mem_bounded():
    big = compute_tuning({}, memory=256 * GB, cores=64).values
    assert big["shared_buffers"] == "16384MB"
    assert big["work_mem"] == "1024MB"
    small = compute_tuning({}, memory=2 * GB, cores=1).values
    assert small["work_mem"] == "64MB"
    assert small["max_parallel_workers_per_gather"] == "1"


def test_every_value_is_overridable():
    env = {
        "SHARED_BUFFERS_SIZE": "1GB",
        "EFFECTIVE_CACHE_SIZE": "3GB",
        "WORK_MEM": "32MB",
        "MAINTENANCE_WORK_MEM": "512MB",
        "MAX_CPUS": "8",
        "MAX_WORKERS": "6",
        "MAX_WORKERS_PER_GATHER": "4",
        "STATS_TARGET": "10000",
        "MAX_LOCKS_PER_TRANSACTION": "1000",
        "NO_USE_JIT": "1",
        "JIT_INLINE_ABOVE_COST": "1000",
        "JIT_OPTIMIZE_ABOVE_COST": "2000",
    }
    values = compute_tuning(env, memory=24 * GB, cores=2).values
    assert values["shared_buffers"] == "1GB"
    assert values["effective_cache_size"] == "3GB"
    assert values["work_mem"] == "32MB"
    assert values["maintenance_work_mem"] == "512MB"
    assert values["max_parallel_workers"] == "6"
    assert values["max_parallel_workers_per_gather"] == "4"
    assert values["max_worker_processes"] == "14"
    assert values["default_statistics_target"] == "10000"
    assert values["max_locks_per_transaction"] == "1000"
    assert values["jit"] == "off"
    assert (values["jit_inline_above_cost"], values["jit_optimize_above_cost"]) == ("1000", "2000")


def test_per_gather_never_exceeds_the_pool():
    values = compute_tuning({"MAX_WORKERS": "1"}, memory=24 * GB, cores=4).values
    assert values["max_parallel_workers_per_gather"] == "1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHARED_BUFFERS_SIZE", "lots"),
        ("MAX_CPUS", "two"),
        ("MAX_CPUS", "0"),
        ("STATS_TARGET", "-1"),
    ],
)
def test_bad_overrides_are_refused_with_the_variable_named(name, value):
    with pytest.raises(FlowDBError, match=name):
        compute_tuning({name: value}, memory=24 * GB, cores=2)
