"""Scale tools: the per-GPU memory plan (``ervlight plan``) and exports a user can load (``ervlight export``)."""
