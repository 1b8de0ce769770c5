"""The run's figures on literal records (no study, no training): pareto.png's title, ranks, legend and the
strip of proposals that trained nothing; curves.png from the trials' learning curves."""
from nas.search.plots import curves, pareto, run_title
from nas.search.records import TrialRecord, pareto_front


def rec(number, status, accuracy, macs, named=None, history=None):
    return TrialRecord(number, status, accuracy, macs, 1000, f"d{number}", named, None, None, None, "{}",
                       history=history)


def history(*accuracies):
    return [{"epoch": i, "val_accuracy": a, "train_loss": 2 - a, "train_accuracy": a, "seconds": 1.0}
            for i, a in enumerate(accuracies, 1)]


ROWS = [rec(0, "trained", 0.90, 250_000_000, named="mobilenet_v2", history=history(0.5, 0.9)),
        rec(1, "trained", 0.80, 100_000_000, history=history(0.4, 0.8)),
        rec(2, "trained", 0.70, 200_000_000, history=history(0.6, 0.7)),  # dominated by 1
        rec(3, "failed", None, 150_000_000, history=history(0.1)),
        rec(4, "over_budget", None, 400_000_000), rec(5, "over_budget", None, 9_000_000_000),
        rec(6, "invalid", None, None)]
SUMMARY = {"space": "mobile", "budget": 300_000_000, "data": {"kind": "cifar10", "path": "/data/cifar-10"},
           "train": {"epochs": 2}, "by_status": {"trained": 3, "failed": 1, "over_budget": 2, "invalid": 1}}


def test_the_title_names_space_budget_data_epochs_and_training_runs():
    assert run_title(SUMMARY) == ("mobile, budget 300.0M FLOPs, cifar10:cifar-10 data, 2 epochs, "
                                  "4 training runs (3 trained, 1 failed)")
    assert run_title({"space": "phi", "budget": 10**15}) == "phi"  # a sweep: no budget to name


def test_pareto_plot_ranks_the_front_and_draws_what_trained_nothing_apart(tmp_path):
    front = pareto_front(ROWS)
    assert [r.number for r in front] == [0, 1]  # the seeded backbone is rank 1
    fig = pareto(tmp_path / "pareto.png", ROWS, front, 300_000_000, "macs", run_title(SUMMARY))
    main, strip = fig.axes
    labels = [t.get_text() for t in main.get_legend().get_texts()]
    assert labels == ["trained (3)", "named backbone, seeded (1)", "Pareto front (2), numbered by rank", "budget",
                      "failed training (1)", "over budget, not trained (2, 1 beyond the axis)"]
    ranks = {t.get_text(): t.xy for t in main.texts if t.get_text().isdigit()}
    assert ranks == {"1": (250.0, 0.90), "2": (100.0, 0.80)}  # next to the front's points, as pareto.json ranks
    assert main.get_title() == run_title(SUMMARY)
    assert [t.get_text() for t in strip.get_yticklabels()] == ["over budget", "failed"]
    assert (tmp_path / "pareto.png").stat().st_size > 0


def test_pareto_plot_without_failures_has_no_strip_and_no_empty_legend_entries(tmp_path):
    rows = ROWS[1:3]
    fig = pareto(tmp_path / "pareto.png", rows, pareto_front(rows), 300_000_000, "macs")
    (main,) = fig.axes
    assert [t.get_text() for t in main.get_legend().get_texts()] == ["trained (2)", "Pareto front (1), numbered by rank",
                                                                     "budget"]


def test_curves_are_drawn_from_the_histories_and_skipped_without_any(tmp_path):
    assert curves(tmp_path / "curves.png", ROWS, pareto_front(ROWS), "title")
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert not curves(tmp_path / "none.png", [rec(0, "trained", 0.9, 1)], [], "") and not (tmp_path / "none.png").exists()


def test_a_latency_plot_names_what_it_cannot_place(tmp_path):
    rows = [TrialRecord(0, "trained", 0.9, 1, 1, "d0", None, None, None, 2.5, "{}"),
            TrialRecord(1, "over_budget", None, 9, 1, "d1", None, None, None, None, "{}")]
    fig = pareto(tmp_path / "p.png", rows, pareto_front(rows, "latency_ms"), 5, "latency_ms")
    (main,) = fig.axes
    assert "not drawn, no latency: 1 over budget" in [t.get_text() for t in main.texts]
    assert [t.get_text() for t in main.get_legend().get_texts()] == ["trained (1)", "Pareto front (1), numbered by rank"]
