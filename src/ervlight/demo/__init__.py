"""The synthetic demo corpus: rendered face + voice clips in the official DFEW and MAFW layouts, an EMER-style
cold-start JSON and a verifier sentence corpus (``ervlight data make-demo``; :func:`generate_demo` in Python).

Modules: :mod:`~ervlight.demo.profiles` (how emotions show), :mod:`~ervlight.demo.spec` (one clip's description),
:mod:`~ervlight.demo.face` and :mod:`~ervlight.demo.voice` (media), :mod:`~ervlight.demo.phrases` and
:mod:`~ervlight.demo.text` (captions, rationales), :mod:`~ervlight.demo.verifier_corpus`,
:mod:`~ervlight.demo.trees` and :mod:`~ervlight.demo.emer` (the files), :mod:`~ervlight.demo.manifest`,
:mod:`~ervlight.demo.generate` (the whole run) and :mod:`~ervlight.demo.cli`.
"""

from ervlight.demo.generate import GENERATOR_VERSION, SIZES, DemoSize, generate_demo

__all__ = ["GENERATOR_VERSION", "SIZES", "DemoSize", "generate_demo"]
