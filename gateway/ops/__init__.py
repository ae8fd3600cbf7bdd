"""Running the gateway for years: service integration, operation ledger, tamper-evident logs, backups.

Everything here is about the gateway *as a service* on an edge server (issue 15), not about the data
path: `sdnotify` (systemd readiness and watchdog), `chain`/`chainlog`/`checkpoint` (hash-chained
JSON-lines logs with signed retention checkpoints), `ledger` (the operation-rate ledger),
`backup` (online snapshot and restore), `report` (operation report), `runlock` (is a gateway running
on this data directory?).
"""
