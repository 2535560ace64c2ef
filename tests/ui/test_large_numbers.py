"""Large numbers on the pages read as the charts write them (6.1×10⁶), never as 1.49e+06."""

from tests.ui.test_preact_pages import open_page


def test_experiments_tables_write_powers_of_ten_as_the_charts_do():
    at = open_page("experiments")
    cells = [str(v) for d in at.dataframe for v in d.value.to_numpy().ravel()]
    assert cells and not [c for c in cells if "e+" in c or "e-0" in c]
    slopes = next(d.value for d in at.dataframe if "mean |d output / dt|" in d.value.columns)
    assert "1.7×10⁶" in list(slopes["mean |d output / dt|"])  # Plain-110's, was 1.69e+06
