"""Data: the paper's generators, CSV loading with its errors, seeded splits."""

import numpy as np
import pytest

from symgrad.data import CONCEPTS, load_csv, make_concept_dataset, split_dataset
from symgrad.errors import SymgradError
from symgrad.expressions import parse_formula, value_function


@pytest.mark.parametrize("concept_id", sorted(CONCEPTS))
def test_concepts_follow_the_labelling_rule(concept_id):
    concept = CONCEPTS[concept_id]
    data = make_concept_dataset(concept_id, 3000, seed=1)
    assert data.x.shape[1] == concept.n_features
    assert np.all(data.x >= np.array(concept.low)) and np.all(data.x < np.array(concept.high))
    assert 0.05 < data.y.mean() < 0.95
    for part in (concept.formula,) if concept.formula else concept.parts:
        g = value_function(parse_formula(part, data.feature_names), data.feature_names)(data.x)
        # 1% multiplicative noise flips only points very close to the threshold
        far = np.abs(g - concept.threshold) > 0.05 * np.abs(g).max()
        assert np.mean((g[far] > concept.threshold) == data.y[far]) > 0.995


def test_two_concept_cases_keep_only_agreeing_points():
    data = make_concept_dataset("F", 4000, seed=0)
    a = data.x[:, 0] * data.x[:, 1] - 1 > 0
    b = data.x[:, 2] * data.x[:, 3] - 1 > 0
    assert len(data.y) < 4000
    assert np.mean(a == b) > 0.97


def test_same_seed_same_data():
    a, b = make_concept_dataset("C", 500, seed=4), make_concept_dataset("C", 500, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, make_concept_dataset("C", 500, seed=5).x)


def test_split_is_seeded_and_disjoint():
    data = make_concept_dataset("A1", 1000, seed=0)
    s1, s2 = split_dataset(data, seed=3), split_dataset(data, seed=3)
    np.testing.assert_array_equal(s1.test.x, s2.test.x)
    assert (len(s1.train.y), len(s1.validation.y), len(s1.test.y)) == (700, 100, 200)
    rows = {tuple(r) for r in s1.train.x} & {tuple(r) for r in s1.test.x}
    assert not rows


def write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_csv_reads_features_and_labels(tmp_path):
    path = write(tmp_path, "petal length,width,species\n1.0,2.0,setosa\n3.0,4.0,virginica\n5,6,setosa\n")
    data = load_csv(path, label="species")
    assert data.feature_names == ("petal_length", "width")
    assert data.class_names == ("setosa", "virginica")
    np.testing.assert_array_equal(data.y, [0, 1, 0])
    assert load_csv(path, label="species", features=["width"]).x.shape == (3, 1)


@pytest.mark.parametrize("text,kwargs,message", [
    ("a,b,y\n1,2,0\n", {"label": "z"}, "data.label 'z' is not a column"),
    ("a,b,y\n1,2,0\n3,4,1\n", {"label": "y", "features": ["c"]}, "'c', which is not a column"),
    ("a,b,y\n1,nan,0\n3,4,1\n", {"label": "y"}, "missing or non-finite value"),
    ("a,b,y\n1,,0\n3,4,1\n", {"label": "y"}, "non-numeric value ''"),
    ("a,b,y\n1,red,0\n3,4,1\n", {"label": "y"}, "non-numeric value 'red'"),
    ("a,b,y\n1,2,0\n3,4,0\n", {"label": "y"}, "at least 2 classes"),
    ("a,b,y\n1,2\n", {"label": "y"}, "has 2 fields"),
    ("a,a,y\n1,2,0\n3,4,1\n", {"label": "y"}, r"names the columns \['a'\] more than once"),
    ("a;b;y\n1;2;0\n3;4;1\n", {"label": "y"}, "seems to separate columns with ';'"),
    # Python's float() reads "1_000" as 1000; in a data file it is a typo or digit grouping
    ("a,b,y\n1_000,2,0\n3,4,1\n", {"label": "y"}, "non-numeric value '1_000'"),
    ("a,b,y\n1,2,0\n3,4,1\n", {"label": "y", "features": ["a", "a"]}, r"names \['a'\] more than once"),
])
def test_csv_errors_are_one_sentence(tmp_path, text, kwargs, message):
    with pytest.raises(SymgradError, match=message) as info:
        load_csv(write(tmp_path, text), **kwargs)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(SymgradError, match="is not a file"):
        load_csv(tmp_path / "nope.csv", label="y")


def test_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffa,b,y\n1,2,0\n3,4,1\n".encode("utf-8"))
    data = load_csv(path, label="y")
    assert data.feature_names == ("a", "b") and data.renamed == {}


