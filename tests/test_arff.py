import gzip
import sys
import textwrap

import numpy as np
import pytest
from scipy import sparse as sp

from sknc.datasets import load_arff

# The toy data set written in every layout: 4 samples, 3 features (one of
# them with a quoted name), 3 labels, one sample without any label.
X_TOY = np.array([[0.5, -1.0, 3.0], [0.0, 2.25, 0.0], [1.5, 0.0, 7.0], [0.0, 0.0, 0.0]])
Y_TOY = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 0]])
FEATURES = ["f one", "f2", "f3"]
FEATURE_TYPES = ["numeric", "real", "integer"]
LABELS = ["a", "b", "c"]

MULAN_XML = """\
<?xml version="1.0" encoding="utf-8"?>
<labels xmlns="http://mulan.sourceforge.net/labels">
<label name="a"></label>
<label name="b"></label>
<label name="c"></label>
</labels>
"""


@pytest.fixture(autouse=True)
def _require_liac_arff(request):
    """Skip the tests that read ARFF when liac-arff is not installed."""
    if "hide_liac_arff" not in request.fixturenames:
        pytest.importorskip("arff")


@pytest.fixture
def hide_liac_arff(monkeypatch):
    """Make ``import arff`` fail, as when liac-arff is not installed."""
    monkeypatch.setitem(sys.modules, "arff", None)


def quote(name):
    return f"'{name}'" if " " in name else name


def toy_arff(*, relation, labels_first, sparse):
    """The toy data set as ARFF text, labels first (MEKA) or last (Mulan)."""
    label_attrs = [(name, "{0,1}") for name in LABELS]
    feature_attrs = list(zip(FEATURES, FEATURE_TYPES, strict=True))
    attrs = label_attrs + feature_attrs if labels_first else feature_attrs + label_attrs
    blocks = (Y_TOY, X_TOY) if labels_first else (X_TOY, Y_TOY)
    values = np.hstack(blocks)
    lines = ["% A toy multi-label data set", f"@relation {relation}"]
    lines += [f"@attribute {quote(name)} {kind}" for name, kind in attrs]
    lines.append("@data")
    for row in values:
        if sparse:
            entries = [f"{j} {row[j]:g}" for j in np.flatnonzero(row)]
            lines.append("{" + ",".join(entries) + "}")
        else:
            lines.append(",".join(f"{value:g}" for value in row))
    return "\n".join(lines) + "\n"


def write(directory, name, text):
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def assert_toy(result, *, sparse):
    assert isinstance(result.data, np.ndarray) != sparse
    if sparse:
        assert result.data.format == "csr"
        assert result.data.has_sorted_indices
        # Zeros are not stored, and every stored value is a nonzero feature.
        assert result.data.nnz == np.count_nonzero(X_TOY)
        X = result.data.toarray()
    else:
        X = result.data
        assert X.flags.c_contiguous
    assert result.data.dtype == np.float32
    np.testing.assert_array_equal(X, X_TOY.astype(np.float32))
    assert result.target.dtype == np.uint8
    assert isinstance(result.target, np.ndarray)
    np.testing.assert_array_equal(result.target, Y_TOY)
    assert result.feature_names.tolist() == FEATURES
    assert result.target_names.tolist() == LABELS


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_mulan_with_xml(tmp_path, sparse):
    path = write(
        tmp_path,
        "toy.arff",
        toy_arff(relation="toy", labels_first=False, sparse=sparse),
    )
    xml = write(tmp_path, "toy.xml", MULAN_XML)
    result = load_arff(path, xml=xml)
    assert_toy(result, sparse=sparse)
    assert result.relation == "toy"
    assert result.DESCR == "A toy multi-label data set"


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_mulan_with_n_labels(tmp_path, sparse):
    path = write(
        tmp_path,
        "toy.arff",
        toy_arff(relation="toy", labels_first=False, sparse=sparse),
    )
    assert_toy(load_arff(str(path), n_labels=3), sparse=sparse)
    assert_toy(load_arff(path, n_labels=3, label_location="end"), sparse=sparse)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(
    "relation, labels_first",
    [("'toy: -C 3'", True), ("'toy: -C -3'", False), ("'toy: -C 3 -o x'", True)],
    ids=["C3", "C-3", "C3-more-options"],
)
def test_meka(tmp_path, relation, labels_first, sparse):
    path = write(
        tmp_path,
        "toy.arff",
        toy_arff(relation=relation, labels_first=labels_first, sparse=sparse),
    )
    result = load_arff(path)
    assert_toy(result, sparse=sparse)
    assert result.relation == relation.strip("'")


