"""Multi-label ARFF files in the Mulan and MEKA formats."""

import gzip
import os
import re
import xml.etree.ElementTree as ElementTree
from numbers import Integral
from pathlib import Path

import numpy as np
from scipy import sparse as sp
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["load_arff"]

# MEKA stores the number of labels as the option "-C n" in the relation name,
# e.g. @relation 'scene: -C 6'. A negative n means that the labels are the last
# |n| attributes instead of the first n.
_MEKA_LABELS_OPTION = re.compile(r"(?:^|[\s:])-C\s+([+-]?\d+)(?!\S)")
# How many offending names an error message lists before "and N more".
_MAX_NAMES_IN_ERROR = 5


def _import_liac_arff():
    """Import liac-arff (module ``arff``) or explain how to install it."""
    try:
        import arff
    except ImportError as exc:
        raise ImportError(
            "load_arff needs the optional dependency liac-arff; install it with "
            "pip install -e '.[arff]' from the root of the sknc checkout (or "
            "pip install liac-arff)."
        ) from exc
    if not hasattr(arff, "ArffDecoder"):
        raise ImportError(
            "The module 'arff' found at "
            f"{getattr(arff, '__file__', '<unknown>')} is not liac-arff, which "
            "load_arff needs; uninstall that package and run pip install -e "
            "'.[arff]' from the root of the sknc checkout (or pip install "
            "liac-arff)."
        )
    return arff


def _format_names(names):
    """Quote the first few ``names`` for an error message."""
    shown = ", ".join(repr(name) for name in names[:_MAX_NAMES_IN_ERROR])
    if len(names) > _MAX_NAMES_IN_ERROR:
        shown += f" and {len(names) - _MAX_NAMES_IN_ERROR} more"
    return shown


def _existing_file(path, what):
    """Return ``path`` as a Path, or raise FileNotFoundError naming ``what``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} {str(path)!r} does not exist or is not a file."
        )
    return path


def _open_text(path):
    """Open an ARFF file as UTF-8 text, gunzipping it if its name ends in .gz."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


class _CountingLines:
    """Iterate over the lines of a file and count those read so far."""

    def __init__(self, lines):
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self._lines)
        self.count += 1
        return line


def _arff_data_is_sparse(path):
    """Whether the first data row of an ARFF file is in sparse ``{...}`` form."""
    with _open_text(path) as lines:
        in_data = False
        for line in lines:
            line = line.strip()
            if not line or line.startswith("%"):
                continue
            if in_data:
                return line.startswith("{")
            in_data = line.upper().startswith("@DATA")
    return False


def _read_mulan_label_names(xml):
    """Return the label names of a Mulan XML label file, in document order."""
    path = _existing_file(xml, "Mulan XML label file")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise ValueError(
            f"Could not parse the Mulan XML label file {str(path)!r}: {exc}."
        ) from exc
    names = []
    # Hierarchical label files nest <label> elements; every one is a label.
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.rpartition("}")[2] != "label":
            continue
        name = element.get("name")
        if not name:
            raise ValueError(
                f"The Mulan XML label file {str(path)!r} has a <label> element "
                'without a name; write each label as <label name="..."></label>.'
            )
        names.append(name)
    if not names:
        raise ValueError(
            f"The Mulan XML label file {str(path)!r} names no label; expected "
            '<labels xmlns="http://mulan.sourceforge.net/labels"><label '
            'name="..."></label>...</labels>.'
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"The Mulan XML label file {str(path)!r} names the same label more "
            f"than once: {_format_names(duplicates)}."
        )
    return names


