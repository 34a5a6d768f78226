"""The simulator on the command line: a rich progress bar while it builds, a table after; for
`clm demo`, a bar through the lifecycle step and the churn model's validation."""

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clm.core.console import parse_day
from clm.demo.simulator import Result, simulate

if TYPE_CHECKING:
    from clm.demo.services import AfterBuild

LIFECYCLE_STEPS = {
    "history": "lifecycle history: run {done} of {total}",
    "training": "churn model: snapshot {done}",
    "today": "today's run",
}


def simulate_with_progress(console: Console, **arguments) -> Result:
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("drawing the company", total=1.0)
        return simulate(
            **arguments, progress=lambda done, label: bar.update(task, completed=done, description=label)
        )


def lifecycle_with_progress(console: Console, as_of, **replay) -> "AfterBuild":
    """services.after_build with a bar: the year's runs, the training snapshots, today's run
    (`replay`: the simulation's result and the playbooks its replay turns on)."""
    from clm.demo.services import after_build  # the engine: only `clm demo` needs it

    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("lifecycle history", total=None)

        def tell(step, done, total):
            bar.update(task, description=LIFECYCLE_STEPS[step].format(done=done, total=total), completed=done,
                       total=total)

        return after_build(as_of, progress=tell, **replay)


def show_model_quality(console: Console, done: "AfterBuild") -> None:
    """What the churn model reached on the held-out later dates, or why there is none."""
    if done.model is None:
        console.print(f"No churn model: {done.no_model}. Health, stages and signals run without it.")
        return
    metadata = done.model.metadata
    valid, rows, positives = metadata["validation"], metadata["rows"], metadata["positives"]
    auc = valid.get("roc_auc")
    quality = f"ROC AUC {auc:.3f}, Brier {valid['brier']:.4f}" if auc is not None else "one class only, no AUC"
    console.print(
        f"Churn model {done.model.version}: validated on {rows['validation']:,} later snapshots "
        f"({positives['validation']:,} churned within {done.model.horizon_days} days): {quality}."
    )


def show_result(console: Console, result: Result) -> None:
    spec = result.spec
    console.print(
        f"Built {spec.accounts:,} accounts over {spec.months} months "
        f"({result.start:%Y-%m-%d} – {spec.as_of:%Y-%m-%d}, seed {spec.seed}) in {result.seconds:.1f} s: "
        f"{result.total_rows:,} rows, {result.total_rows / max(result.seconds, 1e-9):,.0f} rows/s."
    )
    table = Table("table", "rows", box=None, pad_edge=False)
    for label, rows in sorted(result.rows.items(), key=lambda kv: -kv[1]):
        table.add_row(label, f"{rows:,}")
    console.print(table)


def add_size_arguments(parser) -> None:
    """The options that size and date a simulated company, shared by `clm simulate` and `clm demo`."""
    parser.add_argument("--accounts", type=int, default=600, help="how many accounts (default 600)")
    parser.add_argument("--months", type=int, default=24, help="length of the simulated period (default 24)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--as-of", type=parse_day, default=None, help="last simulated day, YYYY-MM-DD (default today)"
    )
