"""A PyTorch nn.Sequential imported and interpreted (skipped where torch is not installed)."""

import numpy as np
import pytest

import symgrad
from symgrad.data import make_concept_dataset
from symgrad.errors import SymgradError
from symgrad.network.importers import from_torch

torch = pytest.importorskip("torch")
nn = torch.nn


@pytest.fixture(scope="module")
def torch_a1():
    data = make_concept_dataset("A1", 3000, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ELU(), nn.Linear(32, 32), nn.ELU(), nn.Linear(32, 1))
    x, y = torch.as_tensor(data.x, dtype=torch.float32), torch.as_tensor(data.y, dtype=torch.float32)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(400):  # full batch: a few seconds on a CPU
        optimiser.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)
        loss.backward()
        optimiser.step()
    return model.eval(), data


def test_torch_mlp_passed_as_object_is_interpreted(torch_a1, tmp_path):
    from tests.test_result import _same_level_sets

    model, data = torch_a1
    result = symgrad.explain(model, data.x, y=data.y, backend="library")
    with torch.no_grad():
        original = model(torch.as_tensor(data.x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(result.model().logits(data.x), original, rtol=1e-4, atol=1e-4)
    assert _same_level_sets(result.best.expression, "x0**2 + 2*x1**2"), result.best.expression
    assert result.verdict["kind"] == "faithful", result.verdict
    assert (result.save(tmp_path / "torch").path / "report.html").is_file()


def test_two_logit_softmax_head_becomes_one_logit():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1), nn.Linear(4, 2), nn.Softmax(dim=1)).eval()
    x = np.random.default_rng(0).normal(size=(100, 3))
    imported = from_torch(model, x)
    with torch.no_grad():
        p = model(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(imported.class_probabilities(x), p, atol=1e-5)


def test_unsupported_torch_layers_are_one_sentence():
    x = np.zeros((10, 2))
    with pytest.raises(SymgradError, match="layer 1 of the nn.Sequential is Softplus"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Softplus(), nn.Linear(3, 1)), x)
    with pytest.raises(SymgradError, match="mixes activations"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)), x)
    with pytest.raises(SymgradError, match="not supported; give an nn.Sequential"):
        from_torch(nn.Linear(2, 1), x)