def _arff_label_indices(names, relation, path, n_labels, label_location, xml):
    """Return the sorted positions of the label attributes among ``names``."""
    n_attributes = len(names)
    if xml is not None:
        if n_labels is not None or label_location is not None:
            raise ValueError(
                "Give the labels either by name, with xml=, or by position, with "
                "n_labels= and label_location=, not both."
            )
        label_names = _read_mulan_label_names(xml)
        position = {name: j for j, name in enumerate(names)}
        missing = [name for name in label_names if name not in position]
        if missing:
            raise ValueError(
                f"{len(missing)} of the {len(label_names)} labels named in the "
                f"Mulan XML file {str(xml)!r} are not attributes of the ARFF "
                f"file {str(path)!r}: {_format_names(missing)}. Check that the "
                "XML file belongs to this ARFF file."
            )
        return np.sort([position[name] for name in label_names])

    match = _MEKA_LABELS_OPTION.search(relation)
    meka_n_labels = int(match.group(1)) if match else None
    if n_labels is None:
        if meka_n_labels is None:
            raise ValueError(
                f"Cannot tell which attributes of the ARFF file {str(path)!r} "
                f"are labels: its relation name {relation!r} has no MEKA "
                "'-C n' option. For a Mulan file pass xml= (the XML label file "
                "that comes with it) or n_labels= (the labels are the last "
                "n_labels attributes); for labels that come first pass "
                "n_labels= and label_location='start'."
            )
        if meka_n_labels == 0:
            raise ValueError(
                f"The relation name {relation!r} of the ARFF file {str(path)!r} "
                "says '-C 0', that is no label; pass n_labels= to say how many "
                "attributes are labels."
            )
        n_labels = abs(meka_n_labels)
        origin = f"the MEKA option '-C {meka_n_labels}'"
    else:
        origin = f"n_labels={n_labels}"
    if label_location is None:
        negative = meka_n_labels is not None and meka_n_labels < 0
        label_location = "end" if meka_n_labels is None or negative else "start"
    if n_labels > n_attributes:
        raise ValueError(
            f"{origin} asks for {n_labels} labels, but the ARFF file "
            f"{str(path)!r} has only {n_attributes} attributes."
        )
    start = 0 if label_location == "start" else n_attributes - n_labels
    return np.arange(start, start + n_labels)


def _arff_value_tables(attributes, is_label, encode_nominal, path):
    """Map the codes of each nominal attribute to numbers.

    Returns a list with, for each attribute, None if it is numeric or an array
    whose entry ``i`` is the number that the ``i``-th declared value stands for.
    """
    tables = [None] * len(attributes)
    bad_labels, string_features, nominal_features = [], [], []
    for j, (name, kind) in enumerate(attributes):
        if isinstance(kind, str):  # NUMERIC, REAL, INTEGER or STRING
            if kind == "STRING":
                (bad_labels if is_label[j] else string_features).append(name)
            continue
        values = list(kind)
        if is_label[j] and not set(values) <= {"0", "1"}:
            bad_labels.append(name)
            continue
        try:
            tables[j] = np.array([float(value) for value in values])
        except (TypeError, ValueError):
            if encode_nominal:
                tables[j] = np.arange(len(values), dtype=np.float64)
            else:
                nominal_features.append(name)
    if bad_labels:
        raise ValueError(
            f"Labels must be binary attributes with values 0 and 1 (nominal "
            f"{{0,1}} or numeric), but in the ARFF file {str(path)!r} the "
            f"label attributes {_format_names(bad_labels)} are not. Check "
            "which attributes are labels (xml=, n_labels=, label_location=)."
        )
    if string_features:
        raise ValueError(
            f"The ARFF file {str(path)!r} has string attributes, which "
            f"load_arff cannot turn into features: "
            f"{_format_names(string_features)}."
        )
    if nominal_features:
        raise ValueError(
            f"The ARFF file {str(path)!r} has nominal features with "
            f"non-numeric values: {_format_names(nominal_features)}. Pass "
            "encode_nominal=True to encode each value as its 0-based position "
            "in the attribute's declaration."
        )
    return tables


def _decode_nominal_codes(codes, table):
    """Replace the nominal ``codes`` (float, NaN when missing) by their values."""
    values = np.full_like(codes, np.nan)
    known = ~np.isnan(codes)
    values[known] = table[codes[known].astype(np.intp)]
    return values


