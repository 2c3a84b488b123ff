"""MusicSim engine: audio, features, models, training, library index and evaluation.

Nothing in this package imports Qt; the GUI (``musicsim_app``) and the ``musicsim`` command line
call the same functions.
"""

__version__ = "0.1.0"
