"""underseal's trusted core: plate forms, tokens, bundles, sealed records, threshold keys, warrants.

Both the camera (``underseal_device``) and the server (``underseal_server``)
import this package; it imports neither. Every error it raises is an
:class:`underseal.errors.UndersealError`, and no message, repr or str it
produces contains a secret or a plate.
"""

__version__ = "0.1.0"
