"""The web console: server-rendered pages over the same route functions as the JSON API."""
