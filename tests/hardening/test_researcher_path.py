"""Issue 19: the path from a real extract to an exported table has no dead ends.

Shared reading options on every command that reads extracts, the lenient ADRESSE_ID fallback as a
warning with its count, year specs in the API, messages that name what the data hold.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pendling import load_panel, mobility
from pendling.cli import app
from pendling.errors import InputError
from pendling.report.style import save_figure
from pendling.report.figures import plot_change

runner = CliRunner()
HEADER = "PNR,KOM,ADRESSE_ID,LBNR,ARBKOM,DISCO08_ALLE_INDK_13\n"


def _extract(tmp_path: Path, addr: str) -> Path:
    """Two years, 8 persons; person 1-6 move inside København (address changes), same job."""
    d = tmp_path / "ex"
    d.mkdir()
    for year in (2020, 2021):
        rows = [f"{p},101,{addr}{p}{year if p <= 6 else ''},{900 + p},101,2512\n" for p in range(1, 9)]
        (d / f"ras{year}.csv").write_text(HEADER + "".join(rows))
    return d


@pytest.mark.parametrize("command", [["panel", "check"], ["panel", "export", "--out", "x.parquet"],
                                     ["compute"],
                                     ["plot"]])
def test_every_reading_command_takes_the_same_options(command: list[str]) -> None:
    out = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output
    for flag in ("--column-map", "--jobgroups", "--on-duplicate", "--lenient"):
        assert flag in out, (command, flag)


def test_lenient_text_address_is_a_warning_with_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # '-12020': a negative ADRESSE_ID cannot be an id (text ids such as 'A12020' are keys, issue 13)
    src = _extract(tmp_path, "-")
    with pytest.raises(InputError, match="column ADRESSE_ID"):
        load_panel(src)
    panel = load_panel(src, strict=False)
    assert panel.provenance["unreadable_values"] == {"home_addr": 16}
    assert any(w.startswith("ADRESSE_ID: 16 values") and "change of home municipality" in w for w in panel.warnings)
    run = mobility.run(panel, years=2021, min_n=3)
    note = dict(run.method.rows())["mover_definition_fallback"]
    assert note.startswith("WARNING: ADRESSE_ID is missing for 16 of 16 person-years")
    # the fallback is real: moves inside the municipality are not movers any more
    assert run.results.filter((pl.col("flow") == "movers") & (pl.col("region") == "all")
                              & (pl.col("job_group") == "all"))["n"].item() == 0
    monkeypatch.chdir(tmp_path)
    check = runner.invoke(app, ["panel", "check", str(src), "--lenient"])
    assert check.exit_code == 0
    assert "ok:" not in check.output and "16 ADRESSE_ID values were read as missing" in check.output
    comp = runner.invoke(app, ["compute", "--panel", str(src), "--lenient", "--year", "2021", "--min-n", "3",
                               "--out", "r.csv"])
    assert comp.exit_code == 0, comp.output
    assert "ADRESSE_ID is missing for 16 of 16" in comp.output
    assert "mover_definition_fallback" in (tmp_path / "r.method.csv").read_text()


def test_without_fallback_the_movers_are_counted(tmp_path: Path) -> None:
    panel = load_panel(_extract(tmp_path, "1"))
    run = mobility.run(panel, years="2021", min_n=3)
    assert "mover_definition_fallback" not in dict(run.method.rows())
    assert run.results.filter((pl.col("flow") == "movers") & (pl.col("region") == "all")
                              & (pl.col("job_group") == "all"))["n"].item() == 6


def test_year_specs_and_year_messages(tmp_path: Path) -> None:
    src = _extract(tmp_path, "1")
    assert load_panel(src, years="2020-2021").years == [2020, 2021]
    assert load_panel(src, years="2021").years == [2021]
    with pytest.raises(InputError, match=r"the file names give 2020-2021(.|\n)*ask for years among 2020-2021"):
        load_panel(src, years="2024-2025")
    res = runner.invoke(app, ["compute", "--panel", str(src), "--year", "2025"])
    assert res.exit_code == 2
    assert "the extract holds 2020-2021, so flow years 2021 can be computed" in res.output
    assert "--year 2021" in res.output


def test_matrix_show_explains_christianso() -> None:
    res = runner.invoke(app, ["matrix", "show", "--from", "101", "--to", "411"])
    assert res.exit_code == 2 and "use that" in res.output and "400" in res.output


def test_pdf_figures_are_byte_identical(tmp_path: Path) -> None:
    results = pl.DataFrame({
        "year": [2021] * 2, "flow": ["movers"] * 2, "job_group": ["digital", "all"], "region": ["all"] * 2,
        "n": [40, 90], "mean_rel_change": [0.1, 0.05], "ci_low": [0.0, 0.01], "ci_high": [0.2, 0.09],
        "suppressed": [False, False]})
    fr = plot_change(results, flow="movers", region="all")
    a, b = save_figure(fr.figure, tmp_path / "a.pdf"), save_figure(fr.figure, tmp_path / "b.pdf")
    assert a.read_bytes()[:5] == b"%PDF-" and a.read_bytes() == b.read_bytes()
    ax = fr.figure.axes[0]
    assert ax.get_xlim() == (2020, 2022)  # one year: not 1925-2125
    assert {c.get_gid() for c in ax.collections} >= {"digital_ci_bar", "all_ci_bar"}  # the CI is drawn


def test_compute_on_a_panel_export_says_where_the_raw_attrition_is(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    src = _extract(tmp_path, "1")
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["panel", "export", str(src), "--out", "p.parquet"])
    assert res.exit_code == 0, res.output
    assert all((tmp_path / n).is_file() for n in ("p.attrition.csv", "p.flags.csv", "p.panel.json"))
    assert str((tmp_path / "p.attrition.csv").resolve()) in res.output.replace("\n", "")  # absolute paths
    again = load_panel(tmp_path / "p.parquet")
    assert any("written by `pendling panel export`" in w and "p.attrition.csv" in w for w in again.warnings)
    assert not any("panel export" in w for w in load_panel(src).warnings)


def test_compute_table_display() -> None:
    from pendling.cli._common import results_display

    results = pl.DataFrame({
        "year": [2021, 2021], "flow": ["movers", "job_changers"], "job_group": ["physical_social", "all"],
        "region": ["sjaelland", "landkommuner"], "n": [1234, None], "mean_rel_change": [-0.00004, None],
        "ci_low": [-0.1, None], "ci_high": [0.25, None], "ratio_of_means": [0.8103, None],
        "suppressed": [False, True], "mean_minutes_before": [17.0, None], "mean_minutes_after": [19.25, None]})
    shown = results_display(results)
    assert shown.row(0) == ("2021", "movers", "physical/social", "Sjælland", "1234", "0.0%", "-10.0% to 25.0%",
                            "17.0 → 19.2")
    assert shown.row(1)[4:] == ("suppr.", "–", "–", "–")
    assert "min" not in " ".join(shown.columns).replace("minutes", "")  # nothing reads as a minimum


def test_compute_output_fits_100_columns(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-m", "pendling", "compute", "--year", "2021", "--by", "region",
                          "--by", "kommunegruppe", "--out", str(tmp_path / "r.parquet")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert max(map(len, out.splitlines())) <= 100
    for grouping in ("Hovedstaden and the rest", "five regions", "kommunegrupper"):
        assert f"— {grouping}" in out
    assert "-0.0%" not in out and "Sjælland" in out


def test_distance_figure_from_a_results_table_says_what_to_do(tmp_path: Path) -> None:
    results = tmp_path / "r.parquet"
    pl.DataFrame({"year": [2021], "flow": ["movers"], "job_group": ["all"], "region": ["all"], "n": [10],
                  "mean_rel_change": [0.1], "ci_low": [0.0], "ci_high": [0.2], "suppressed": [False]}
                 ).write_parquet(results)
    res = runner.invoke(app, ["plot", "--figure", "distance", "--results", str(results), "-o", str(tmp_path / "d.png")])
    assert res.exit_code == 2
    assert "holds no distances" in res.output and "--figure distance --panel" in res.output
    res = runner.invoke(app, ["plot", "--figure", "movers", "--region", "landkommuner", "--results", str(results),
                              "-o", str(tmp_path / "m.png")])
    assert res.exit_code == 2 and "no rows for region 'landkommuner'" in res.output  # lists what is there
