"""Southbound and northbound protocol connectors.

Each connector is one module or small package that turns a protocol into
`connectors.sample.Sample`s (sources) or sends them out (sinks). Connectors
never import `gateway`: the gateway wires them together.
"""
