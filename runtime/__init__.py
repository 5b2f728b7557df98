"""Process-wide runtime shared by the web app and the worker: settings and logging, nothing else."""
