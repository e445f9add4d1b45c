"""The landing zone: the contract (sources, columns, keys) and the loader."""
