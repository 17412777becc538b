"""Dataset readers, one module per dataset; each registers its kinds in :mod:`ervlight.data.registry`.

* :mod:`~ervlight.data.readers.dfew` — the official DFEW split CSVs (``kind: dfew``);
* :mod:`~ervlight.data.readers.mafw` — the official MAFW lists, single and compound views (``kind: mafw``);
* :mod:`~ervlight.data.readers.r1omni` — R1-Omni / EMER JSON, read and write (``kind: r1omni`` and ``emer``).

Every module of this package is imported on the registry's first look-up.
"""
