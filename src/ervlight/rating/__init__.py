"""Human evaluation of rationales: the ``ervlight rate`` page, its ratings file and the agreement statistics."""
