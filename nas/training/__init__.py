"""Training room: datasets, the proxy trainer and its recipe (`TrainConfig`), evaluation of a candidate
(`evaluate(spec, config, data) -> Metrics`), and zero-cost scores. Imports `search_spaces` and the leaf
helpers of `nas`, never the search or the CLI."""
