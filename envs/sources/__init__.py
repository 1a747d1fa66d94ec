"""Where items and users come from: the sources the user model is given.

- ``catalog``: the items (``Catalog``: texts, categories, quality, cost, unit embeddings) from
  the built-in domains, a CSV/JSONL file or records; ``load_catalog`` caches the encoding.
- ``builtin``: the built-in domains (``video``, ``news``, ``shopping``) as generators of records.
- ``personas``: text personas per domain, encoded into starting interests.
- ``users``: pools of starting interests (synthetic, persona, real data) and the arrival draws.
- ``datasets``: MovieLens, MIND and Amazon logs as catalogs, user pools and held-out sessions.

Nothing here steps a user: that is ``envs/model``. The public names stay importable from
``driftrec.envs`` (``Catalog``, ``load_catalog``, ``UserPool``, ``generate_personas``).
"""
