"""Southbound and northbound protocol connectors.

Each connector is one package that turns a protocol into
`connectors.sample.Sample`s (sources) or sends them out (sinks), and registers
itself in `connectors.registry` (its `descriptor` module: type tag, config and
point models, factories, capabilities) with a commented `sample.yaml` beside it.
Connectors never import `gateway`: the gateway builds them through the registry.
The shared core: `base` (the Source/ForwardSink interfaces), `sample`, `status`,
`config_base` (the strict, frozen base of every config model).
"""
