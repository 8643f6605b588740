"""Warnings that point at the user's line.

A warning raised deep inside sknc, or inside a scikit-learn search that calls
a scorer, should name the line of the user's code that led to it, not an
sknc module (or ``sys:1`` when a fixed ``stacklevel`` overshoots). :func:`warn`
finds that line by walking up the stack past sknc's own frames and the
frames of the libraries that call back into it.
"""

import os
import sys
import warnings

import sklearn
import skorch

__all__ = ["warn"]

# frames of these folders are not the user's: sknc's own, and the libraries
# that call sknc back (a search calling a scorer, skorch calling a callback)
_INTERNAL = tuple(
    os.path.dirname(module.__file__) + os.sep
    for module in (sys.modules[__package__], sklearn, skorch)
)


def warn(message, category=UserWarning):
    """``warnings.warn`` at the first frame outside sknc, scikit-learn and skorch.

    Parameters
    ----------
    message : str
        The warning's text.
    category : type, default=UserWarning
        The warning's class.
    """
    # stacklevel 1 is this function; 2 its caller, the first frame looked at
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
