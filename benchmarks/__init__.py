"""driftrec.benchmarks: the studies, one program each (``python -m driftrec.benchmarks.<name>``).

Each measures one claim and writes its figures with their provenance under ``results/``:
speed (``throughput``, ``peers``, ``rllib_throughput``, ``soak``), learning
(``compare_agents``, ``learning_curves``, ``slateq_curves``, ``dqn_rules``, ``video_horizon``,
``sb3_textbook``), fidelity to real data (``fidelity``, ``calibration_report``) and the
language-model side (``semantic_check``, ``integrations``). They build on the library and on
``driftrec.cli`` (the runner, metrics and report the ``driftrec`` command uses); neither the
library nor the CLI imports them (``tests/test_layout.py``).
"""