def test_non_utf8_file_is_one_sentence(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,b,y\n1,2,caf\xe9\n3,4,th\xe9\n".encode("latin-1"))
    with pytest.raises(SymgradError, match="is not UTF-8 text"):
        load_csv(path, label="y")


def test_numeric_labels_are_compared_as_numbers(tmp_path):
    path = write(tmp_path, "a,y\n1,1\n2,1.0\n3,0\n4,0.0\n5,1e0\n6,2.50\n")
    data = load_csv(path, label="y")
    assert data.n_classes == 3 and data.class_names == ("0", "1", "2.5")
    np.testing.assert_array_equal(data.y, [1, 1, 0, 0, 1, 2])


ROWS = "".join(f"{i + 1},{i * 0.37 % 1:.3f},{i * 0.71 % 1:.3f},{'yes' if i % 3 else 'no'}\n" for i in range(40))


@pytest.mark.parametrize("header", ["rownames", "", "Unnamed: 0", "index"])
def test_a_row_index_column_is_left_out_and_said(tmp_path, header):
    # R's write.csv and pandas' to_csv write the row numbers as a first column
    path = write(tmp_path, f"{header},a,b,label\n" + ROWS)
    data = load_csv(path, label="label")
    assert data.feature_names == ("a", "b") and data.left_out == (header,)
    # named in data.features, it is used as the user asks
    kept = load_csv(path, label="label", features=[header, "a"]) if header else None
    assert kept is None or kept.x.shape == (40, 2)


def test_a_measurement_named_like_an_index_is_kept(tmp_path):
    # the values are not the row numbers in order, so the column is data
    path = write(tmp_path, "id,a,label\n" + "".join(f"{(i * 7) % 40},{i * 0.3:.2f},{i % 2}\n" for i in range(40)))
    assert load_csv(path, label="label").feature_names == ("id_", "a")  # id_: "id" is a Python function


def test_very_long_column_names_are_shortened_for_formulas(tmp_path):
    long_a, long_b = "a" * 5000, "a" * 4999 + "b"
    path = write(tmp_path, f"{long_a},{long_b},label\n1,2,0\n3,4,1\n5,6,0\n")
    data = load_csv(path, label="label")
    assert all(len(n) <= 48 + len("_2") for n in data.feature_names) and len(set(data.feature_names)) == 2
    assert data.renamed == {long_a: data.feature_names[0], long_b: data.feature_names[1]}
    # a formula over all of them stays far below the parser's length limit
    formula = " + ".join(f"{n}**2*{m}" for n in data.feature_names for m in data.feature_names)
    assert parse_formula(formula, data.feature_names) is not None


def test_a_column_constant_on_the_training_rows_is_left_out_and_said(tmp_path):
    # a rare flag: 0 everywhere but one row, which the split puts outside the training rows; and a
    # column that never varies. Both are left out of the network and the formulas, and recorded
    import json

    from symgrad.config import load_config
    from symgrad.data.tables import split_dataset, without_constant
    from symgrad.pipeline import interpret

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2, size=(400, 2))
    data = load_csv(write(tmp_path, "a,b,flag,unit,label\n" + "".join(
        f"{a:.4f},{b:.4f},0,1,{int(a + b > 2)}\n" for a, b in x)), label="label")
    split = split_dataset(data, seed=0)
    rare = int(np.flatnonzero(data.x[:, 0] == split.test.x[0, 0])[0])  # a row of the test split
    lines = (tmp_path / "data.csv").read_text().splitlines()
    cells = lines[rare + 1].split(",")
    cells[2] = "1"
    lines[rare + 1] = ",".join(cells)
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    data = load_csv(tmp_path / "data.csv", label="label")
    kept, parts = without_constant(data, split_dataset(data, seed=0))
    assert kept.feature_names == ("a", "b") and kept.constant == ("flag", "unit")
    assert parts.test.x.shape[1] == 2 and data.x[:, 2].std() > 0

    said = []
    config = load_config(None, [f"data.path={tmp_path / 'data.csv'}", "data.label=label", "train.epochs=5",
                                "search.backend=library"])
    run = interpret(config, out=tmp_path / "run", progress=said.append)
    assert any("left out the column(s) ['flag', 'unit']" in line for line in said)
    assert run.features == ("a", "b")
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    assert record["data"]["constant"] == ["flag", "unit"] and record["data"]["n_features"] == 2
    # the saved network interprets the same file again (another neuron, another search)
    again = interpret(load_config(None, [f"data.path={tmp_path / 'data.csv'}", "data.label=label",
                                         "search.backend=library", f"model.path={tmp_path / 'run' / 'model.npz'}"]),
                      out=tmp_path / "again", progress=None)
    assert again.features == ("a", "b")


def test_data_in_which_no_feature_varies_is_refused_in_one_sentence(tmp_path):
    from symgrad.config import load_config
    from symgrad.pipeline import interpret

    write(tmp_path, "a,b,label\n" + "".join(f"1,2,{i % 2}\n" for i in range(60)))
    config = load_config(None, [f"data.path={tmp_path / 'data.csv'}", "data.label=label", "train.epochs=2"])
    with pytest.raises(SymgradError, match=r"^every feature \['a', 'b'\] takes one value on the training rows; "):
        interpret(config, out=tmp_path / "run", progress=None)
