"""MoMADiff demo: text (+ sparse keyframes) -> 3D human motion, streamed stage by stage.

    python app.py [--model DIR] [--port N]      (or MOMADIFF_MODEL=DIR python app.py)

Also the Hugging Face Space entry point. Layout and wiring only: the handlers are in
momadiff/ui/handlers.py, the timeline editor in momadiff/ui/studio/.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator

# Before gradio (and huggingface_hub, which reads these once at import) is imported anywhere:
# the app never talks to the network on its own (no analytics, no Hub look-ups, no update check).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402

from momadiff.pipeline import (MAX_CFG_SCALE, MAX_DDIM_STEPS, MAX_ITERATIONS, MAX_SECONDS,  # noqa: E402
                               MIN_SECONDS, Pipeline)
from momadiff.motion.skeleton import FPS  # noqa: E402
from momadiff.ui import handlers as H  # noqa: E402
from momadiff.ui.outputs import MAX_AGE_SECONDS  # noqa: E402
from momadiff.ui.poses import load_poses  # noqa: E402
from momadiff.ui.stagebar import stage_bar_html  # noqa: E402
from momadiff.ui import stream  # noqa: E402
from momadiff.ui.compare import compare_orders  # noqa: E402
from momadiff.ui.studio import (COMPARE_ID, GENERATE_JS, KEYS_ID, MOTION_ID, REFRESH_JS, SELECTED_ID,  # noqa: E402
                                carrier_kwargs, compare_kwargs, stage_kwargs, static_paths, timeline_kwargs,
                                view_kwargs)

if TYPE_CHECKING:
    import gradio as gr

DEFAULT_SECONDS = 6.0
# Gradio refuses bigger uploads before a handler sees them (the handlers check their own limits too).
MAX_UPLOAD_BYTES = H.MAX_BVH_BYTES
EXAMPLES = [
    "a person walks forward",
    "a person runs forward quickly",
    "someone waves with the right hand",
    "a person bows politely",
    "a person raises both hands above the head",
    "someone walks forward and turns left",
    "a person walks backwards",
    "a person waves both hands happily",
]
HOW_IT_WORKS = """
**MoMADiff** turns your sentence into a 3D motion (22 joints, 20 frames per second).

1. A *motion VAE* compresses {frames} of motion into one continuous **latent** vector;
   a 6 s motion is {six_s} latents (the cells of the stage bar and of the strip above the timeline).
2. Generation starts with **every latent hidden behind a [MASK]**. Your keyframes are encoded
   into latents and put in place first (orange); they are never masked.
3. A **masked transformer** reads the sentence and the latents known so far and proposes what each
   masked latent should be; a small **diffusion head** turns that proposal into an actual latent by
   denoising random noise in a few DDIM steps{noise}.
4. **Stage 1** fills only a few latents spread over the motion: the model sketches the
   key moments first. Each later stage fills the masked latents farthest from anything known, so
   the gaps close recursively, coarse to fine (green = this stage, blue = earlier).
5. The VAE decodes the latents to joint positions{decoder}, and a smooth correction makes the
   motion pass exactly through your keyframes.

**What the view shows after an early stage.** Masked latents have no value yet. To let you watch
a half-made motion, each one is drawn as the *linear interpolation* of its nearest known
neighbours (hatched cells on the timeline). So stage 1 already looks like a whole motion, but only
its green and orange stretches were generated; the rest is a straight blend that later stages
replace.

