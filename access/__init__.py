"""The Flask-free access policy (roles, attribute rules) and the domain errors; app/, roles/ and workers/ import it."""
