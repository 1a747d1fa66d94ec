"""Bad inputs to the data side (encoders, catalogs, personas, data sets, scenarios, calibration
files, devices): each is a clear error naming the value or file and what was expected, and leaves
the files it was given unchanged.

This file is the executable register of issue #29 for that area: every row of
``docs/reliability.md`` about these inputs is a case here, and
``python tests/envs/test_bad_inputs_data.py`` prints the rows (area | bad input | error) from
actual runs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import pytest
import torch
from driftrec.encoders import HashingEncoder, load_encoder
from driftrec.envs import Catalog, load_catalog, make_scenario
from driftrec.envs.sources.catalog import CatalogRecordError
from driftrec.envs.sources.datasets import (
    DatasetFileNotFoundError,
    DatasetFormatError,
    load_dataset,
)
from driftrec.envs.sources.personas import generate_personas


class Case(NamedTuple):
    area: str
    bad_input: str
    # relative path -> content (or a function of the case folder giving it); a name ending in
    # "/" is a folder
    files: dict[str, str | bytes | Callable[[Path], str]]
    call: Callable[[Path], Any]  # gets the folder holding ``files``
    error: type[BaseException]
    match: str


def _cal(scenario: Any = "video", **fields: Any) -> str:
    """A calibration file's text: a valid one, with ``fields`` replaced (None drops a key)."""
    data = {"format": "driftrec-calibration", "version": 1, "scenario": scenario,
            "parameters": {"drift_rate": 0.1}, "fitted": ["drift_rate"]}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not None})


def _file_catalog(name: str) -> Callable[[Path], Any]:
    return lambda d: Catalog.from_file(d / name, encoder="hashing")


def _catalog(bad: str, content: str | bytes, problem: str, *, name: str = "c.csv",
             error: type[BaseException] = CatalogRecordError) -> Case:
    """``Catalog.from_file`` on one file ``name`` holding ``content`` (a folder if it ends
    in "/")."""
    return Case("catalog", bad, {name: content}, _file_catalog(name.rstrip("/")), error, problem)


def _calibration(bad: str, text: str | bytes, problem: str) -> Case:
    """``make_scenario`` on a calibration file ``c.json`` holding ``text``."""
    return Case("calibration", bad, {"c.json": text}, _scenario("c.json"), ValueError, problem)


def _scenario(name: str, **overrides: Any) -> Callable[[Path], Any]:
    """``make_scenario`` on a file in the case folder (``name`` relative to it)."""
    return lambda d: make_scenario(str(d / name), **overrides)


MOVIES = "movieId,title,genres\n1,Heat (1995),Action\n2,Up (2009),Animation\n"
RATINGS_HEADER = "userId,movieId,rating,timestamp\n"


def _movielens(bad: str, problem: str, *, movies: str = MOVIES, ratings: str = "1,1,4,5\n",
               error: type[BaseException] = DatasetFormatError) -> Case:
    """An ml-latest folder ``ml`` whose ratings.csv data rows are ``ratings``."""
    files = {"ml/movies.csv": movies, "ml/ratings.csv": RATINGS_HEADER + ratings}
    return Case("datasets", bad, files, lambda d: load_dataset("movielens", d / "ml"), error,
                problem)


HASH = HashingEncoder(8)
CUDA = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
CUDA_MATCH = (r"asks for CUDA, but CUDA is not available" if not torch.cuda.is_available()
              else r"CUDA device\(s\); expected an index")

