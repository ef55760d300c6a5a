"""course_lib: the companion library of the course "Image captioning with CNNs and LSTMs".

Flickr8k photos (or the synthetic scenes) → CNN features → an LSTM language model in the
"merge" architecture → captions → BLEU and CIDEr. Submodules are imported on demand so that
``import course_lib`` stays fast and does not load TensorFlow. Importing it checks, from
package metadata alone, that TensorFlow, Keras, NumPy and the other dependencies are not older
than the versions the course is tested with (:mod:`course_lib._versions`).
"""

from course_lib import _versions

__version__ = "0.1.0"

_versions.check()
