"""course_lib: the companion library of the course "Image captioning with CNNs and LSTMs".

Flickr8k photos (or the synthetic scenes) → CNN features → an LSTM language model in the
"merge" architecture → captions → BLEU and CIDEr. Submodules are imported on demand so that
``import course_lib`` stays fast and does not load TensorFlow.
"""

__version__ = "0.1.0"
