// Home page: redraw "on air now" when one of the user's boxes changes. The server-sent events of
// /devices/_events say only which box changed; the list is fetched again, at most every 3 seconds.
(() => {
  "use strict";
  const box = document.getElementById("now-playing");
  if (!box || !window.EventSource || !window.fetch) return;
  let timer = null;
  const redraw = async () => {
    timer = null;
    try {
      const response = await fetch(box.dataset.src, { credentials: "same-origin" });
      if (response.ok) box.innerHTML = await response.text();
    } catch (_error) {
      // offline for a moment: the next change redraws it
    }
  };
  const events = new EventSource(box.dataset.events);
  events.addEventListener("devices", () => {
    if (timer === null) timer = setTimeout(redraw, 3000);
  });
})();
