"""What a batch is made of: the networks to train once and the items (config, seed, neuron) to
interpret, as plain frozen dataclasses that load no JAX."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import config as config_mod

if TYPE_CHECKING:  # symgrad.neurons loads JAX: a batch read back from its plan holds PlannedNeurons
    from ..neurons import NeuronSpec

BATCH_KEYS = ("name", "base", "configs", "set", "seeds", "neurons")
NEURON_KEYS = tuple(config_mod.SCHEMA["neuron"])  # NeuronSpec's fields (a test holds them equal)
# the config sections that define a network; everything else may differ between its neurons
NETWORK_SECTIONS = ("seed", "data", "model", "train")


@dataclass(frozen=True)
class Network:
    """One network to train (or load) once for all of its items.

    Attributes:
        id: directory name under ``networks/``, e.g. ``A1-s0``.
        key: hash of the config sections that define the network (``NETWORK_SECTIONS``).
        config: a full validated config; its data, model, train and seed sections are used.
    """

    id: str
    key: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Item:
    """One neuron of one network to interpret.

    Attributes:
        id: run directory name under ``runs/``, e.g. ``A1-s0-h0u3pre``.
        config_name: the experiment the item comes from (the config file's stem).
        seed: the seed of data, training and search.
        neuron: the neuron.
        network: the ``Network.id`` it belongs to.
        config: the full validated config of the item (the same one ``symgrad.run`` would get).
    """

    id: str
    config_name: str
    seed: int
    neuron: NeuronSpec
    network: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """An expanded batch: its networks and items, in the order they are listed."""

    name: str
    networks: tuple[Network, ...]
    items: tuple[Item, ...]
    # what the expansion read (``batch_inputs``); None for a batch not made by ``load_batch``
    inputs: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def items_of(self, network_id: str) -> list[Item]:
        return [item for item in self.items if item.network == network_id]


@dataclass(frozen=True)
class PlannedNeuron:
    """A neuron as ``plan.json`` stores it: ``NeuronSpec``'s fields and its two names, all that a
    summary reads, without the JAX that ``symgrad.neurons`` loads."""

    kind: str
    layer: int
    unit: int
    other: int
    preactivation: bool
    description: str
    short_name: str

    def describe(self) -> str:
        return self.description

    def tag(self) -> str:
        return self.short_name