def _read_dense_arff_rows(rows, tables, n_attributes):
    """Return the rows of a dense ARFF file as a float64 array."""
    # liac-arff gives missing values as None, which NumPy turns into NaN.
    data = np.array(list(rows), dtype=np.float64).reshape(-1, n_attributes)
    for j, table in enumerate(tables):
        if table is not None:
            data[:, j] = _decode_nominal_codes(data[:, j], table)
    return data


def _read_sparse_arff_rows(rows, tables, n_attributes):
    """Return the rows of a sparse ARFF file as a float64 CSR matrix."""
    indptr, columns, values = [0], [], []
    for row in rows:
        columns.extend(row.keys())
        values.extend(row.values())
        indptr.append(len(columns))
    n_samples = len(indptr) - 1
    row_index = np.repeat(np.arange(n_samples), np.diff(indptr))
    columns = np.asarray(columns, dtype=np.intp)
    values = np.array(values, dtype=np.float64).reshape(-1)

    nominal = [j for j, table in enumerate(tables) if table is not None]
    if nominal:
        # Look up every nominal entry at once in the concatenated tables.
        sizes = np.zeros(n_attributes, dtype=np.intp)
        sizes[nominal] = [len(tables[j]) for j in nominal]
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        flat_table = np.concatenate([tables[j] for j in nominal])
        is_code = (sizes[columns] > 0) & ~np.isnan(values)
        values[is_code] = flat_table[
            offsets[columns[is_code]] + values[is_code].astype(np.intp)
        ]
        # A value left out of a sparse row is the first declared value of a
        # nominal attribute, which may stand for a nonzero number.
        default = np.zeros(n_attributes)
        default[nominal] = [tables[j][0] for j in nominal]
        nonzero_default = np.flatnonzero(default)
        if nonzero_default.size:
            present = sp.csr_matrix(
                (np.ones(len(columns), dtype=bool), (row_index, columns)),
                shape=(n_samples, n_attributes),
            )[:, nonzero_default].toarray()
            fill_rows, fill_k = np.nonzero(~present)
            row_index = np.concatenate((row_index, fill_rows))
            columns = np.concatenate((columns, nonzero_default[fill_k]))
            values = np.concatenate((values, default[nonzero_default][fill_k]))
    return sp.csr_matrix(
        (values, (row_index, columns)), shape=(n_samples, n_attributes)
    )


def _check_arff_labels(Y, label_names, path):
    """Return the label block ``Y`` as uint8 after checking it holds only 0/1."""
    for bad, problem in (
        (np.isnan(Y), "a missing value ('?')"),
        ((Y != 0) & (Y != 1), "a value other than 0 and 1"),
    ):
        if bad.any():
            row, k = np.argwhere(bad)[0]
            raise ValueError(
                f"Label {label_names[k]!r} of the ARFF file {str(path)!r} has "
                f"{problem} in data row {row} (counting from 0); labels must "
                "be 0 or 1. Check which attributes are labels (xml=, "
                "n_labels=, label_location=)."
            )
    return Y.astype(np.uint8)


