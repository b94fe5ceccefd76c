"""`streamfx ui`: a local web app over the same pipeline as `streamfx anime`.

session.py owns the temporary files, media.py reads an upload, gallery.py renders style tiles, render.py runs the
pipeline, handlers.py turns UI events into results, app.py lays out the page, server.py starts and stops it.
"""
