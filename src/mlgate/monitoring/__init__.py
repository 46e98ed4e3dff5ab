"""Monitoring: watch a deployed model's inputs, scores, performance and business KPI.

A monitor run reads the prediction log (what the REST server, the stream consumer and batch
scoring recorded) in time windows, compares each window with the reference (the training data),
joins labels as they arrive late, and stores one :class:`~mlgate.monitoring.store.Observation`
per metric, subject and window. Rules from the policy, overridden per project, turn
observations into alerts; one ongoing breach is one alert. A rule may also start the training
pipeline, whose candidate waits at the gates like any other model version.

Modules:

- :mod:`~mlgate.monitoring.settings`: the ``monitoring:`` section of ``mlgate.yaml`` and the
  policy's rules;
- :mod:`~mlgate.monitoring.store`: observations, labels, KPI values and alerts in the registry;
- :mod:`~mlgate.monitoring.windows`: reading the prediction log one window at a time;
- :mod:`~mlgate.monitoring.data_drift`: per-feature drift of a window against the reference;
- :mod:`~mlgate.monitoring.performance`: score drift, performance with labels, estimates
  without them;
- :mod:`~mlgate.monitoring.kpis`: the business owner's metric per period;
- :mod:`~mlgate.monitoring.alerts` and :mod:`~mlgate.monitoring.notify`: rules, alerts and
  their delivery by webhook and e-mail;
- :mod:`~mlgate.monitoring.retrain`: the retraining trigger;
- :mod:`~mlgate.monitoring.run` and :mod:`~mlgate.monitoring.dashboard`: one monitor run,
  and the HTML page that shows the history.
"""
