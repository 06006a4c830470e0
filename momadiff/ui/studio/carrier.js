// gr.HTML js_on_load of a hidden "carrier": each value Python streams into it (a JSON message)
// is handed to window[props.queue] (the view's or the comparison's). Props are watched, so every
// streamed value arrives once and in order, unlike a .change hook that reads the latest value
// whenever it gets to run.
watch("value", () => {
  const m = props.value;
  if (typeof m !== "string" || !m) return;
  if (props.queue === "momadiffViewQueue" && window.momadiffNoGL) {
    // No 3D view: a finished generation asks for the videos instead.
    if (m.includes('"done":true')) { const b = document.querySelector("#momadiff-render"); if (b) b.click(); }
    return;
  }
  (window[props.queue] = window[props.queue] || []).push(m);
});
