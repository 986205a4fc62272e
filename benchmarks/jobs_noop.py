"""The bare-RQ job of ``benchmarks/jobs.py``, in a module light enough that a forked work horse
importing it measures RQ, not the import of Flask and the extension."""


def noop(x: int) -> int:
    return x
