"""Building Asset Administration Shells and submodels with the BaSyx SDK.

Holds the AAS side of the gateway: value types (xs:*), the model built from
configuration, ValueOnly serialisation and idShortPath handling. Imports
BaSyx only, never `gateway` or `connectors`.
"""
