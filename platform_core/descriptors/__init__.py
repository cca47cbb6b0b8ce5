"""What domain teams write: descriptor specs, names and types, rules as data, YAML loading, addresses, the workspace."""
