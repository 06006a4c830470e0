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

from momadiff.pipeline import (MAX_CFG_SCALE, MAX_DDIM_STEPS, MAX_ITERATIONS, MAX_SECONDS,  # noqa: E402
                               MIN_SECONDS, Pipeline)
from momadiff.motion.skeleton import FPS  # noqa: E402
from momadiff.ui import handlers as H  # noqa: E402
from momadiff.ui.outputs import MAX_AGE_SECONDS  # noqa: E402
from momadiff.ui.poses import load_poses  # noqa: E402
from momadiff.ui.stagebar import stage_bar_html  # noqa: E402
from momadiff.ui.studio import (GENERATE_JS, KEYS_ID, REFRESH_JS, SELECTED_ID,  # noqa: E402
                                timeline_kwargs)

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
   a 6 s motion is {six_s} latents (the cells of the stage bar).
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

*Guidance scale* pushes the transformer towards the text (1 = no guidance); *iterations* is the
number of stages; *DDIM steps* is how carefully each latent is denoised.
"""


def how_it_works(pipe: Pipeline) -> str:
    """The explanation, with this model's frames per latent, kind of head noise and decoder."""
    frames = "every frame" if pipe.down == 1 else f"every {pipe.down} frames"
    noise = (" (the noise changes smoothly from one latent to the next, so neighbouring latents vary "
             "together rather than jittering)") if pipe.sampler.noise_corr > 0 else ""
    decoder = (" (it is told that generated latents are slightly off, unlike those of a real motion, "
               "so it smooths out what would be jitter)") if pipe.vae.config.noise_cond and pipe.sampler.decode_noise > 0 else ""
    return HOW_IT_WORKS.format(frames=frames, six_s=math.ceil(6 * FPS / pipe.down), noise=noise, decoder=decoder)


def build_demo(pipe: Pipeline) -> gr.Blocks:
    """The whole page over a loaded pipeline (queue configured; call .launch() on it)."""
    # Imported here, not at the top: `python app.py` without a model should fail in a second.
    import gradio as gr

    from momadiff.ui.fields import FreeNumber, FreeSlider

    s = pipe.sampler
    max_frames = int(MAX_SECONDS * 20)

    def generate(text: str, seconds: float, seed: float, keyframes_json: str, cfg_scale: float,
                 iterations: int, ddim_steps: int) -> Iterator[tuple[Any, ...]]:
        """Generate a motion from text and keyframes (JSON list of {frame, joints, fix_root}).
        Returns: stage bar, filmstrip, status, skeleton video,
        [motion.npy, motion.bvh, session.json, motion.glb]."""
        yield from H.generate(pipe, text, seconds, seed, keyframes_json, cfg_scale, iterations, ddim_steps)

    private = {"api_visibility": "private"}
    # delete_cache: Gradio copies every output file into its own cache; prune that at the same age
    # as our request folders (momadiff.ui.outputs, MOMADIFF_OUTPUT_MAX_AGE).
    age = max(1, int(MAX_AGE_SECONDS))
    with gr.Blocks(title="MoMADiff: text to motion with keyframes", delete_cache=(min(1800, age), age)) as demo:
        gr.Markdown("### MoMADiff · text → 3D human motion with sparse keyframes "
                    "<span style='font-weight:normal;font-size:14px;color:#6b7280'>· place key poses on the "
                    "timeline (optional), generate, and watch keyframes come first and the gaps fill in</span>")
        with gr.Row(equal_height=False):
            with gr.Column(scale=6):
                with gr.Row():
                    prompt = gr.Textbox(label="Text prompt", value=EXAMPLES[0], lines=1, max_lines=3, scale=3,
                                        elem_id="momadiff-prompt", placeholder="a person walks forward")
                    examples = gr.Dropdown(EXAMPLES, value=None, label="Examples", scale=2,
                                           elem_id="momadiff-examples")
                with gr.Row():
                    seconds = FreeSlider(MIN_SECONDS, MAX_SECONDS, value=DEFAULT_SECONDS, step=0.5,
                                        label="Duration (s)", elem_id="momadiff-seconds", scale=3)
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
            with gr.Column(scale=5):
                go = gr.Button("Generate", variant="primary", elem_id="momadiff-generate")
                status = gr.Markdown("Ready.", elem_id="momadiff-status")
                stagebar = gr.HTML(stage_bar_html([]), elem_id="momadiff-stages", js_on_load=None)
                strip = gr.Image(label="Decoded motion so far", height=112, show_label=True,
                                 elem_id="momadiff-filmstrip", interactive=False)
                video = gr.Video(label="Skeleton animation", height=280, autoplay=True, loop=True,
                                 elem_id="momadiff-video", interactive=False)
                files = gr.File(label="Downloads", file_count="multiple", elem_id="momadiff-files",
                                interactive=False)
                with gr.Accordion("Mesh: mannequin video and 3D view", open=True):
                    with gr.Row():
                        mesh = gr.Video(label=H.MESH_LABEL, height=260,
                                        autoplay=True, loop=True, interactive=False, elem_id="momadiff-mesh")
                        glb = gr.Model3D(label="3D view (drag to orbit; motion.glb is in the downloads)",
                                         height=260, elem_id="momadiff-glb")
                with gr.Accordion("How it works", open=False):
                    gr.Markdown(how_it_works(pipe))

        # always_last: a Generate pressed while the last mannequin renders queues the new one
        # (the default, "once", skipped it); the old mannequin is cleared at once, in the browser.
        go.click(None, None, mesh, js="() => null", **private)
        go.click(generate, [prompt, seconds, seed, keys, cfg, iters, ddim],
                 [stagebar, strip, status, video, files], api_name="generate", js=GENERATE_JS
                 ).then(H.glb_preview, files, glb, trigger_mode="always_last", **private
                        ).then(H.mesh_video, files, mesh, trigger_mode="always_last", **private)
        dice.click(H.random_seed, None, seed, **private)
        examples.input(lambda e: e or gr.update(), examples, prompt, **private)
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
                            [prompt, seconds, seed, keys, cfg, iters, ddim, notice], **private)
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
