"""The Chrome JSON fuzzer (tests/fuzzing/chrome_mutants.py) on a seeded sample: every mutant ends in a
profile that reads back through the analyses or in one UserError line naming the file, within the time
and memory bounds. bench/fuzz_chrome_campaign.py runs the same campaign at 10,000 mutants and more."""
from __future__ import annotations

from pathlib import Path

import pytest

from tensorboard_plugin_neuron.errors import UserError
from tensorboard_plugin_neuron.interop import chrome_import
from tests.fuzzing.chrome_mutants import run_campaign, run_case
from tests.fuzzing.chrome_mutations import Case, make_case
from tests.fuzzing.chrome_seeds import seed_documents

SAMPLE = 500
SEED = 2026


def test_a_seeded_sample_of_mutants_all_import_or_fail_in_one_line() -> None:
    result = run_campaign(SAMPLE, SEED, memory_every=10)
    print(result.report())
    assert not result.failures, result.report()
    assert result.outcomes["loaded"] > SAMPLE // 5 and result.outcomes["user_error"] > SAMPLE // 5, result.report()


def test_a_case_is_the_same_bytes_every_time() -> None:
    seeds = seed_documents()
    first = [make_case(seeds, 7, i, 2**20) for i in range(30)]
    again = [make_case(seeds, 7, i, 2**20) for i in range(30)]
    assert [c.data for c in first] == [c.data for c in again]
    assert len({c.data for c in first}) > 25


@pytest.mark.parametrize("failure, kind", [(KeyError("bug"), "internal_error"), (UserError("two\nlines"), "multi_line_message"),
                                           (UserError("no file named"), "message_without_file")])
def test_the_harness_reports_what_it_must(tmp_path: Path, monkeypatch, failure: Exception, kind: str) -> None:
    """A bug behind the boundary, a message of two lines and one that does not name the file are failures."""
    def broken(events: list) -> None:
        raise failure

    data = b'{"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "dur": 1}]}'
    case = Case(data, ".json", ["hand-made"], expected_events=1, json_bytes=len(data))
    assert run_case(case, tmp_path).kind == "loaded"
    monkeypatch.setattr(chrome_import, "parse_events", broken)
    if isinstance(failure, UserError):   # the harness must catch what the boundary would otherwise mend
        monkeypatch.setattr(chrome_import, "_import_boundary", lambda exc, path: exc)
    assert run_case(case, tmp_path).kind == kind


@pytest.mark.parametrize("case", [198, 2646, 4617, 6995])
def test_imports_the_reader_would_refuse_are_clamped_or_refused_at_import(case: int) -> None:
    """Seed 21 of bench/fuzz.py after the merge: the importer wrote profiles the hardened reader refused (more
    than 1,000 threads of one process, a core of 2^31-1, negative bytes or FLOPs from args)."""
    from tests.fuzzing.chrome_mutants import reproduce

    _, outcome = reproduce(21, case, None)
    assert outcome.kind in ("loaded", "user_error"), outcome.detail
