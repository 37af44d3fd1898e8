"""Rendering a result, deciding nothing: the HTML and Markdown report (page), its figures
(plots), and the text summary the command line prints (summary)."""
