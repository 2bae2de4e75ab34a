// Emergency page: the tally of boxes that started playing each order, redrawn from the server-sent
// events of /emergency/_events (each event carries every tally, already worded for the reader).
(() => {
  "use strict";
  const table = document.querySelector("[data-tally-events]");
  if (!table || !window.EventSource) return;
  const events = new EventSource(table.dataset.tallyEvents);
  events.addEventListener("tally", (event) => {
    for (const tally of JSON.parse(event.data).tallies) {
      const cell = table.querySelector(`[data-tally="${tally.emergency_id}"]`);
      if (cell && cell.textContent !== tally.label) cell.textContent = tally.label;
    }
  });
})();
