"""twostream: human action recognition from pixels and body keypoints, fused late.

The sub-packages follow the data flow ``datasets → pose → streams → fusion → cli``; a lower layer never
imports a higher one.
"""

__version__ = "0.1.0"
