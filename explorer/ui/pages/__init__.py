"""The app's pages, one file each. app.py builds their ``st.Page`` objects on every run (a page object
made once at import is shared by every session and races); other pages link to them by these paths:
``st.page_link(pages.BUILD)``.
"""

LEARN = "explorer/ui/pages/learn.py"
BUILD = "explorer/ui/pages/build.py"
TRAIN = "explorer/ui/pages/train.py"
INSIDE = "explorer/ui/pages/inside.py"
GRADIENTS = "explorer/ui/pages/gradients.py"
EXPLAIN = "explorer/ui/pages/explain.py"
EXPERIMENTS = "explorer/ui/pages/experiments.py"
LANDSCAPE = "explorer/ui/pages/landscape.py"
SALIENCY = "explorer/ui/pages/saliency.py"
CLASS_EXPERIMENT = "explorer/ui/pages/class_experiment.py"
DIAGNOSTICS = "explorer/ui/pages/diagnostics.py"  # only with EXPLORER_DIAGNOSTICS=1 (load tests)
