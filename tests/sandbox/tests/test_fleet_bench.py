"""benches/fleet.py's arithmetic (no sandbox): the peak over 1 s windows, the bake loop's cost per
health check from an execution history, and the BENCHMARKS.md section kept between its markers by
both fleet.py and run.py."""
import datetime
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benches"))
import fleet  # noqa: E402
import run  # noqa: E402


def test_peak_per_second_counts_a_sliding_window():
    assert fleet.peak_per_second([]) == 0
    assert fleet.peak_per_second([0.0, 0.5, 0.99, 1.5, 1.6, 1.7]) == 4  # (0.7, 1.7]: 0.99, 1.5, 1.6, 1.7
    assert fleet.peak_per_second([0.0, 1.0]) == 1  # exactly 1 s apart: two windows
    assert fleet.peak_per_second([0.0, 2.0, 4.0]) == 1


def _ev(kind, name=None, t=0):
    e = {"type": kind, "timestamp": datetime.datetime.fromtimestamp(t, datetime.timezone.utc)}
    if name:
        e["stateEnteredEventDetails"] = {"name": name}
    return e


def _task(name):
    return [_ev("TaskStateEntered", name), _ev("TaskScheduled"), _ev("TaskStarted"), _ev("TaskSucceeded"),
            _ev("TaskStateExited")]


def test_bake_loop_costs_a_full_check():
    # Two checks: Bake, BakeDone, WaitBake, Bake, BakeDone (the last leaves the loop), then Advance.
    events = ([_ev("ExecutionStarted")] + _task("Bake") + [_ev("ChoiceStateEntered", "BakeDone"),
              _ev("ChoiceStateExited"), _ev("WaitStateEntered", "WaitBake"), _ev("WaitStateExited")]
              + _task("Bake") + [_ev("ChoiceStateEntered", "BakeDone"), _ev("ChoiceStateExited"),
                                 _ev("PassStateEntered", "Advance"), _ev("PassStateExited")])
    c = fleet.bake_loop_costs(events)
    assert c["checks"] == 2 and c["waits"] == 1
    assert c["transitions_per_check"] == 3.0
    assert c["events_per_check"] == 5 + 2 + 2  # the full loop, not the average (8.0) that omits a wait
    assert c["invokes_per_check"] == 1.0
    assert c["events_outside_loop"] == 3  # ExecutionStarted + Advance's two


def test_fleet_section_survives_both_writers(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# hookline benchmarks\n\nold\n")
    section = f"{fleet.MARK_BEGIN}\n## 5. fleet\nfirst\n{fleet.MARK_END}\n"
    fleet.write_section(section, path)
    assert path.read_text() == "# hookline benchmarks\n\nold\n\n" + section
    fleet.write_section(section.replace("first", "second"), path)
    assert path.read_text().count(fleet.MARK_BEGIN) == 1 and "second" in path.read_text()
    # make bench rewrites the file from its own render: the fleet section is carried over.
    kept = run.keep_fleet_section("# hookline benchmarks\n\nnew\n", path)
    assert kept.startswith("# hookline benchmarks\n\nnew\n") and "second" in kept and kept.count(fleet.MARK_END) == 1
    assert run.keep_fleet_section("x\n", tmp_path / "missing.md") == "x\n"
