"""The pages (issue #23): board, trajectory thread; see ``api.ui.pages``."""
