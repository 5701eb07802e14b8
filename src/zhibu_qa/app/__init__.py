"""The edges users touch: the Gradio UI (the only package that imports gradio), its actions and
views, the HTTP API and server, feedback, and the plain-text/JSON shapes the CLI prints.
"""
