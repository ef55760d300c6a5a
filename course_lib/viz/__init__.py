"""Figures and tables for the book, sized for its pages (see :mod:`course_lib.viz.style`).

- :mod:`~course_lib.viz.images`: images with their captions;
- :mod:`~course_lib.viz.dataset`: the data folder, a dataset's facts, a scene and its checks;
- :mod:`~course_lib.viz.plots`: training curves and small arrays as heat maps;
- :mod:`~course_lib.viz.cnn`: a CNN's filters, feature maps and the shapes of its maps;
- :mod:`~course_lib.viz.diagrams`: the pipeline, the LSTM cell, inject vs. merge;
- :mod:`~course_lib.viz.features`: VGG16's cut, its preprocessing, a PCA map of features;
- :mod:`~course_lib.viz.rnn`: sequence set-ups, an LSTM's weights and gates, gradients over time;
- :mod:`~course_lib.viz.language`: a caption on its way to ids, word frequencies, caption
  lengths, the seed's per-prefix samples beside teacher forcing, and the tables that read
  token ids;
- :mod:`~course_lib.viz.training`: a schematic run with its safety nets, several runs' curves;
- :mod:`~course_lib.viz.networks`: a caption model's layers on a real batch (a graph, and
  :func:`~course_lib.viz.networks.layer_table`), decoding costs;
- :mod:`~course_lib.viz.tables`: Markdown/HTML tables without pandas;
- :mod:`~course_lib.viz.attention`: one step of attention as a diagram, where the attention
  captioner looked, word by word, and how much of it fell on the named object;
- :mod:`~course_lib.viz.evaluation`: BLEU's n-gram matches, a beam search step by step, scores
  per image, sentence BLEU against scene correctness.

Every plotting function builds a matplotlib ``Figure``, closes it and returns it: make the
call the **last expression of a cell** and Jupyter shows the figure exactly once. Nothing here
calls ``plt.show()``. Only matplotlib and NumPy are used, so the figures render the same in
Jupyter, in the book build and in tests run with the ``Agg`` backend.
"""

from course_lib.viz.attention import (
    draw_attention_diagram,
    plot_attention,
    plot_attention_correctness,
    plot_word_attention,
)
from course_lib.viz.cnn import (
    cnn_layer_table,
    draw_feature_shapes,
    plot_feature_maps,
    plot_filter_sets,
)
from course_lib.viz.dataset import (
    data_folder_table,
    dataset_table,
    scene_check_table,
    scene_objects_table,
    scene_relations_table,
)
from course_lib.viz.diagrams import (
    draw_lstm_cell,
    draw_merge_diagram,
    draw_pipeline,
)
from course_lib.viz.evaluation import (
    draw_beam_search,
    draw_ngram_matches,
    plot_bleu_vs_correctness,
    plot_per_image_scores,
)
from course_lib.viz.features import draw_vgg16, plot_pca, plot_preprocessing
from course_lib.viz.images import show_captioned_images
from course_lib.viz.language import (
    byte_size,
    coverage_table,
    draw_caption_encoding,
    draw_prefix_layouts,
    memory_table,
    per_prefix_table,
    plot_caption_lengths,
    plot_word_frequencies,
    teacher_forcing_table,
)
from course_lib.viz.networks import draw_model_graph, plot_decoding_cost
from course_lib.viz.plots import plot_arrays, plot_history
from course_lib.viz.rnn import (
    draw_lstm_weights,
    draw_rnn_patterns,
    plot_lstm_gates,
    plot_step_dependence,
)
from course_lib.viz.tables import MarkdownTable, profile_table, table
from course_lib.viz.training import draw_training_timeline, plot_runs

__all__ = [
    "MarkdownTable",
    "byte_size",
    "cnn_layer_table",
    "coverage_table",
    "data_folder_table",
    "dataset_table",
    "draw_attention_diagram",
    "draw_beam_search",
    "draw_caption_encoding",
    "draw_feature_shapes",
    "draw_lstm_cell",
    "draw_lstm_weights",
    "draw_merge_diagram",
    "draw_model_graph",
    "draw_ngram_matches",
    "draw_pipeline",
    "draw_prefix_layouts",
    "draw_rnn_patterns",
    "draw_training_timeline",
    "draw_vgg16",
    "memory_table",
    "per_prefix_table",
    "plot_arrays",
    "plot_attention",
    "plot_attention_correctness",
    "plot_bleu_vs_correctness",
    "plot_caption_lengths",
    "plot_decoding_cost",
    "plot_feature_maps",
    "plot_filter_sets",
    "plot_history",
    "plot_lstm_gates",
    "plot_pca",
    "plot_per_image_scores",
    "plot_preprocessing",
    "plot_runs",
    "plot_step_dependence",
    "plot_word_attention",
    "plot_word_frequencies",
    "profile_table",
    "scene_check_table",
    "scene_objects_table",
    "scene_relations_table",
    "show_captioned_images",
    "table",
    "teacher_forcing_table",
]