def test_explicit_arguments_override_meka_option(tmp_path):
    # A wrong -C option: the labels really are the last three attributes.
    text = toy_arff(relation="'toy: -C 2'", labels_first=False, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    assert_toy(load_arff(path, n_labels=3, label_location="end"), sparse=False)
    # n_labels alone keeps the location that the sign of -C gives.
    text = toy_arff(relation="'toy: -C -2'", labels_first=False, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    assert_toy(load_arff(path, n_labels=3), sparse=False)
    # label_location alone keeps the count of -C.
    text = toy_arff(relation="'toy: -C 3'", labels_first=False, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    assert_toy(load_arff(path, label_location="end"), sparse=False)


def test_labels_first_by_position(tmp_path):
    text = toy_arff(relation="toy", labels_first=True, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    assert_toy(load_arff(path, n_labels=3, label_location="start"), sparse=False)


def test_return_x_y(tmp_path):
    text = toy_arff(relation="'toy: -C 3'", labels_first=True, sparse=True)
    path = write(tmp_path, "toy.arff", text)
    X, Y = load_arff(path, return_X_y=True)
    assert sp.issparse(X)
    np.testing.assert_array_equal(X.toarray(), X_TOY)
    np.testing.assert_array_equal(Y, Y_TOY)


@pytest.mark.parametrize("file_sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("sparse", [False, True])
def test_sparse_argument_overrides_file_format(tmp_path, file_sparse, sparse):
    text = toy_arff(relation="toy", labels_first=False, sparse=file_sparse)
    path = write(tmp_path, "toy.arff", text)
    assert_toy(load_arff(path, n_labels=3, sparse=sparse), sparse=sparse)


def test_gzipped_file(tmp_path):
    text = toy_arff(relation="'toy: -C 3'", labels_first=True, sparse=True)
    path = tmp_path / "toy.arff.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(text)
    assert_toy(load_arff(path), sparse=True)


def test_xml_labels_anywhere_nested_and_in_file_order(tmp_path):
    path = write(
        tmp_path,
        "toy.arff",
        """\
        @relation toy
        @attribute b {0,1}
        @attribute x numeric
        @attribute a {0,1}
        @attribute y numeric
        @attribute c {0,1}
        @data
        1,0.5,0,1,1
        0,2,1,3,0
        """,
    )
    xml = write(
        tmp_path,
        "toy.xml",
        """\
        <labels xmlns="http://mulan.sourceforge.net/labels">
        <label name="a"><label name="c"></label></label>
        <label name="b"></label>
        </labels>
        """,
    )
    result = load_arff(path, xml=xml)
    assert result.target_names.tolist() == ["b", "a", "c"]
    assert result.feature_names.tolist() == ["x", "y"]
    np.testing.assert_array_equal(result.target, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(result.data, [[0.5, 1], [2, 3]])


def test_xml_without_namespace(tmp_path):
    path = write(
        tmp_path,
        "toy.arff",
        toy_arff(relation="toy", labels_first=False, sparse=False),
    )
    xml = write(tmp_path, "toy.xml", MULAN_XML.replace(' xmlns="', ' data-ns="'))
    assert_toy(load_arff(path, xml=xml), sparse=False)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_missing_feature_values_are_nan(tmp_path, sparse):
    rows = "{0 ?,1 1,2 1}\n{0 2,1 ?}\n" if sparse else "?,1,1\n2,?,0\n"
    path = write(
        tmp_path,
        "toy.arff",
        "@relation toy\n@attribute x numeric\n@attribute y {0,1}\n"
        "@attribute label {0,1}\n@data\n" + rows,
    )
    X, Y = load_arff(path, n_labels=1, return_X_y=True)
    X = X.toarray() if sparse else X
    np.testing.assert_array_equal(X, [[np.nan, 1], [2, np.nan]])
    np.testing.assert_array_equal(Y, [[1], [0]])


def test_numeric_labels_are_accepted(tmp_path):
    path = write(
        tmp_path,
        "toy.arff",
        "@relation 'toy: -C 1'\n@attribute l integer\n@attribute x numeric\n"
        "@data\n1,0.5\n0,1.5\n",
    )
    X, Y = load_arff(path, return_X_y=True)
    np.testing.assert_array_equal(Y, [[1], [0]])
    np.testing.assert_array_equal(X, [[0.5], [1.5]])


def test_nominal_features(tmp_path):
    text = """\
    @relation toy
    @attribute word {0,1}
    @attribute level {1,2,4}
    @attribute colour {red,'light green',blue}
    @attribute label {0,1}
    @data
    1,4,blue,1
    0,1,'light green',0
    0,2,?,1
    """
    path = write(tmp_path, "toy.arff", text)
    with pytest.raises(
        ValueError, match=r"non-numeric values: 'colour'.*encode_nominal"
    ):
        load_arff(path, n_labels=1)
    result = load_arff(path, n_labels=1, encode_nominal=True)
    # Numeric-coded nominal values are kept as numbers, the others encoded as
    # their position in the declaration.
    np.testing.assert_array_equal(result.data, [[1, 4, 2], [0, 1, 1], [0, 2, np.nan]])
    np.testing.assert_array_equal(result.target, [[1], [0], [1]])


def test_sparse_left_out_nominal_values_take_first_declared_value(tmp_path):
    # In sparse ARFF a left-out nominal value is the first declared one, which
    # here stands for 1 (feature w and label l) or for position 0 (colour).
    text = """\
    @relation toy
    @attribute x numeric
    @attribute w {1,0}
    @attribute colour {red,blue}
    @attribute l {1,0}
    @attribute m {0,1}
    @data
    {0 2,1 0,2 blue,3 0,4 1}
    {}
    {1 1,3 1}
    """
    path = write(tmp_path, "toy.arff", text)
    X, Y = load_arff(path, n_labels=2, encode_nominal=True, return_X_y=True)
    assert sp.issparse(X)
    np.testing.assert_array_equal(X.toarray(), [[2, 0, 1], [0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(Y, [[0, 1], [1, 0], [1, 0]])


def test_empty_data_section(tmp_path):
    text = toy_arff(relation="'toy: -C 3'", labels_first=True, sparse=False)
    path = write(tmp_path, "toy.arff", text.split("@data")[0] + "@data\n")
    result = load_arff(path)
    assert result.data.shape == (0, 3)
    assert result.target.shape == (0, 3)
    assert result.target.dtype == np.uint8


# Errors ---------------------------------------------------------------------


def test_liac_arff_missing(tmp_path, hide_liac_arff):
    with pytest.raises(ImportError, match=r"pip install -e '\.\[arff\]'"):
        load_arff(tmp_path / "toy.arff", n_labels=1)


def test_other_arff_module(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "arff", type(sys)("arff"))
    with pytest.raises(ImportError, match="is not liac-arff"):
        load_arff(tmp_path / "toy.arff", n_labels=1)


def test_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="ARFF file .*missing.arff"):
        load_arff(tmp_path / "missing.arff", n_labels=1)
    with pytest.raises(FileNotFoundError, match="ARFF file"):
        load_arff(tmp_path, n_labels=1)  # a directory
    path = write(
        tmp_path, "toy.arff", toy_arff(relation="toy", labels_first=False, sparse=False)
    )
    with pytest.raises(FileNotFoundError, match="Mulan XML label file .*missing.xml"):
        load_arff(path, xml=tmp_path / "missing.xml")


def test_no_way_to_tell_the_labels(tmp_path):
    text = toy_arff(relation="toy", labels_first=False, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    message = r"Cannot tell which attributes .* are labels.*xml=.*n_labels="
    with pytest.raises(ValueError, match=message):
        load_arff(path)
    with pytest.raises(ValueError, match=message):
        load_arff(path, label_location="end")
    # A lower-case -c is Weka's class index, not MEKA's label count.
    text = toy_arff(relation="'toy: -c 3'", labels_first=True, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    with pytest.raises(ValueError, match=message):
        load_arff(path)


def test_meka_option_without_labels(tmp_path):
    text = toy_arff(relation="'toy: -C 0'", labels_first=True, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    with pytest.raises(ValueError, match="'-C 0', that is no label"):
        load_arff(path)


@pytest.mark.parametrize(
    "relation, kwargs, origin",
    [("toy", {"n_labels": 7}, "n_labels=7"), ("'toy: -C -9'", {}, "'-C -9'")],
)
def test_more_labels_than_attributes(tmp_path, relation, kwargs, origin):
    text = toy_arff(relation=relation, labels_first=False, sparse=False)
    path = write(tmp_path, "toy.arff", text)
    with pytest.raises(ValueError, match=f"{origin}.* asks for .* only 6 attributes"):
        load_arff(path, **kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"n_labels": 3}, {"label_location": "end"}], ids=["n_labels", "location"]
)
def test_xml_and_position_together(tmp_path, kwargs):
    path = write(
        tmp_path, "toy.arff", toy_arff(relation="toy", labels_first=False, sparse=False)
    )
    xml = write(tmp_path, "toy.xml", MULAN_XML)
    with pytest.raises(ValueError, match="either by name.*or by position"):
        load_arff(path, xml=xml, **kwargs)


def test_xml_label_missing_from_file(tmp_path):
    path = write(
        tmp_path, "toy.arff", toy_arff(relation="toy", labels_first=False, sparse=False)
    )
    xml = write(
        tmp_path,
        "toy.xml",
        MULAN_XML.replace('<label name="c">', '<label name="d">'),
    )
    with pytest.raises(
        ValueError, match=r"1 of the 3 labels .*toy\.xml.*toy\.arff': 'd'\."
    ):
        load_arff(path, xml=xml)


@pytest.mark.parametrize(
    "xml_text, message",
    [
        ("<labels><label name='a'></labels>", "Could not parse the Mulan XML"),
        ("<labels></labels>", "names no label"),
        ("<labels><label></label></labels>", "without a name"),
        (
            "<labels><label name='a'/><label name='a'/></labels>",
            "same label more than once: 'a'",
        ),
    ],
    ids=["malformed", "empty", "no-name", "duplicate"],
)
def test_bad_xml(tmp_path, xml_text, message):
    path = write(
        tmp_path, "toy.arff", toy_arff(relation="toy", labels_first=False, sparse=False)
    )
    xml = write(tmp_path, "toy.xml", xml_text)
    with pytest.raises(ValueError, match=message):
        load_arff(path, xml=xml)


@pytest.mark.parametrize(
    "label_type, value",
    [("{0,1,2}", "2"), ("{yes,no}", "yes"), ("string", "x")],
    ids=["nominal-012", "nominal-yes-no", "string"],
)
def test_label_attribute_not_binary(tmp_path, label_type, value):
    path = write(
        tmp_path,
        "toy.arff",
        f"@relation 'toy: -C 1'\n@attribute l {label_type}\n@attribute x numeric\n"
        f"@data\n{value},1\n",
    )
    with pytest.raises(ValueError, match=r"values 0 and 1 .* label attributes 'l'"):
        load_arff(path)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(
    "value, problem",
    [("2", "other than 0 and 1"), ("0.5", "other than 0 and 1"), ("?", "missing")],
)
def test_label_value_not_0_or_1(tmp_path, sparse, value, problem):
    rows = f"{{0 1}}\n{{0 1,1 {value}}}\n" if sparse else f"1,0\n1,{value}\n"
    path = write(
        tmp_path,
        "toy.arff",
        "@relation toy\n@attribute x numeric\n@attribute l numeric\n@data\n" + rows,
    )
    with pytest.raises(ValueError, match=f"Label 'l' .* {problem}.* data row 1 "):
        load_arff(path, n_labels=1)


def test_features_taken_as_labels(tmp_path):
    # Mulan layout read as MEKA: the "labels" are real-valued features.
    path = write(
        tmp_path, "toy.arff", toy_arff(relation="toy", labels_first=False, sparse=False)
    )
    with pytest.raises(ValueError, match="Label 'f one' .* other than 0 and 1"):
        load_arff(path, n_labels=3, label_location="start")


def test_nominal_label_value_not_declared(tmp_path):
    path = write(
        tmp_path,
        "toy.arff",
        "@relation 'toy: -C 1'\n@attribute l {0,1}\n@attribute x numeric\n"
        "@data\n1,0.5\n2,1.5\n",
    )
    with pytest.raises(ValueError, match="Could not read .*2 not found .*line 6"):
        load_arff(path)


def test_string_feature(tmp_path):
    path = write(
        tmp_path,
        "toy.arff",
        "@relation 'toy: -C 1'\n@attribute l {0,1}\n@attribute text string\n"
        "@data\n1,hello\n",
    )
    with pytest.raises(ValueError, match="string attributes.*'text'"):
        load_arff(path, encode_nominal=True)


@pytest.mark.parametrize(
    "text, line",
    [
        ("@relation toy\n@attribute x numeric\n@attribute l {0,1}\n@data\n1,1\n1\n", 6),
        ("@relation toy\n@attribute x numeric\n@attribute l {0,1}\n@data\nz,1\n", 5),
        ("@relation toy\n@attribute x date\n@attribute l {0,1}\n@data\n", 2),
        ("@relation toy\n@attribute x numeric\n@attribute l {0,1}\n", 3),
        (
            "@relation toy\n@attribute x numeric\n@attribute l {0,1}\n@data\n"
            "{0 1}\n1,0\n",
            6,
        ),
    ],
    ids=["short-row", "not-a-number", "date", "no-data", "dense-row-in-sparse"],
)
def test_invalid_arff(tmp_path, text, line):
    path = write(tmp_path, "toy.arff", text)
    with pytest.raises(ValueError, match=f"Could not read the ARFF file .*line {line}"):
        load_arff(path, n_labels=1)


def test_not_utf8(tmp_path):
    path = tmp_path / "toy.arff"
    path.write_bytes(
        b"@relation toy\n@attribute 'caf\xe9' numeric\n@attribute l {0,1}\n@data\n1,1\n"
    )
    with pytest.raises(ValueError, match="not UTF-8"):
        load_arff(path, n_labels=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_labels": 0},
        {"n_labels": 1.5},
        {"label_location": "middle"},
        {"sparse": "yes"},
        {"xml": 3},
    ],
)
def test_invalid_parameters(tmp_path, kwargs):
    path = write(
        tmp_path, "toy.arff", toy_arff(relation="toy", labels_first=False, sparse=False)
    )
    with pytest.raises(ValueError, match="parameter of load_arff"):
        load_arff(path, **kwargs)
