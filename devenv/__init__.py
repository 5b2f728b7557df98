"""Local development environment: spawn Redis and the processes of `python3 dev.py run`."""
