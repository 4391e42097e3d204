"""Renderers of the result document (model.result.ResultDocument): they read the document only.

`report.html.render_html(doc, lang)` is the self-contained HTML incident report (docs/report.md).
"""
