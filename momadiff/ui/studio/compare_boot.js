// gr.HTML's js_on_load for the order comparison: load compare.js (an ES module beside this file).
window.momadiffCompareQueue = window.momadiffCompareQueue || [];
import(new URL(props.base, window.location.href).href + "compare.js")
  .then((m) => m.mount(element))
  .catch((e) => { const el = element.querySelector(".mc-error"); el.textContent = "The comparison view could not start (" + e + ")."; el.hidden = false; });