@validate_params(
    {
        "path": [str, os.PathLike],
        "n_labels": [Interval(Integral, 1, None, closed="left"), None],
        "label_location": [StrOptions({"start", "end"}), None],
        "xml": [str, os.PathLike, None],
        "sparse": ["boolean", None],
        "encode_nominal": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_arff(
    path,
    *,
    n_labels=None,
    label_location=None,
    xml=None,
    sparse=None,
    encode_nominal=False,
    return_X_y=False,
):
    r"""Load a multi-label data set from an ARFF file in Mulan or MEKA format.

    Multi-label ARFF files store the labels as attributes next to the
    features, one binary attribute per label. The two common conventions say
    differently which attributes are labels:

    - **Mulan**: the labels are the last attributes; their names are listed in
      an XML file that comes with the data (pass it as ``xml``), or pass their
      number as ``n_labels``.
    - **MEKA**: the labels are the first attributes, and the relation name
      holds their number as the option ``-C n``, e.g.
      ``@relation 'scene: -C 6'``. With ``-C -n`` the labels are the last
      ``n`` attributes. Nothing needs to be passed.

    Both dense rows and sparse rows (``{index value, ...}``, where a left-out
    value is 0) are read. Files whose name ends in ``.gz`` are decompressed.

    Reading ARFF needs the optional package ``liac-arff``
    (``pip install -e ".[arff]"`` from the repository root).

    Parameters
    ----------
    path : str or path-like
        The ARFF file, UTF-8 encoded, optionally gzipped (``.gz``).

    n_labels : int, default=None
        Number of label attributes. If None, it is read from the MEKA ``-C``
        option of the relation name, or from ``xml``. Overrides the ``-C``
        option when given.

    label_location : {'start', 'end'}, default=None
        Whether the ``n_labels`` labels are the first (``'start'``, MEKA) or
        the last (``'end'``, Mulan) attributes. If None, it follows the sign
        of the MEKA ``-C`` option when there is one, and is ``'end'``
        otherwise.

    xml : str or path-like, default=None
        Mulan XML label file, e.g.
        ``<labels xmlns="http://mulan.sourceforge.net/labels"><label
        name="a"></label>...</labels>``. The attributes with these names are
        the labels, wherever they are in the file; nested (hierarchical)
        labels count as labels too. Cannot be combined with ``n_labels`` or
        ``label_location``.

    sparse : bool, default=None
        Whether to return the features as a SciPy CSR matrix. If None, they
        are sparse if and only if the file is in sparse ARFF format.

    encode_nominal : bool, default=False
        How to read nominal features whose declared values are not all
        numbers, e.g. ``{red, green}``. If False, such features raise a
        ``ValueError`` that names them. If True, each value is encoded as its
        0-based position in the declaration (``red`` -> 0, ``green`` -> 1), as
        Weka does internally. Nominal features with numeric values, such as
        the ``{0,1}`` word indicators of text data sets, are always read as
        those numbers.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray or CSR matrix of shape (n_samples, n_features)
            The features as float32, in file order. Missing values (``?``)
            are NaN.
        target : ndarray of shape (n_samples, n_labels), dtype uint8
            The label indicator matrix, columns in file order.
        feature_names : ndarray of shape (n_features,), dtype object
            The names of the feature attributes.
        target_names : ndarray of shape (n_labels,), dtype object
            The names of the label attributes, in the order of the columns of
            ``target``.
        relation : str
            The relation name of the file.
        DESCR : str
            The comment lines at the top of the file.

    (data, target) : tuple if ``return_X_y`` is True
        The features and the label indicator matrix described above.

    Raises
    ------
    ImportError
        If liac-arff is not installed.
    FileNotFoundError
        If ``path`` or ``xml`` is not an existing file.
    ValueError
        If the file is not valid ARFF; if nothing says which attributes are
        labels (no ``xml``, no ``n_labels`` and no MEKA ``-C`` option); if a
        label named in ``xml`` is not in the file; if a label attribute is not
        binary or holds a value other than 0 and 1, including missing values;
        or if a feature is a string attribute or a nominal attribute with
        non-numeric values while ``encode_nominal`` is False.

    See Also
    --------
    sklearn.datasets.load_svmlight_file : Load the svmlight/libsvm format.
    sklearn.datasets.fetch_openml : Fetch ARFF data sets from openml.org.

    Notes
    -----
    Features are returned as float32, like the estimators of sknc expect;
    integers above 2**24 are therefore rounded. Labels must be 0 or 1 in every
    row: missing labels (``?``), which MEKA allows, are an error.

    References
    ----------
    .. [1] G. Tsoumakas, E. Spyromitros-Xioufis, J. Vilcek and I. Vlahavas,
       "Mulan: A Java Library for Multi-Label Learning", JMLR 12, 2011.
    .. [2] J. Read, P. Reutemann, B. Pfahringer and G. Holmes, "MEKA: A
       Multi-label/Multi-target Extension to WEKA", JMLR 17, 2016.

    Examples
    --------
    A MEKA file says in its relation name that its first two attributes are
    labels:

    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from sknc.datasets import load_arff
    >>> tmp = TemporaryDirectory()
    >>> path = Path(tmp.name) / "weather.arff"
    >>> _ = path.write_text(
    ...     "@relation 'weather: -C 2'\n"
    ...     "@attribute sun {0,1}\n"
    ...     "@attribute rain {0,1}\n"
    ...     "@attribute temperature numeric\n"
    ...     "@attribute humidity numeric\n"
    ...     "@data\n"
    ...     "1,0,25.5,0.25\n"
    ...     "0,1,12,0.75\n"
    ...     "1,1,18,0.5\n"
    ... )
    >>> data = load_arff(path)
    >>> data.data
    array([[25.5 ,  0.25],
           [12.  ,  0.75],
           [18.  ,  0.5 ]], dtype=float32)
    >>> data.target
    array([[1, 0],
           [0, 1],
           [1, 1]], dtype=uint8)
    >>> data.feature_names.tolist(), data.target_names.tolist()
    (['temperature', 'humidity'], ['sun', 'rain'])

    A sparse Mulan file, whose last two attributes are labels:

    >>> _ = path.write_text(
    ...     "@relation weather\n"
    ...     "@attribute temperature numeric\n"
    ...     "@attribute humidity numeric\n"
    ...     "@attribute sun {0,1}\n"
    ...     "@attribute rain {0,1}\n"
    ...     "@data\n"
    ...     "{0 25.5,2 1}\n"
    ...     "{1 0.75,3 1}\n"
    ... )
    >>> X, Y = load_arff(path, n_labels=2, return_X_y=True)
    >>> X.format, X.toarray()
    ('csr', array([[25.5 ,  0.  ],
           [ 0.  ,  0.75]], dtype=float32))
    >>> Y
    array([[1, 0],
           [0, 1]], dtype=uint8)
    >>> tmp.cleanup()
    """
    arff = _import_liac_arff()
    path = _existing_file(path, "ARFF file")
    decoder = arff.ArffDecoder()
    with _open_text(path) as file:
        lines = _CountingLines(file)
        try:
            sparse_file = _arff_data_is_sparse(path)
            # The generator return types parse the header here and the data
            # rows only when iterated, so header errors come before any row.
            parsed = decoder.decode(
                lines,
                encode_nominal=True,
                return_type=arff.LOD_GEN if sparse_file else arff.DENSE_GEN,
            )
            attributes = parsed["attributes"]
            names = [name for name, _ in attributes]
            relation = parsed["relation"]
            label_index = _arff_label_indices(
                names, relation, path, n_labels, label_location, xml
            )
            is_label = np.zeros(len(names), dtype=bool)
            is_label[label_index] = True
            tables = _arff_value_tables(attributes, is_label, encode_nominal, path)
            if sparse_file:
                values = _read_sparse_arff_rows(parsed["data"], tables, len(names))
            else:
                values = _read_dense_arff_rows(parsed["data"], tables, len(names))
        except arff.ArffException as exc:
            exc.line = lines.count
            try:
                message = str(exc)
            except (TypeError, ValueError):
                message = f"{type(exc).__name__} at line {lines.count}."
            raise ValueError(
                f"Could not read the ARFF file {str(path)!r}: {message}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"The ARFF file {str(path)!r} is not UTF-8 text: {exc}."
            ) from exc

    feature_index = np.flatnonzero(~is_label)
    label_names = np.array([names[j] for j in label_index], dtype=object)
    feature_names = np.array([names[j] for j in feature_index], dtype=object)
    if sparse_file:
        target = values[:, label_index].toarray()
        X = values[:, feature_index].astype(np.float32)
        X.eliminate_zeros()
        X.sort_indices()
        if sparse is False:
            X = X.toarray()
    else:
        target = values[:, label_index]
        X = np.ascontiguousarray(values[:, feature_index], dtype=np.float32)
        if sparse:
            X = sp.csr_matrix(X)
    Y = _check_arff_labels(target, label_names, path)
    if return_X_y:
        return X, Y
    return Bunch(
        data=X,
        target=Y,
        feature_names=feature_names,
        target_names=label_names,
        relation=relation,
        DESCR=parsed["description"],
    )