**Guidance scale** mixes the transformer's proposal with and without the sentence: 1 = no
guidance, higher follows the text more literally (and less varied). **Iterations** is how many
stages the masked latents are spread over; **DDIM steps** is how carefully each latent is denoised.
A stage never fills zero latents and there are never more stages than masked latents, so asking
for many iterations gives fewer stages: a 6 s motion has {six_s} latents, and 64 iterations give
{stages64} stages here (the cosine schedule's smallest steps round to nothing and are skipped).
"""


def how_it_works(pipe: Pipeline) -> str:
    """The explanation, with this model's frames per latent, kind of head noise and decoder."""
    import torch
    from momadiff.sampler import plan_stages
    frames = "every frame" if pipe.down == 1 else f"every {pipe.down} frames"
    noise = (" (the noise changes smoothly from one latent to the next, so neighbouring latents vary "
             "together rather than jittering)") if pipe.sampler.noise_corr > 0 else ""
    decoder = (" (it is told that generated latents are slightly off, unlike those of a real motion, "
               "so it smooths out what would be jitter)") if pipe.vae.config.noise_cond and pipe.sampler.decode_noise > 0 else ""
    n = math.ceil(6 * FPS / pipe.down)
    stages64 = len(plan_stages(n, np.zeros(n, dtype=bool), MAX_ITERATIONS, pipe.sampler.keyframe_stride,
                               torch.Generator().manual_seed(0)))
    return HOW_IT_WORKS.format(frames=frames, six_s=n, noise=noise, decoder=decoder, stages64=stages64)


# Run in the page when Generate (or a one-click example) is pressed, before the request: on a
# phone the view sits below the inputs, so bring it into sight; the view pauses drawing until the
# new motion's first stage (CPU for the page and the server); then GENERATE_JS leaves keys past
# the end of the motion out of the request (they stay on the timeline).
GENERATE_CLICK_JS = ("(...args) => { window.dispatchEvent(new CustomEvent('momadiff-generate-click'));"
                     " if (window.innerWidth < 760) { const v = document.getElementById('momadiff-view');"
                     " if (v) v.scrollIntoView({behavior: 'smooth', block: 'start'}); }"
                     f" return ({GENERATE_JS})(...args); }}")


def build_demo(pipe: Pipeline) -> gr.Blocks:
    """The whole page over a loaded pipeline (queue configured; call .launch() on it)."""
    # Imported here, not at the top: `python app.py` without a model should fail in a second.
    import gradio as gr

    from momadiff.ui.fields import FreeNumber, FreeSlider

    s = pipe.sampler
    max_frames = int(MAX_SECONDS * 20)
    gr.set_static_paths(static_paths())

    def generate(text: str, seconds: float, seed: float, keyframes_json: str, cfg_scale: float,
                 iterations: int, ddim_steps: int, root_path_json: str = "",
                 segments_json: str = "[]") -> Iterator[tuple[Any, ...]]:
        """Generate a motion from text and keyframes (JSON list of {frame, joints, fix_root}, or
        partial keys {frame, joints: {joint name: [x, y, z]}}) and an optional root path (JSON list
        of [frame, x, z] or [frame, x, z, heading_degrees]) and an optional timeline of prompts
        (segments_json: a JSON list of {text, start, end} in seconds; when not empty it replaces
        text, and the duration must reach the last end).
        Streams: stage bar HTML, the 3D view's message (JSON: joints in mm per stage, see
        momadiff/ui/viewdata.py), status, skeleton video, [motion.npy, motion.bvh, session.json],
        mannequin video (a new generation clears the videos; they are rendered on request)."""
        yield from stream.generate(pipe, text, seconds, seed, keyframes_json, cfg_scale, iterations, ddim_steps,
                                   root_path_json, segments_json)

    def compare(text: str, seconds: float, seed: float, keyframes_json: str, cfg_scale: float,
                iterations: int, ddim_steps: int, root_path_json: str = "",
                segments_json: str = "[]") -> Iterator[tuple[Any, ...]]:
        yield from compare_orders(pipe, text, seconds, seed, keyframes_json, cfg_scale, iterations, ddim_steps,
                                  root_path_json)

    private = {"api_visibility": "private"}
    # delete_cache: Gradio copies every output file into its own cache; prune that at the same age
    # as our request folders (momadiff.ui.outputs, MOMADIFF_OUTPUT_MAX_AGE).
    age = max(1, int(MAX_AGE_SECONDS))
    with gr.Blocks(title="MoMADiff: text to motion with keyframes", delete_cache=(min(1800, age), age)) as demo:
        gr.Markdown("### MoMADiff · text → 3D human motion with sparse keyframes "
                    "<span style='font-weight:normal;font-size:14px;color:#6b7280'>· place key poses on the "
                    "timeline (optional), generate, and watch keyframes come first and the gaps fill in</span>")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=340):
                with gr.Row(equal_height=True, elem_id="momadiff-promptrow"):
                    prompt = gr.Textbox(label="Text prompt", value=EXAMPLES[0], lines=1, max_lines=3, scale=4,
                                        elem_id="momadiff-prompt", placeholder="a person walks forward",
                                        min_width=180)
                    go = gr.Button("Generate", variant="primary", elem_id="momadiff-generate", scale=1,
                                   min_width=110)
                examples = gr.Dataset(components=[prompt], samples=[[e] for e in EXAMPLES],
                                      label="Examples (one click generates)", elem_id="momadiff-examples",
                                      samples_per_page=len(EXAMPLES))
                with gr.Row():
                    seconds = FreeSlider(MIN_SECONDS, MAX_SECONDS, value=DEFAULT_SECONDS, step=0.5,
                                         label="Duration (s)", elem_id="momadiff-seconds", scale=3, min_width=160)
                    # No precision=0: Gradio's rounding fails on a NaN sent to the API without a
                    # message; the pipeline checks the seed (a whole number >= 0) and says why
                    # in the status line (FreeNumber: Gradio does not refuse it first).
                    seed = FreeNumber(value=0, minimum=0, step=1, label="Seed", scale=1, min_width=90,
                                      elem_id="momadiff-seed")
                    dice = gr.Button("Random seed", scale=0, min_width=110, size="sm")
                timeline = gr.HTML(**timeline_kwargs(load_poses(), DEFAULT_SECONDS))
                notice = gr.Markdown("", elem_id="momadiff-notice")
                keys = gr.Textbox(value="[]", visible="hidden", elem_id=KEYS_ID, label="keys JSON")
                selected = gr.Textbox(value="", visible="hidden", elem_id=SELECTED_ID, label="selected key")
                # The root path of the /generate API (the studio's path drawing will write here).
                root_path = gr.Textbox(value="", visible="hidden", elem_id="momadiff-root-path",
                                       label="root path JSON")
                # The timeline's prompt segments as JSON (the studio's bars write it); [] = the prompt box.
                segments = gr.Textbox(value="[]", visible="hidden", elem_id="momadiff-segments",
                                      label="segments JSON")
                motion = gr.HTML(**carrier_kwargs(MOTION_ID, "momadiffViewQueue"))
                with gr.Accordion("Key poses from a motion", open=False):
                    with gr.Tab("Last generated motion"):
                        with gr.Row():
                            pin_frame = FreeSlider(0, max_frames - 1, value=0, step=1,
                                                   label="Frame (from 0)", scale=3)
                            pin_view = gr.Image(label="Pose at this frame", height=170, width=170,
                                                show_label=False, buttons=[], interactive=False,
                                                scale=0, min_width=170,
                                                elem_id="momadiff-pin-view")
                        pin_btn = gr.Button("📌 Pin this frame as a key")
                    with gr.Tab("BVH file"):
                        gr.Markdown(f"Skeletons the reader knows: {H.known_skeletons_text()}.")
                        bvh_file = gr.File(label="BVH file", file_types=[".bvh"], height=90)
                        bvh_state = gr.State(None)
                        with gr.Row():
                            bvh_frame = FreeSlider(0, 1, value=0, step=1, label="BVH frame (from 0)",
                                                   visible=False, scale=3)
                            bvh_view = gr.Image(label="Pose at this BVH frame", height=170, width=170,
                                                show_label=False, buttons=[], interactive=False,
                                                scale=0, min_width=170,
                                                elem_id="momadiff-bvh-view")
                        bvh_btn = gr.Button("Use BVH frame (selected key, or a new one)")
                with gr.Accordion("Advanced", open=False):
                    with gr.Row():
                        # The server's limits (pipeline.py) are the sliders' ranges: one source of truth.
                        cfg = FreeSlider(0, MAX_CFG_SCALE, value=s.cfg_scale, step=0.1, label="Guidance scale")
                        iters = FreeSlider(1, MAX_ITERATIONS, value=s.iterations, step=1,
                                          label="Transformer iterations")
                        ddim = FreeSlider(1, MAX_DDIM_STEPS, value=s.ddim_steps, step=1, label="DDIM steps")
                with gr.Accordion("Restore a session", open=False):
                    session_file = gr.File(label="session.json", file_types=[".json"], height=90)
            with gr.Column(scale=6, min_width=340):
                gr.HTML(**view_kwargs(), server_functions=[stream.view_stage])
                status = gr.Markdown("Ready.", elem_id="momadiff-status")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        gr.HTML(**stage_kwargs())
                        stagebar = gr.HTML(stage_bar_html([]), elem_id="momadiff-stages")
                    with gr.Column(scale=2, min_width=240):
                        with gr.Accordion("How it works", open=True, elem_id="momadiff-how"):
                            gr.Markdown(how_it_works(pipe))
                with gr.Accordion("Downloads and videos", open=True):
                    files = gr.File(label="Downloads", file_count="multiple", elem_id="momadiff-files",
                                    interactive=False)
                    with gr.Row():
                        render_btn = gr.Button("Render the videos and motion.glb", size="sm",
                                               elem_id="momadiff-render", scale=0, min_width=240)
                        render_msg = gr.Markdown("", elem_id="momadiff-render-msg")
                    with gr.Row():
                        video = gr.Video(label="Skeleton video", height=260, autoplay=True, loop=True,
                                         elem_id="momadiff-video", interactive=False)
                        mesh = gr.Video(label="Mannequin video", height=260, autoplay=True, loop=True,
                                        interactive=False, elem_id="momadiff-mesh")
                with gr.Accordion("Compare orders: keyframes first, random, left to right", open=False):
                    gr.Markdown("The same text, seed, keys and settings, generated three times with a "
                                "different order of filling the latents. Step through the stages side by side.")
                    compare_btn = gr.Button("Compare the three orders", size="sm", elem_id="momadiff-compare-go")
                    compare_box = gr.HTML(**carrier_kwargs(COMPARE_ID, "momadiffCompareQueue"))
                    gr.HTML(**compare_kwargs())

        # root_path and segments last: API callers that send the seven inputs from before them keep working.
        inputs = [prompt, seconds, seed, keys, cfg, iters, ddim, root_path, segments]
        render_evt = render_btn.click(stream.render_files, files, [video, mesh, files, render_msg], **private)
        # Status at index 2 and files at 4, where API callers have always found them.
        outputs = [stagebar, motion, status, video, files, mesh]
        # A new motion stops the rendering of the previous one's videos (they would land on it).
        # The render's own message goes with it (Generate already clears both videos).
        go.click(generate, inputs, outputs, api_name="generate", js=GENERATE_CLICK_JS, cancels=[render_evt])
        go.click(None, None, render_msg, js="() => ''", **private)
        examples.click(lambda ex: ex[0], examples, prompt, cancels=[render_evt], **private).then(
            generate, inputs, outputs, js=GENERATE_CLICK_JS, **private)
        examples.click(None, None, render_msg, js="() => ''", **private)
        compare_btn.click(compare, inputs, [compare_box], js=GENERATE_JS, **private)
        dice.click(H.random_seed, None, seed, **private)
        keys.change(None, [keys, seconds], None, js=REFRESH_JS)
        seconds.change(None, [keys, seconds], None, js=REFRESH_JS)
        seconds.release(H.on_duration, [seconds, keys], [seconds, notice], **private)
        for slider, label, lo, hi in ((cfg, "Guidance scale", 0, MAX_CFG_SCALE),
                                      (iters, "Transformer iterations", 1, MAX_ITERATIONS),
                                      (ddim, "DDIM steps", 1, MAX_DDIM_STEPS)):
            slider.release(H.on_range(label, lo, hi), slider, [slider, notice], **private)
        files.change(H.pin_range, files, [pin_frame, pin_view], **private)
        pin_frame.change(H.pin_preview, [files, pin_frame], pin_view, trigger_mode="always_last", **private)
        bvh_frame.change(H.bvh_preview, [bvh_state, bvh_frame], bvh_view, trigger_mode="always_last",
                         **private)
        pin_btn.click(H.pin_frame, [files, pin_frame, keys, seconds], [keys, notice], **private)
        bvh_file.change(H.load_bvh, bvh_file, [bvh_state, bvh_frame, bvh_view, notice], **private)
        bvh_btn.click(H.use_bvh_frame, [bvh_state, bvh_frame, selected, keys, seconds], [keys, notice],
                      **private)
        session_file.upload(H.load_session, session_file,
                            [prompt, seconds, seed, keys, cfg, iters, ddim, segments, notice], **private)
    demo.queue(default_concurrency_limit=1)
    return demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="MoMADiff demo app")
    p.add_argument("--model", default=os.environ.get("MOMADIFF_MODEL"),
                   help="model folder (default: $MOMADIFF_MODEL, else the bundled assets/model)")
    p.add_argument("--host", default=None, help="address to listen on (default: Gradio's, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860)")
    a = p.parse_args(argv)
    from momadiff.model.checkpoint import CheckpointError
    try:
        pipe = Pipeline.from_pretrained(a.model)
    except (CheckpointError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    H.warm_up(pipe)
    build_demo(pipe).launch(server_name=a.host, server_port=a.port, max_file_size=MAX_UPLOAD_BYTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
