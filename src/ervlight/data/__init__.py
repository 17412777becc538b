"""The data layer: dataset readers, media decoding, preprocessing and the one LightningDataModule."""
