// gr.HTML's js_on_load for the 3D view: load the view's ES modules (served from this folder as
// static files, three.js vendored beside them) and mount it. Messages that arrive before it is
// ready wait in window.momadiffViewQueue.
window.momadiffViewQueue = window.momadiffViewQueue || [];
const base = new URL(props.base, window.location.href).href;
import(base + "view.js")
  .then((m) => m.mount(element, { mannequinUrl: new URL(props.mannequin_url, window.location.href).href,
                                  exampleUrl: new URL(props.example_url, window.location.href).href,
                                  server: server }))
  .catch((e) => {
    const root = element.querySelector(".mv");
    root.dataset.gl = "error";
    window.momadiffNoGL = true;
    const msg = root.querySelector(".mv-nogl");
    msg.textContent = "The 3D view could not start (" + e + "). The skeleton video is rendered after each generation instead.";
    msg.hidden = false;
    window.dispatchEvent(new CustomEvent("momadiff-no-webgl"));
  });
