"""The ``ehrsynth`` command line. Each sub-command lives in its own module and imports heavy
libraries (torch, the trainers) only when it runs, so ``ehrsynth --help`` stays instant."""
