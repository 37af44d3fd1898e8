"""Real data shipped in packages (Palmer penguins) and the selection of classes."""

import numpy as np
import pytest

from symgrad.config import load_config
from symgrad.data.datasets import keep_classes, load_shipped
from symgrad.errors import SymgradError
from symgrad.pipeline import load_data

pytest.importorskip("palmerpenguins")


def test_penguins_load_without_missing_rows_and_keep_two_species():
    data = load_shipped("penguins")
    assert data.class_names == ("Adelie", "Chinstrap", "Gentoo") and data.x.shape == (342, 4)
    assert np.isfinite(data.x).all()
    two = keep_classes(data, ["Adelie", "Chinstrap"])
    assert two.class_names == ("Adelie", "Chinstrap") and two.n_classes == 2
    assert (two.y == 1).sum() == 68 and (two.y == 0).sum() == 151
    # the order given decides which class is class 1
    swapped = keep_classes(data, ["Chinstrap", "Adelie"])
    np.testing.assert_array_equal(swapped.y, 1 - two.y)


def test_the_shipped_config_loads_the_two_species():
    config = load_config("experiments/penguins.yaml", ["progress=false"])
    dataset, concept = load_data(config)
    assert concept is None and dataset.feature_names[:2] == ("bill_length_mm", "bill_depth_mm")
    assert dataset.class_names == ("Adelie", "Chinstrap") and len(dataset.y) == 219


def test_bad_dataset_settings_are_one_sentence():
    with pytest.raises(SymgradError, match="not a label value"):
        keep_classes(load_shipped("penguins"), ["Adelie", "Emperor"])
    with pytest.raises(SymgradError, match="data.dataset"):
        load_config(None, ["data.dataset=iris"])
    with pytest.raises(SymgradError, match="give only one of"):
        load_config(None, ["data.dataset=penguins", "data.concept=A1"])
    with pytest.raises(SymgradError, match="column 'beak' is not in the penguins data set"):
        load_shipped("penguins", features=["beak"])
