"""Demo vats and the default genesis config (genesis.json) of a demo node."""
