"""The page: Gradio components in the order a user works (upload, style, preview, run, download), each wired to a
handler. No logic lives here beyond turning component values into a Style."""

from __future__ import annotations

import gradio as gr

from streamfx.ui import gallery, handlers
from streamfx.ui.gallery import IMAGE, MIX, MODES, SEED, Style
from streamfx.ui.render import PREVIEW_SECONDS
from streamfx.ui.session import Workspace

ENGINES = ("auto", "torch", "onnxruntime", "openvino", "tensorrt")

# System fonts only: a font named by a string loads nothing (a GoogleFont would fetch from fonts.googleapis.com).
SANS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif")
MONO = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "DejaVu Sans Mono", "monospace")
CSS = """
#status p, #engine p { margin: 0; }
#style-gallery .grid-wrap { overflow-y: auto; }  /* Gradio always draws a scroll bar; one row needs none */
#engine { color: var(--body-text-color-subdued); font-family: var(--font-mono); font-size: var(--text-sm); }
"""


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="pink", secondary_hue="violet", font=list(SANS), font_mono=list(MONO))


def _style(names: list[str], mode, seed, seed_b, t, image, *edit_values) -> Style:
    edits = tuple((name, float(value or 0)) for name, value in zip(names, edit_values))
    return Style(mode or SEED, int(seed or 0), int(seed_b or 0), float(0.5 if t is None else t), image or None, edits)


def _edit_sliders(names: list[str]) -> list:
    """One slider per edit the model offers for anime faces, in [-1, 1] as on the command line."""
    if not names:
        return []
    with gr.Accordion("Edit the character (optional)", open=False, elem_id="edits"):
        gr.Markdown("Sliders in [-1, 1], as `--edit NAME=VALUE`; 0 leaves the face as the style draws it.")
        sliders = []
        for row in range(0, len(names), 4):
            with gr.Row():
                sliders += [gr.Slider(-1.0, 1.0, 0.0, step=0.05, label=name.replace("_", " "),
                                      elem_id=f"edit-{name}") for name in names[row:row + 4]]
        return sliders


def _close_session(session) -> None:
    if session is not None:
        session.close()


def build_app(workspace: Workspace) -> gr.Blocks:
    with gr.Blocks(title="streamfx", analytics_enabled=False) as demo:
        session = gr.State(None, delete_callback=_close_session)  # also runs when the tab has been gone a while
        first_seed = gr.State(0)
        gr.Markdown("## streamfx: anime faces\nUpload a video or a photo, pick a style, preview it, run the whole "
                    "clip and download it. Nothing leaves this computer.")
        with gr.Row(equal_height=False):
            with gr.Column():
                source = gr.File(label="1. Video or photo", file_count="single", type="filepath", height=120,
                                 elem_id="upload")
                info = gr.Markdown(elem_id="upload-info")
            with gr.Column():
                faces = gr.Image(label="Faces found (first frame)", interactive=False, height=250,
                                 buttons=[], elem_id="faces")
            with gr.Column():
                mode = gr.Radio(list(MODES), value=SEED, label="Style from", elem_id="style-mode")
                seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="seed")
                seed_b = gr.Number(1, label="Second seed", precision=0, minimum=0, visible=False)
                mix = gr.Slider(0.0, 1.0, 0.5, step=0.05, label="Mix (0: first seed, 1: second)", visible=False)
                reference = gr.Image(label="Reference anime face", type="filepath", sources=["upload"],
                                     visible=False, height=140)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                tiles = gr.Gallery(label="2. Styles on your face: click one", columns=8, rows=1, height=160,
                                   allow_preview=False, object_fit="contain", interactive=False, buttons=[],
                                   elem_id="style-gallery")
                more = gr.Button("More seeds", size="sm", elem_id="more-seeds")
            with gr.Column(scale=1, min_width=160):
                chosen = gr.Image(label="Chosen style", interactive=False, height=190, buttons=[],
                                  elem_id="chosen-style")
        edit_names = gallery.edit_sliders()
        edit_values = _edit_sliders(edit_names)
        with gr.Row():
            engine = gr.Dropdown(list(ENGINES), value="auto", label="Engine", scale=1)
            preview = gr.Button(f"3. Preview {PREVIEW_SECONDS:g} s", scale=1, elem_id="preview")
            run = gr.Button("4. Run the whole clip", variant="primary", scale=1, elem_id="run")
        status = gr.Markdown(elem_id="status")
        engine_line = gr.Markdown(elem_id="engine")
        with gr.Row(equal_height=False):
            with gr.Column():
                preview_video = gr.Video(label="Preview", interactive=False, height=260, elem_id="preview-video")
                preview_image = gr.Image(label="Preview", interactive=False, height=260, visible=False)
            with gr.Column():
                result_video = gr.Video(label="Result", interactive=False, height=260, elem_id="result-video")
                result_image = gr.Image(label="Result", interactive=False, height=260, visible=False)
                download = gr.DownloadButton("5. Download the result", interactive=False, elem_id="download")

        style_inputs = [mode, seed, seed_b, mix, reference, *edit_values]

        def on_upload(path, previous, *style):
            view = handlers.upload(workspace, path, previous, _style(edit_names, *style))
            cleared = gr.update(value=None)  # outputs of the previous upload: their files are gone
            return (*view, 0, cleared, cleared, cleared, cleared, gr.update(value=None, interactive=False), "")

        upload_outputs = [session, info, faces, tiles, chosen, status, first_seed, preview_video, preview_image,
                          result_video, result_image, download, engine_line]
        source.upload(on_upload, [source, session, *style_inputs], upload_outputs)
        source.clear(on_upload, [source, session, *style_inputs], upload_outputs)

        def next_seeds(current, first):
            first += handlers.GALLERY_SIZE
            return handlers.seed_page(current, first), first

        more.click(next_seeds, [session, first_seed], [tiles, first_seed])

        def pick(first, evt: gr.SelectData):
            return SEED, first + evt.index

        tiles.select(pick, [first_seed], [mode, seed])

        def show_style(current, *style):
            return handlers.style_changed(current, _style(edit_names, *style))

        def show_controls(chosen_mode):
            return (gr.update(visible=chosen_mode != IMAGE), gr.update(visible=chosen_mode == MIX),
                    gr.update(visible=chosen_mode == MIX), gr.update(visible=chosen_mode == IMAGE))

        mode.change(show_controls, [mode], [seed, seed_b, mix, reference])
        for control in (mode, seed, seed_b, reference):
            control.change(show_style, [session, *style_inputs], [chosen, status])
        for control in (mix, *edit_values):
            control.release(show_style, [session, *style_inputs], [chosen, status])

        def on_preview(current, *values, progress=gr.Progress()):
            *style, chosen_engine = values
            view = handlers.run(current, _style(edit_names, *style), chosen_engine, preview=True, progress=progress)
            return view.video, view.image, view.status, view.engine

        def on_run(current, *values, progress=gr.Progress()):
            *style, chosen_engine = values
            view = handlers.run(current, _style(edit_names, *style), chosen_engine, preview=False, progress=progress)
            return view.video, view.image, view.download, view.status, view.engine

        run_inputs = [session, *style_inputs, engine]
        preview.click(on_preview, run_inputs, [preview_video, preview_image, status, engine_line])
        run.click(on_run, run_inputs, [result_video, result_image, download, status, engine_line])
    return demo
