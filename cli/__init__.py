"""driftrec.cli: the ``driftrec`` command and what it runs.

``main`` parses the command line (``bench``, ``train``, ``plot``, ``scenarios``, ``agents``,
``calibrate``); ``options`` holds the shared defaults and value checks; ``bench_command``,
``runner`` (scenario × agent × seed runs), ``metrics``, ``report`` and ``plots`` make a bench
results folder; ``training`` and ``rllib_training`` train one agent (the built-in loop or RLlib's
PPO); ``realdata`` runs bench and calibrate on real data sets; ``runfolder`` keeps every run inside
its ``--out`` folder.

The one-off studies in ``driftrec.benchmarks`` import from here, never the other way: this
package depends only on the library (``driftrec.envs``, ``driftrec.agents``,
``driftrec.encoders``). The console script is ``driftrec.cli.main:main``.
"""
