"""The Gradio app's library side: handlers as plain functions, the timeline editor's files,
the key / session / pose formats. app.py only lays out components and wires them to these.

Modules: keys (keys JSON), session (session.json), poses (pose library), make_poses (builds it),
stagebar (stage history HTML), outputs (per-request temp folders), studio (the timeline editor's
HTML/JS/CSS), handlers (what the events call).
"""
