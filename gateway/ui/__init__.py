"""The operator's dashboard: a web UI served by the gateway itself at `/` (issue 13).

Plain ES modules, HTML and CSS shipped as package data (`static/`, with the vendored uPlot chart
library and its licence): no build step, no CDN, works offline. The server side here holds what
only the dashboard needs (sessions and CSRF, the live stream, the views of the model, the state
timeline); its HTTP routes live in gateway/api/ui_*.py like every route, and it reads the same live
model, history and write path as the AAS API.
"""
