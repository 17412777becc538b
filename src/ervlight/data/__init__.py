"""The data layer: dataset readers, media decoding, preprocessing and the one LightningDataModule.

* :mod:`~ervlight.data.records` — :class:`ClipRecord` (one clip) and :class:`SplitListing` (a split's records,
  missing clips and bad rows), produced by the readers :mod:`~ervlight.data.dfew`, :mod:`~ervlight.data.mafw`
  and :mod:`~ervlight.data.r1omni` (R1-Omni / EMER JSON, read and write);
* :mod:`~ervlight.data.sources` — :class:`DataSource`, a reader selection as written in YAML;
* :mod:`~ervlight.data.sampling`, :mod:`~ervlight.data.backends` (PyAV, optional torchcodec) and
  :mod:`~ervlight.data.decoding` (:class:`ClipDecoder`) — frames and audio of a record, with typed errors
  (:mod:`~ervlight.data.errors`);
* :mod:`~ervlight.data.transforms` — frame and log-mel preprocessing (the :class:`MediaPreprocessor` hook);
* :mod:`~ervlight.data.dataset` and :mod:`~ervlight.data.datamodule` — :class:`ClipDataset`, its collate into
  :class:`~ervlight.data.batch.MediaBatch`, and :class:`ERVDataModule`;
* :mod:`~ervlight.data.encoding` — :func:`write_mp4`, the project's one mp4 writer;
* :mod:`~ervlight.data.inspect`, :mod:`~ervlight.data.export` — ``ervlight data inspect`` / ``export-r1omni``.

Submodules are imported explicitly (``from ervlight.data.datamodule import ERVDataModule``) so that the CLI stays
fast.
"""
