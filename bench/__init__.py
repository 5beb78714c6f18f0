"""Benchmarks of publishing: precision, throughput and scale, side by side with
the usual django-celery-beat designs. Run by hand: ``python -m bench <scenario>``
(BENCHMARKS.md has the figures and the commands)."""
