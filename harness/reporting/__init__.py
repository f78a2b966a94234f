"""Turning a ``results.json`` into something to read: figures, text, plots, a regression gate.

    analysis   medians, speed-ups, noise, Amdahl, the recommendation: one ``Analysis``
    stats      exact sign-flip and two-sample permutation tests
    console    the live progress line and the summary table validate prints
    document   report.md's text, one function per section
    plots      the PNG plots
    baseline   ``persona-bench compare``: a new results.json against an old one
    report     ``persona-bench report``: writes report.md and the plots

Each reads the results model (``harness.results``) and renders; none runs a job.
"""