CASES: list[Case] = [
    # ---- the list (finding 6) ----
    _catalog("CSV catalog in Latin-1 (not UTF-8)", "title\nCaf\xe9\n".encode("latin-1"),
             r"c.csv, line 2: cannot decode bytes as utf-8 \(invalid continuation byte at byte 3 "
             r"of the line\); expected a utf-8-encoded text file"),
    _catalog("JSONL catalog in Latin-1", '{"title": "Caf\xe9"}\n'.encode("latin-1"),
             r"c.jsonl, line 1: cannot decode bytes as utf-8", name="c.jsonl"),
    _catalog("CSV row with extra fields (unquoted comma in a title)",
             "title,quality\nok,0.5\nHeat, The,0.5\n",
             r"c.csv, line 3: row has 3 fields but the header has 2 \(title,quality\); expected 2 "
             r"comma-separated fields per row \(a field that contains a comma must be quoted\)"),
    Case("encoder", "empty model folder as encoder spec", {"model/": ""},
         lambda d: load_encoder(d / "model"), ValueError,
         r"model folder '.*model' is empty; expected a sentence-transformers folder"),
    Case("calibration", "calibration file that names itself as its scenario",
         {"self.json": lambda d: _cal(str(d / "self.json"))}, _scenario("self.json"), ValueError,
         r"calibration file .*self.json names itself as its scenario; expected the 'scenario' "
         r"chain to end at a preset \['news', 'shopping', 'video'\]"),
    _calibration("calibration file without 'scenario'", _cal(scenario=None),
                 r"c.json: calibration file lacks \['scenario'\]; expected the keys 'scenario', "
                 r"'parameters' and 'fitted'"),
    _calibration("calibration parameter 'abc'", _cal(parameters={"drift_rate": "abc"}),
                 r"c.json: parameters\['drift_rate'\] is 'abc'; expected a finite number"),
    Case("device", f"gym.make(Video-v0, device={CUDA!r}) without that device", {},
         lambda d: gym.make("driftrec/Video-v0", device=CUDA, encoder="hashing"), ValueError,
         rf"ScenarioConfig.device: device '{CUDA}' {CUDA_MATCH}"),
    Case("catalog", "gym.make(Video-v0, catalog='nosuch')", {},
         lambda d: gym.make("driftrec/Video-v0", catalog="nosuch", encoder="hashing"), TypeError,
         r"catalog must be a driftrec.envs.Catalog .* got 'nosuch' \(str\) \(a built-in catalog "
         r"is chosen by the scenario's domain"),
    Case("catalog", "load_catalog('nosuch')", {}, lambda d: load_catalog("nosuch", "hashing"),
         ValueError, r"unknown catalog domain 'nosuch'; expected one of \['news', 'shopping', "
         r"'video'\]"),
    # ---- encoders ----
    Case("encoder", "load_encoder(None)", {}, lambda d: load_encoder(None), TypeError,
         r"encoder spec must be a str or Path, got NoneType"),
    Case("encoder", "load_encoder('') (would load the current folder)", {},
         lambda d: load_encoder(""), ValueError, r"encoder spec is empty; expected 'minilm'"),
    Case("encoder", "load_encoder('minlm') (typo)", {}, lambda d: load_encoder("minlm"),
         ValueError, r"unknown encoder spec 'minlm': it is not a built-in name and not an "
         r"existing local directory"),
    Case("encoder", "load_encoder(a file, not a folder)", {"model.bin": "x"},
         lambda d: load_encoder(d / "model.bin"), ValueError,
         r"unknown encoder spec '.*model.bin'"),
    Case("encoder", "model folder with config.json only", {"m/config.json": '{"hidden_size": 8}'},
         lambda d: load_encoder(d / "m"), ValueError,
         r"model folder '.*m' has no weights \(looked for \*.safetensors"),
    Case("encoder", "model folder with config.json that is not JSON",
         {"m/config.json": "{oops", "m/model.safetensors": "x"}, lambda d: load_encoder(d / "m"),
         ValueError, r"config.json is not valid UTF-8 JSON"),
    Case("encoder", "model folder without tokenizer files",
         {"m/config.json": "{}", "m/model.safetensors": "x"}, lambda d: load_encoder(d / "m"),
         ValueError, r"has no tokenizer files \(looked for tokenizer.json, vocab.txt"),
    Case("encoder", "sentence-transformers folder with modules.json = []",
         {"m/modules.json": "[]"}, lambda d: load_encoder(d / "m"), ValueError,
         r"modules.json is \[\]; expected a non-empty list of modules"),
    Case("encoder", "load_encoder('hashing', dim=0)", {}, lambda d: load_encoder("hashing", dim=0),
         ValueError, r"HashingEncoder dim must be a positive int, got 0"),
    Case("encoder", "load_encoder('hashing', pooling='mean')", {},
         lambda d: load_encoder("hashing", pooling="mean"), ValueError,
         r"pooling='mean' does not apply to encoder 'hashing'"),
    Case("encoder", "load_encoder(cache='no')", {}, lambda d: load_encoder("hashing", cache="no"),
         TypeError, r"cache must be True or False, got 'no' \(str\)"),
    Case("encoder", "load_encoder(cache_dir=<a file>)", {"cache": "x"},
         lambda d: load_encoder("hashing", cache_dir=d / "cache"), ValueError,
         r"embedding cache folder '.*cache' is a file; expected a folder"),
    Case("device", "load_encoder(device='gpu')", {},
         lambda d: load_encoder("hashing", device="gpu"),
         ValueError, r"device 'gpu' is not a torch device; expected 'cpu', 'cuda', "
         r"'cuda:<index>' or 'mps'"),
    Case("encoder", "encode([])", {}, lambda d: HASH.encode([]), ValueError,
         r"encode\(\) got an empty list; expected a non-empty list of strings"),
    Case("encoder", "encode('a string')", {}, lambda d: HASH.encode("a string"), TypeError,
         r"texts must be a list of strings, got a single str; wrap it in a list"),
    Case("encoder", "encode(['a', None])", {}, lambda d: HASH.encode(["a", None]), TypeError,
         r"texts\[1\] is NoneType, expected str"),
    Case("encoder", "encode([b'bytes'])", {}, lambda d: HASH.encode([b"x"]), TypeError,
         r"texts\[0\] is bytes, expected str"),
    Case("encoder", "encode(texts, batch_size=0)", {}, lambda d: HASH.encode(["a"], batch_size=0),
         ValueError, r"batch_size must be positive, got 0"),
    Case("encoder", "encode(texts, batch_size=1.5)", {},
         lambda d: HASH.encode(["a"], batch_size=1.5), TypeError,
         r"batch_size must be an int, got float"),
    Case("encoder", "encode(texts, show_progress_bar='no')", {},
         lambda d: HASH.encode(["a"], show_progress_bar="no"), TypeError,
         r"show_progress_bar must be True, False or None, got 'no' \(str\)"),
    # ---- catalogs ----
    _catalog("CSV without a title column", "name\nx\n",
             r"c.csv, line 1: the header has no 'title' column \(columns: \['name'\]\)"),
    _catalog("CSV row with fewer fields than the header", "title,description,quality\nx\n",
             r"c.csv, line 2: row has 1 fields but the header has 3"),
    _catalog("CSV quality 'nan'", "title,quality\nx,nan\n",
             r"c.csv, line 2: field 'quality' must be finite, got 'nan'"),
    _catalog("CSV quality 2", "title,quality\nx,2\n",
             r"c.csv, line 2: quality 2.0 is out of range; expected a number in \[0, 1\]"),
    _catalog("CSV cost -1", "title,cost\nx,-1\n",
             r"c.csv, line 2: cost -1.0 is negative; expected a number >= 0"),
    _catalog("CSV cost 'inf'", "title,cost\nx,inf\n",
             r"c.csv, line 2: field 'cost' must be finite, got 'inf'"),
    _catalog("CSV duplicate ids", "id,title\n1,x\n1,y\n",
             r"c.csv, line 3: duplicate id '1' \(first used by .*c.csv, line 2\)"),
    _catalog("CSV with a column twice", "title,title\nx,y\n",
             r"c.csv, line 1: column\(s\) \['title'\] appear more than once in the header"),
    _catalog("CSV column 'qualty' (typo; quality would default to 0.5)",
             "title,qualty\nx,0.9\n",
             r"c.csv, line 1: unknown field 'qualty'; did you mean 'quality'\?"),
    _catalog("CSV clickbait 'maybe'", "title,clickbait\nx,maybe\n",
             r"c.csv, line 2: field 'clickbait' must be a boolean, got 'maybe'"),
    _catalog("CSV with an unterminated quote", 'title,description\n"x,y\n',
             r"c.csv, line 2: malformed CSV \(unexpected end of data\)"),
    _catalog("CSV saved as UTF-16", "title\nx\n".encode("utf-16"),
             r"c.csv, line 1: cannot decode bytes as utf-8 \(invalid start byte"),
    _catalog("CSV with a NUL byte", b"title\nx\x00y\n",
             r"c.csv, line 2: line contains NUL characters"),
    _catalog("CSV separated by ';'", "title;quality\nx;0.5\n",
             r"the header has no 'title' column \(columns: \['title;quality'\]\)"),
    _catalog("empty CSV file", "",
             r"c.csv: file has no items; expected a header row and one row per item"),
    _catalog("JSONL with a line that is not JSON", '{"title": "a"}\nnope\n',
             r"c.jsonl, line 2: invalid JSON \(Expecting value\); expected one object",
             name="c.jsonl"),
    _catalog("JSONL line that is a list", "[1, 2]\n",
             r"c.jsonl, line 1: expected a mapping with fields 'title'", name="c.jsonl"),
    _catalog("JSONL quality NaN", '{"title": "a", "quality": NaN}\n',
             r"c.jsonl, line 1: field 'quality' must be finite, got nan", name="c.jsonl"),
    _catalog("JSONL category that is an object", '{"title": "a", "category": {"x": 1}}\n',
             r"c.jsonl, line 1: field 'category' must be a str \(or an int\)", name="c.jsonl"),
    _catalog("JSONL key 'Title' (case typo)", '{"Title": "a"}\n',
             r"c.jsonl, line 1: unknown field 'Title'; did you mean 'title'\?", name="c.jsonl"),
    _catalog("catalog path that is a folder named .csv", "",
             r"catalog path '.*c.csv' is a folder; expected a .csv/.jsonl/.ndjson file",
             name="c.csv/", error=IsADirectoryError),
    _catalog("catalog file with extension .txt", "title\nx\n",
             r"unknown catalog file extension '.txt'", name="c.txt", error=ValueError),
    Case("catalog", "Catalog.from_records(one dict)", {},
         lambda d: Catalog.from_records({"title": "x"}, encoder="hashing"), TypeError,
         r"records must be a list of mappings, got a single dict; wrap it in a list"),
    Case("catalog", "Catalog.from_records(None)", {},
         lambda d: Catalog.from_records(None, encoder="hashing"), TypeError,
         r"records must be a list of mappings with fields 'title'.* got NoneType"),
    Case("catalog", "Catalog.from_records(..., categories='abc')", {},
         lambda d: Catalog.from_records([{"title": "x"}], encoder="hashing", categories="abc"),
         TypeError, r"categories must be a list of category names, got 'abc' \(str\)"),
    Case("catalog", "load_catalog(num_items=2.5)", {},
         lambda d: load_catalog("video", "hashing", num_items=2.5), TypeError,
         r"num_items must be an int >= 1, got 2.5 \(float\)"),
    Case("catalog", "load_catalog(seed=-1)", {},
         lambda d: load_catalog("video", "hashing", seed=-1),
         ValueError, r"seed must be an int >= 0, got -1"),
    # ---- personas ----
    Case("personas", "generate_personas('music', 3)", {},
         lambda d: generate_personas("music", 3), ValueError, r"unknown catalog domain 'music'"),
    Case("personas", "generate_personas('video', -1)", {},
         lambda d: generate_personas("video", -1), ValueError,
         r"n must be a non-negative int, got -1"),
    Case("personas", "generate_personas('video', 2, seed='x')", {},
         lambda d: generate_personas("video", 2, seed="x"), ValueError,
         r"seed must be a non-negative int, got 'x'"),
    # ---- data sets ----
    Case("datasets", "load_dataset('netflix', ...)", {}, lambda d: load_dataset("netflix", d),
         ValueError, r"unknown dataset 'netflix'; expected one of \['movielens', 'amazon', "
         r"'mind'\]"),
    Case("datasets", "MovieLens folder that does not exist", {},
         lambda d: load_dataset("movielens", d / "ml"), DatasetFileNotFoundError,
         r"ml: file not found: the MovieLens format expects its data folder at this path"),
    Case("datasets", "MovieLens folder without ratings.csv", {"ml/movies.csv": MOVIES},
         lambda d: load_dataset("movielens", d / "ml"), DatasetFileNotFoundError,
         r"ratings.csv: file not found: the MovieLens \(ml-latest/ml-25m\) format expects its "
         r"rating file"),
    _movielens("movies.csv title with an unquoted comma (columns would shift)",
               r"movies.csv, line 4: row has 4 fields but the header has 3 "
               r"\(movieId,title,genres\)", movies=MOVIES + "3,Heat, The (1995),Action\n"),
    _movielens("ratings.csv row with an extra field",
               r"ratings.csv, line 2: row has 5 fields but the header has 4",
               ratings="1,1,4,5,7\n"),
    _movielens("ratings.csv rating 9", r"ratings.csv, line 2: rating '9' is out of range; "
               r"expected a rating in \[0.5, 5\]", ratings="1,1,9,5\n"),
    _movielens("ratings.csv movieId not in movies.csv",
               r"ratings.csv, line 2: movieId '99' is not in movies.csv", ratings="1,99,4,5\n"),
    _movielens("ratings.csv timestamp 'abc'",
               r"ratings.csv, line 2: timestamp 'abc' is not an integer", ratings="1,1,4,abc\n"),
    _movielens("ratings.csv with only a header", r"ratings.csv, line 1: file has no data rows",
               ratings=""),
    Case("datasets", "MIND folder without news.tsv", {"mind/": ""},
         lambda d: load_dataset("mind", d / "mind"), DatasetFileNotFoundError,
         r"news.tsv: file not found: the MIND format expects its news file"),
    Case("datasets", "Amazon folder without metadata", {"amazon/": ""},
         lambda d: load_dataset("amazon", d / "amazon"), DatasetFileNotFoundError,
         r"meta_<Category>.jsonl: file not found: the Amazon Reviews 2023 format expects"),
    # ---- scenarios ----
    Case("scenario", "make_scenario(5)", {}, lambda d: make_scenario(5), TypeError,
         r"scenario name must be a str \(one of \['news', 'shopping', 'video'\] or the path of a "
         r"calibration file\), got 5 \(int\)"),
    Case("scenario", "make_scenario('movies')", {}, lambda d: make_scenario("movies"), ValueError,
         r"unknown scenario 'movies'; expected one of \['news', 'shopping', 'video'\]"),
    Case("scenario", "make_scenario('missing.json')", {}, _scenario("missing.json"), ValueError,
         r"calibration file '.*missing.json' does not exist \(or is not a file\)"),
    Case("scenario", "override slatesize=3 (typo)", {},
         lambda d: make_scenario("video", slatesize=3), ValueError,
         r"unknown override 'slatesize'.*expected one of: .*slate_size"),
    Case("scenario", "override enabled=False (ambiguous)", {},
         lambda d: make_scenario("video", enabled=False), ValueError,
         r"override 'enabled' is ambiguous; use one of: drift_enabled"),
    Case("scenario", "override num_candidates='100'", {},
         lambda d: make_scenario("video", num_candidates="100"), TypeError,
         r"ScenarioConfig.num_candidates must be an int, got '100' \(str\)"),
    Case("scenario", "override slate_size=200 > N", {},
         lambda d: make_scenario("video", slate_size=200), ValueError,
         r"ScenarioConfig.slate_size K=200 must be <= num_candidates N=100"),
    Case("scenario", "override drift_rate=-1", {}, lambda d: make_scenario("video", drift_rate=-1),
         ValueError, r"DriftConfig.rate must be >= 0, got -1"),
    Case("scenario", "override satiation_decay=2", {},
         lambda d: make_scenario("video", satiation_decay=2.0), ValueError,
         r"SatiationConfig.decay must be in \[0, 1\], got 2.0"),
    Case("scenario", "override temperature=nan", {},
         lambda d: make_scenario("video", temperature=float("nan")), ValueError,
         r"ChoiceConfig.temperature must be finite, got nan"),
    Case("scenario", "override choice_model='probit'", {},
         lambda d: make_scenario("video", choice_model="probit"), ValueError,
         r"ChoiceConfig.model must be one of \['mnl', 'cascade', 'independent'\], got 'probit'"),
    Case("scenario", "override reward_weights=(1, 2, 3)", {},
         lambda d: make_scenario("video", reward_weights=(1, 2, 3)), ValueError,
         r"ScenarioConfig.reward_weights must have 4 entries"),
    Case("scenario", "override drift={'rate': 1}", {},
         lambda d: make_scenario("video", drift={"rate": 1}), TypeError,
         r"override 'drift' must be a DriftConfig, got dict"),
    Case("scenario", "override encoder=5", {}, lambda d: make_scenario("video", encoder=5),
         TypeError, r"ScenarioConfig.encoder must be a non-empty encoder spec string, got 5"),
    Case("device", "override device='gpu'", {}, lambda d: make_scenario("video", device="gpu"),
         ValueError, r"ScenarioConfig.device: device 'gpu' is not a torch device"),
    Case("device", "override device='meta'", {}, lambda d: make_scenario("video", device="meta"),
         ValueError, r"device 'meta' \(meta\) is not supported"),
    Case("scenario", "gym.make(Video-v0, domain='music')", {},
         lambda d: gym.make("driftrec/Video-v0", domain="music", encoder="hashing"), ValueError,
         r"unknown catalog domain 'music'"),
    # ---- calibration files ----
    Case("calibration", "A.json -> B.json -> A.json",
         {"a.json": lambda d: _cal(str(d / "b.json")), "b.json": lambda d: _cal(str(d / "a.json"))},
         _scenario("a.json"), ValueError,
         r"calibration file .*a.json is part of a cycle of calibration files "
         r"\(.*a.json -> .*b.json -> .*a.json\)"),
    _calibration("empty calibration file", "",
                 r"c.json: not a JSON calibration file \(Expecting value"),
    _calibration("calibration file in Latin-1", b'{"format": "\xe9"}',
                 r"c.json: not UTF-8 text \(invalid continuation byte"),
    _calibration("JSON file of another format", '{"format": "other"}',
                 r"c.json: not a driftrec calibration file \(expected \"format\": "
                 r"\"driftrec-calibration\"\)"),
    _calibration("calibration file version 2", _cal(version=2),
                 r"c.json: calibration file version 2; this driftrec reads version 1"),
    _calibration("calibration file without 'parameters' and 'fitted'",
                 _cal(parameters=None, fitted=None),
                 r"c.json: calibration file lacks \['parameters', 'fitted'\]"),
    _calibration("calibration parameter null", _cal(parameters={"drift_rate": None}),
                 r"c.json: parameters\['drift_rate'\] is None; expected a finite number"),
    _calibration("calibration parameter true", _cal(parameters={"drift_rate": True}),
                 r"c.json: parameters\['drift_rate'\] is True; expected a finite number"),
    _calibration("calibration parameter 'NaN'", _cal(parameters={"drift_rate": "NaN"}),
                 r"parameters\['drift_rate'\] is 'NaN'; expected a finite number"),
    _calibration("calibration parameter out of range (drift_rate -3)",
                 _cal(parameters={"drift_rate": -3}),
                 r"c.json: DriftConfig.rate must be >= 0, got -3.0"),
    _calibration("calibration parameter 'drift' (unknown)",
                 _cal(parameters={"drift": 0.1}, fitted=["drift"]),
                 r"c.json: unknown parameters \['drift'\]; expected \['interest_weight'"),
    _calibration("calibration 'parameters' is a list", _cal(parameters=[1]),
                 r"c.json: 'parameters' is \[1\]; expected an object \{parameter: number\}"),
    _calibration("calibration 'fitted' is a string", _cal(fitted="drift_rate"),
                 r"c.json: 'fitted' is 'drift_rate'; expected a list of parameter names"),
    _calibration("calibration 'fitted' names a parameter it lacks",
                 _cal(fitted=["satiation_decay"]),
                 r"c.json: 'fitted' \['satiation_decay'\] names \['satiation_decay'\]; expected "
                 r"distinct names among 'parameters' \['drift_rate'\]"),
    _calibration("calibration 'scenario' 5", _cal(5),
                 r"c.json: 'scenario' is 5; expected a preset name or the path of another "
                 r"calibration file"),
    _calibration("calibration 'scenario' 'nosuch'", _cal("nosuch"),
                 r"c.json: unknown scenario 'nosuch'"),
    _calibration("calibration 'meta' is a list", _cal(meta=[]),
                 r"c.json: 'meta' is list; expected an object"),
]


def _write(folder: Path, files: dict[str, str | bytes | Callable[[Path], str]]) -> None:
    for name, content in files.items():
        path = folder / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content = content(folder)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.bad_input}" for c in CASES])
def test_bad_input_is_a_clear_error_and_changes_no_file(case: Case, tmp_path: Path) -> None:
    _write(tmp_path, case.files)
    before = _snapshot(tmp_path)
    with pytest.raises(case.error, match=case.match):
        case.call(tmp_path)
    assert _snapshot(tmp_path) == before


def _register_row(case: Case) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, case.files)
        try:
            case.call(folder)
            error = "(no error)"
        except Exception as exc:  # noqa: BLE001 — the register records whatever is raised
            text = str(exc).split(" was raised from the environment creator")[0]
            error = f"{type(exc).__name__}: {text.replace(tmp, '<tmp>')}"
    error = error if len(error) <= 200 else error[:197] + "..."
    cells = [case.area, case.bad_input, error]
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


if __name__ == "__main__":
    for case in CASES:
        sys.stdout.write(_register_row(case) + "\n")
