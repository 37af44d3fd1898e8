"""How far to trust a formula: fidelity figures (metrics, assess), the network's floor near its
boundary (floor), the choice and the verdict (verdict), and the known concept (truth)."""
