"""The data layer: dataset readers, media decoding, preprocessing and the one LightningDataModule.

* :mod:`~ervlight.data.records` — :class:`ClipRecord` (one clip) and :class:`SplitListing` (a split's records,
  missing clips and bad rows), produced by the readers of :mod:`~ervlight.data.readers` (DFEW, MAFW, R1-Omni /
  EMER JSON);
* :mod:`~ervlight.data.sources` — :class:`DataSource`, a reader selection as written in YAML;
* :mod:`~ervlight.data.registry` — the dataset kinds: each kind's reader, label spaces and media views;
* :mod:`~ervlight.data.sampling`, :mod:`~ervlight.data.backends` (PyAV, optional torchcodec) and
  :mod:`~ervlight.data.clip_decoder` (:class:`ClipDecoder`) — frames and audio of a record, with typed errors
  (:mod:`~ervlight.data.errors`);
* :mod:`~ervlight.data.transforms` — frame and log-mel preprocessing (the :class:`MediaPreprocessor` hook);
* :mod:`~ervlight.data.dataset` and :mod:`~ervlight.data.datamodule` — :class:`ClipDataset`, its collate into
  :class:`~ervlight.data.batch.MediaBatch`, and :class:`ERVDataModule`;
* :mod:`~ervlight.data.mp4_writer` — :func:`write_mp4`, the project's one mp4 writer;
* :mod:`~ervlight.data.inspect`, :mod:`~ervlight.data.export` — ``ervlight data inspect`` / ``export-r1omni``.

Submodules are imported explicitly (``from ervlight.data.datamodule import ERVDataModule``) so that the CLI stays
fast.
"""
