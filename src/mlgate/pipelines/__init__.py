"""Declared pipelines: the project's data, training and scoring entry points, run and recorded.

``mlgate.yaml`` declares each pipeline (see :class:`mlgate.config.PipelineConfig`);
:func:`mlgate.pipelines.runs.run_pipeline` runs one in a worker process and records the run,
and :class:`mlgate.pipelines.scheduler.Scheduler` runs them by their cron schedules. The
package imports nothing itself, so that reading mlgate.yaml (which checks cron expressions with
:mod:`mlgate.pipelines.cron`) does not load the store.
"""
