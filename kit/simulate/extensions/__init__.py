"""The simulator's extensions to moto, one module per AWS service; `kit.simulate.dispatch` routes to them."""
