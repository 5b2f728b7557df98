"""RQ side of the write path: queues, writeback jobs, the reconciler and the worker process."""
