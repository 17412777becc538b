"""``python -m ervlight …`` is the same as the ``ervlight`` console script."""

from ervlight.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
