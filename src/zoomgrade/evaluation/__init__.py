"""Evaluation of a model folder on annotated slides (``zoomgrade evaluate``): grade each slide, compare
regions and categories with the annotations, and write eval.json and a self-contained eval.html."""
